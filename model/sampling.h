// The pieces of sampling that the static batch (generation.cpp) and the paged engine
// (paged_generation.cpp) share, so both draw the same token from the same logits and uniform.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "model/generation.h"
#include "model/model_config.h"

namespace principia::model {

// principia::Error for bad options / empty prompts / ids outside the vocabulary.
void check_sampling_options(const SamplingOptions& options);
void check_requests(const std::vector<GenerationRequest>& requests, int64_t vocab_size);

// One token per row from fp32 logits [B, V]; `u` [B] uniforms in [0, 1) (undefined when greedy),
// each row's token a function of its own logits and uniform only. Returns {ids, logp}.
std::pair<torch::Tensor, torch::Tensor> sample_step(const torch::Tensor& logits,
                                                    const SamplingOptions& options,
                                                    const torch::Tensor& u);

// The EOS ids a generation stops on: options.eos_ids plus the config's when use_config_eos.
std::vector<int64_t> stop_token_ids(const SamplingOptions& options,
                                    const TransformerConfig& config);

// After `g.ids` grew by one token: true (and g.finish set) when it stops there: an EOS id, a
// stop sequence, or the caller's stop_check for `row`.
bool finish_check(Generation& g, size_t row, const std::vector<int64_t>& eos,
                  const SamplingOptions& options);

// A row's next uniform from its own stream, strictly below 1 after rounding to float so the
// inverse-CDF target stays inside the CDF.
inline float next_uniform(Rng& rng) {
  return std::min(static_cast<float>(rng.uniform()), 0.99999994f);
}

bool ends_with(const std::vector<int64_t>& ids, const std::vector<int64_t>& suffix);

}  // namespace principia::model
