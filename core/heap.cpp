#include "core/heap.h"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace principia::core {

void keep_freed_memory_in_heap() {
#if defined(__GLIBC__)
  // Large blocks come from the heap, not from mmap (glibc still falls back to mmap when the heap
  // cannot grow), and the heap top is never trimmed.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, -1);  // glibc compares as unsigned: never trim
#endif
}

}  // namespace principia::core
