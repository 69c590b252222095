// Gives the heap's free pages back to the operating system.
// glibc keeps memory freed by a burst of work (thousands of concurrent TLS
// fetches: about 95 KiB each, bench/README.md) in its arenas, so RSS stays at the
// burst's peak; malloc_trim(0) returns every free page, not only the top of the
// heap. A no-op with other C libraries. Costs a walk of the arenas (milliseconds
// after a large burst): call it after bursts, not per request.
#pragma once

namespace mtastsd::util {

void release_free_heap();

}  // namespace mtastsd::util
