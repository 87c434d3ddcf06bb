// Continuous batching over a paged KV cache with prefix sharing: the rollout engine.
//
// Every request is queued. Up to `max_num_seqs` sequences run together; each scheduler step
// (1) admits waiting sequences while their blocks fit the pool and the step's prompt tokens
// stay under `max_batched_tokens`, and computes their prompts in one forward (the part not
// already in the prefix cache), (2) runs one decoding forward over every running sequence.
// A sequence that stops frees its slot and its blocks at once and the next waiting one joins.
// When a running sequence needs a block and the pool has none, the youngest running sequence
// is preempted: its blocks are freed and it waits at the head of the queue, to be recomputed
// (prompt and everything it generated) when blocks free up; its samples do not change.
//
// Results per row do not depend on the batch: row r samples from its own Rng(seed_r), one
// uniform per token, with the same sample_step as generate(), so a sequence's tokens are a
// function of its prompt, its seed and the weights (up to floating-point differences of
// batched kernels), whatever max_num_seqs, the pool size or the order of requests.
//
// The KV pool is allocated per call and the prefix cache starts empty (the weights may have
// changed since the last call). No LibTorch in this header.
#pragma once

#include <cstdint>
#include <vector>

#include "model/generation.h"

namespace principia::model {

class Transformer;

struct EngineOptions {
  int64_t max_num_seqs = 64;  // sequences decoding together
  int64_t block_size = 16;    // tokens per KV block
  // Byte budget of the KV pool in GiB; 0 = room for max_num_seqs sequences of the longest
  // prompt plus max_new_tokens (no preemption then). Too small for one such sequence: Error.
  double kv_cache_gib = 0;
  bool prefix_caching = true;
  int64_t max_batched_tokens = 4096;  // prompt tokens (padded) per prefill forward; >= 1
};

struct EngineStats {
  int64_t sequences = 0;
  int64_t prompt_tokens = 0;         // every request's prompt
  int64_t prompt_tokens_cached = 0;  // of those, found in the prefix cache instead of computed
  int64_t preemptions = 0;
  int64_t peak_running = 0;  // the most sequences decoding together
  int64_t prefill_forwards = 0, decode_forwards = 0;
  int64_t num_blocks = 0;  // pool size, scratch block included
  int64_t peak_blocks_used = 0;
  double prefix_hit_rate() const {
    return prompt_tokens > 0 ? double(prompt_tokens_cached) / double(prompt_tokens) : 0;
  }
};

// Bytes of one KV block: keys and values of every layer.
double kv_block_bytes(const Transformer& model, int64_t block_size);

// The same contract as generate() (generation.h): one Generation per request, in order, with
// per-token log-probs. options.decode_mode and sync_every do not apply (the host schedules
// every step). principia::Error for bad options, prompts or an engine that cannot hold one
// sequence.
std::vector<Generation> generate_paged(Transformer& model,
                                       const std::vector<GenerationRequest>& requests,
                                       const SamplingOptions& options, const EngineOptions& engine,
                                       EngineStats* stats = nullptr);

}  // namespace principia::model
