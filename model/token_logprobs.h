// Per-token log-probabilities (and entropies) of given targets, computed from final hidden
// states and the output projection in chunks of positions, so the full [N, V] logits are never
// held at once. For a 150k vocabulary and 16k tokens that is the difference between 10 GB of
// fp32 logits (plus as much again for their gradient) and chunk x V.
//
// Memory: when all N x V fp32 logits fit in keep_logits_bytes (default 256 MiB) forward keeps
// them and backward skips the matmul; otherwise forward keeps nothing but its inputs and
// backward recomputes each chunk's logits (one extra [chunk, H] x [H, V] matmul per chunk).
// Either way backward turns them into the logit gradient (softmax-based, closed form) chunk by
// chunk and accumulates into the hidden and weight gradients, so peak extra memory is
// O(chunk x V) beyond the kept logits.
#pragma once

#include <torch/torch.h>

namespace principia::model {

struct TokenLogprobs {
  torch::Tensor logprobs;  // [...] fp32, log softmax(logits / temperature)[target]
  torch::Tensor entropy;   // [...] fp32, entropy of softmax(logits / temperature); undefined
                           // unless requested
};

// hidden: [..., H] (any leading shape, e.g. [B, T, H]), weight: [V, H] (Transformer::head_weight),
// targets: [...] int64 matching hidden's leading shape. Differentiable w.r.t. hidden and weight
// (the entropy too). Logits are computed in the weight's dtype, softmax in fp32.
// Targets outside [0, V) are not allowed (mask padding positions yourself: pass any valid id
// there and ignore the result).
TokenLogprobs token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight,
                             const torch::Tensor& targets, int64_t chunk = 1024,
                             double temperature = 1.0, bool with_entropy = false,
                             int64_t keep_logits_bytes = int64_t(256) << 20);

}  // namespace principia::model
