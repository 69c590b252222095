// The open files limit of the benchmark tools: every connection is a descriptor,
// and a run of 512 connections (plus the process's own) nears the usual soft limit
// of 1024.
#pragma once

namespace mtastsd::bench {

// Raise the soft RLIMIT_NOFILE to the hard one; left unchanged if that fails.
void raise_open_files_limit();

}  // namespace mtastsd::bench
