// Batched sampling for rollouts and serving: prompts of different lengths (left-padded into one
// preallocated KV cache), temperature / top-k / top-p, one seed per sequence, stop on EOS, on
// token-id stop sequences or on a caller's check (e.g. decoded stop strings), max_new_tokens.
//
// Reproducibility: row r draws its uniforms from its own Rng(seed_r), one per step, and samples
// by inverse CDF on the filtered distribution, so a sequence depends on its own prompt and seed,
// not on which other sequences share the batch (up to floating-point differences of batched
// kernels).
//
// Decoding steps after the prompt run eagerly (attention over the cache's filled part) or, on
// CUDA, as one captured CUDA graph per call (Transformer::decode_step: static shapes, the slot
// a device tensor), replayed each step: per step the host writes the step's inputs (token,
// position, slot, uniforms) into fixed buffers and launches one graph instead of a few hundred
// kernels. The graph is captured per generate() call, for that call's batch and capacity.
//
// Host syncs: every `sync_every` steps (16 on CUDA, 1 on the CPU, where it costs nothing) one
// small device->host copy of the new token ids (EOS/stop checks) and one upload of the next
// chunk's uniforms; none in between. Log-probs stay on the device until the end. Rows that
// stop inside a chunk run on to its end and those tokens are dropped: the result does not
// depend on the chunk length.
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

// How decoding steps run. kAuto: a CUDA graph on a CUDA device (if capture fails, the same
// static step without the graph, with a warning), eager on the CPU. kStatic: the graph's
// static-shape step run without capture (any device; tests compare it with kEager). kGraph: a
// CUDA graph, or principia::Error. kEager: attention over the filled cache, no graph.
enum class DecodeMode { kAuto, kEager, kStatic, kGraph };

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
  DecodeMode decode_mode = DecodeMode::kAuto;
  int64_t sync_every = 0;  // steps between the host's stop checks; 0 = 16 on CUDA, 1 on the CPU
};

struct GenerationRequest {
  std::vector<int64_t> prompt;  // token ids, non-empty
  uint64_t seed = 0;
  int64_t max_new_tokens = -1;  // this request's limit, <= the options' (-1: the options')
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

// generate() over at most `max_batch` requests at a time, in order (0 = all in one call): the
// KV cache holds max_batch rows instead of all of them. The same generations as one call (up
// to floating-point differences of batched kernels), since every row has its own seed.
std::vector<Generation> generate_in_batches(Transformer& model, const std::vector<GenerationRequest>& requests,
                                            const SamplingOptions& options, int64_t max_batch);

}  // namespace principia::model
