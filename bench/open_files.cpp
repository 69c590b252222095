// Raising the open files limit; see the header.
#include "open_files.hpp"

#include <sys/resource.h>

namespace mtastsd::bench {

void raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace mtastsd::bench
