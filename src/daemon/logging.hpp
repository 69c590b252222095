// mtastsd's log (log_level, log_target; mtastsd.conf(5)): spdlog's default logger,
// named "mtastsd", with one target chosen by log_target:
//   stderr   "TIME LEVEL message"; when stderr is the journal (systemd's JOURNAL_STREAM
//            names it, systemd.exec(5)) "<N>message" instead: journald adds the time
//            and reads the sd-daemon(3) prefix N as the line's syslog priority
//   file     "TIME LEVEL message" in log_file, reopened at its path by reopen_log_files()
//   syslog   syslog(3): ident "mtastsd", LOG_PID, facility syslog_facility
//   journal  journald's native protocol (sd_journal_send(3)), SYSLOG_IDENTIFIER=mtastsd
// Where the level travels as a priority (journal stream, syslog, journal) the text is the
// message alone. Every target is thread-safe: the report sender's worker thread logs too.
// set_up_logging and reopen_log_files are called from one thread (main, then the loop).
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include "daemon/config.hpp"

namespace mtastsd::daemon {

// Sets the level (level_override, the command line's --log-level, wins when not empty)
// and the target. Called at start-up, and again with a reloaded configuration (SIGHUP):
// the level changes at once; a changed target replaces the current one only once it is
// open, otherwise the current one stays and the error says why (e.g. "cannot open log
// file /var/log/mtastsd/mtastsd.log: Permission denied"). An unchanged target is kept as
// it is. Before the first successful call spdlog's default logger is left untouched.
std::expected<void, std::string> set_up_logging(const LogSettings& settings, std::string_view level_override = {});

// SIGUSR1: with log_target = "file", open log_file anew (logrotate has renamed the old
// one) and say so in the new file; a failure is logged and the old file stays in use.
// Other targets: nothing to do.
void reopen_log_files();

// Whether stderr is the journal: JOURNAL_STREAM holds "DEVICE:INODE" (decimal) of the
// stream systemd connected, which must still be what stderr is (a redirect by a shell,
// or a child that inherited the variable, would not be; systemd.exec(5)).
bool is_journal_stream(std::string_view journal_stream, std::uint64_t device, std::uint64_t inode);

}  // namespace mtastsd::daemon
