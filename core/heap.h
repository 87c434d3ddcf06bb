// Allocator settings for a process that trains or generates on the CPU.
#pragma once

namespace principia::core {

// A CPU training step allocates and frees the same large tensors every step (activations, the
// [tokens, vocab] logits and their gradient). glibc serves each block over its mmap threshold
// with a fresh mmap and unmaps it on free, and trims the heap top back to the OS, so every step
// faults those pages in again and the kernel zeroes them: about a fifth of a step on the 30M
// benchmark model (bench/RESULTS.md, "Model (CPU)"). This keeps freed memory in the heap for
// reuse instead: peak memory is unchanged, but it is not returned to the OS until exit.
// A no-op where the C library is not glibc. Call once, first thing in main().
void keep_freed_memory_in_heap();

}  // namespace principia::core
