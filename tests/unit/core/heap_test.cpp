// core/heap.h: after keep_freed_memory_in_heap(), a large block comes from the heap (not from a
// fresh mmap) and stays there once freed, ready for the next step's allocation.
#include "core/heap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace principia {
namespace {

TEST(Heap, LargeBlocksComeFromTheHeapAndAreNotReturnedToTheOs) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "the setting is glibc's; elsewhere it is a no-op";
#else
  core::keep_freed_memory_in_heap();
  const size_t big = size_t(64) << 20;  // far above glibc's default mmap threshold (128 KiB-32 MiB)
  const struct mallinfo2 before = mallinfo2();
  void* volatile block = std::malloc(big);
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, big);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblkhd, before.hblkhd) << "the block was mmapped";
  std::free(block);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_GE(after.arena, big) << "the heap was trimmed back to the OS";
  EXPECT_GE(after.fordblks, big) << "the freed block is not free heap space";
#endif
}

}  // namespace
}  // namespace principia
