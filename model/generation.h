// Batched sampling for rollouts and serving: prompts of different lengths (left-padded into one
// preallocated KV cache), temperature / top-k / top-p, one seed per sequence, stop on EOS, on
// token-id stop sequences or on a caller's check (e.g. decoded stop strings), max_new_tokens.
//
// Reproducibility: row r draws its uniforms from its own Rng(seed_r), one per step, and samples
// by inverse CDF on the filtered distribution, so a sequence depends on its own prompt and seed,
// not on which other sequences share the batch (up to floating-point differences of batched
// kernels).
//
// Host syncs: one small device->host copy of the new token ids per step (EOS/stop checks);
// log-probs stay on the device until the end.
//
// No LibTorch in this header: Transformer is only declared.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace principia::model {

class Transformer;

enum class FinishReason { kEos, kStop, kLength };
const char* finish_reason_name(FinishReason r);  // "eos" | "stop" | "length"

struct SamplingOptions {
  int64_t max_new_tokens = 256;
  bool greedy = false;       // argmax; temperature/top-k/top-p ignored
  double temperature = 1.0;  // > 0
  double top_p = 1.0;        // (0, 1]; 1 = off
  int64_t top_k = 0;         // 0 = off
  // Stop tokens. When use_config_eos, the model config's eos ids are added.
  std::vector<int64_t> eos_ids;
  bool use_config_eos = true;
  // Stop when the generated ids end with any of these sequences (finish reason "stop").
  std::vector<std::vector<int64_t>> stop_sequences;
  // Optional: called after each new token of a running row with everything it generated so far;
  // return true to stop it ("stop"). Use it to look for stop strings in decoded text.
  std::function<bool(size_t row, const std::vector<int64_t>& generated)> stop_check;
};

struct GenerationRequest {
  std::vector<int64_t> prompt;  // token ids, non-empty
  uint64_t seed = 0;
};

struct Generation {
  std::vector<int64_t> ids;     // generated ids (the EOS / stop tokens included when hit)
  // log p(id) under the distribution actually sampled from (after temperature, top-k, top-p);
  // in greedy mode, the model's log-softmax at temperature 1.
  std::vector<float> logprobs;
  FinishReason finish = FinishReason::kLength;
};

// Generates for every request in one batch. Runs without autograd. principia::Error for empty
// prompts, ids outside the vocabulary or bad options.
std::vector<Generation> generate(Transformer& model, const std::vector<GenerationRequest>& requests,
                                 const SamplingOptions& options);

}  // namespace principia::model
