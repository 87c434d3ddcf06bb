// Supervised warm-start: teacher forcing on gold judgments with the loss on assistant tokens
// only. Labels follow the Hugging Face convention: aligned with input_ids, −100 where no loss
// is taken (prompt, padding), and the loss shifts them (logits at t predict labels at t + 1).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace principia::trainer {

inline constexpr int64_t kIgnoreIndex = -100;

struct SftExample {
  std::vector<int64_t> input_ids;  // prompt ++ target
  std::vector<int64_t> labels;     // −100 × |prompt| ++ target
  bool truncated = false;          // target cut to fit max_len
};

// prompt_ids: the rendered chat prompt up to and including the assistant header;
// target_ids: the assistant's answer (with its end-of-turn token). When the total exceeds
// max_len (> 0), the target is cut at the end; a prompt that leaves no room for one target
// token throws principia::Error.
SftExample build_sft_example(const std::vector<int64_t>& prompt_ids,
                             const std::vector<int64_t>& target_ids, int64_t max_len = 0);

struct SftBatch {
  at::Tensor input_ids;       // [B, T] int64, right-padded with pad_id
  at::Tensor labels;          // [B, T] int64, −100 on padding
  at::Tensor attention_mask;  // [B, T] int64, 1 on real tokens
};
SftBatch collate_sft(const std::vector<SftExample>& examples, int64_t pad_id);

// Tokens that carry loss after the shift: Σ [labels[:, 1:] ≠ −100]. Sum over micro-batches
// (and ranks) for the global count that sft_loss divides by.
int64_t count_sft_tokens(const at::Tensor& labels);

// Mean next-token cross-entropy over assistant tokens, normalised by the GLOBAL count:
//   loss = Σ_{b,t: labels[b,t+1] ≠ −100} −log softmax(logits[b,t])[labels[b,t+1]] / global_tokens
// logits [B, T, V] (any float dtype; computed in fp32), labels [B, T]. Micro-batch losses with
// the same global_tokens add up to the loss of the whole batch.
at::Tensor sft_loss(const at::Tensor& logits, const at::Tensor& labels, double global_tokens);

}  // namespace principia::trainer
