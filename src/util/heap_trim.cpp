// malloc_trim where glibc has it; see the header.
#include "util/heap_trim.hpp"

#include <cstdlib>  // defines __GLIBC__ on glibc (through <features.h>)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mtastsd::util {

void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace mtastsd::util
