// Prompt + response sequences as the policy update sees them: per-token log-probs of the
// response tokens under a model, micro-batches by token budget.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace principia::model {
class Transformer;
}

namespace principia::trainer {

struct Sequence {
  std::vector<int64_t> prompt;    // token ids the model read
  std::vector<int64_t> response;  // token ids it produced (the stop token included)
  int64_t length() const { return int64_t(prompt.size() + response.size()); }
};

// Response-token log-probs laid out [B, R] (R = the longest response in the batch), with
// mask = 1 on real response tokens. entropy is defined when requested.
struct ResponseLogprobs {
  torch::Tensor logp;
  torch::Tensor entropy;
  torch::Tensor mask;
};

// One forward pass over right-padded [prompt | response] rows; position t's hidden state
// predicts token t+1, so response token j of row b is scored at position len(prompt_b) - 1 + j.
// Only those positions go through the output projection (chunked, model/token_logprobs.h).
// Differentiable when grad mode is on.
ResponseLogprobs response_logprobs(model::Transformer& model, const std::vector<const Sequence*>& rows,
                                   double temperature, bool with_entropy);

// The mask alone (same layout), without running the model.
torch::Tensor response_mask(const std::vector<const Sequence*>& rows);

// Splits `order` (indices into seqs) into consecutive micro-batches whose padded size
// (rows × longest row) stays within token_budget; a row longer than the budget goes alone.
std::vector<std::vector<size_t>> micro_batches(const std::vector<Sequence>& seqs,
                                               const std::vector<size_t>& order, int64_t token_budget);

}  // namespace principia::trainer
