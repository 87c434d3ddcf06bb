#include "trainer/sft_loss.h"

#include <torch/torch.h>

#include <sstream>

#include "core/error.h"

namespace principia::trainer {

SftExample build_sft_example(const std::vector<int64_t>& prompt_ids,
                             const std::vector<int64_t>& target_ids, int64_t max_len) {
  if (target_ids.empty()) throw Error("sft: empty target (no assistant tokens to learn)");
  size_t keep = target_ids.size();
  SftExample ex;
  if (max_len > 0 && int64_t(prompt_ids.size() + keep) > max_len) {
    if (int64_t(prompt_ids.size()) >= max_len)
      throw Error("sft: prompt of " + std::to_string(prompt_ids.size()) +
                  " tokens leaves no room for the answer within " + std::to_string(max_len) +
                  " tokens");
    keep = size_t(max_len) - prompt_ids.size();
    ex.truncated = true;
  }
  ex.input_ids = prompt_ids;
  ex.input_ids.insert(ex.input_ids.end(), target_ids.begin(), target_ids.begin() + keep);
  ex.labels.assign(prompt_ids.size(), kIgnoreIndex);
  ex.labels.insert(ex.labels.end(), target_ids.begin(), target_ids.begin() + keep);
  return ex;
}

SftBatch collate_sft(const std::vector<SftExample>& examples, int64_t pad_id) {
  if (examples.empty()) throw Error("sft: empty batch");
  size_t T = 0;
  for (const auto& e : examples) T = std::max(T, e.input_ids.size());
  const int64_t B = int64_t(examples.size());
  SftBatch b;
  b.input_ids = torch::full({B, int64_t(T)}, pad_id, torch::kLong);
  b.labels = torch::full({B, int64_t(T)}, kIgnoreIndex, torch::kLong);
  b.attention_mask = torch::zeros({B, int64_t(T)}, torch::kLong);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto labels = b.labels.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const auto& e = examples[size_t(i)];
    if (e.labels.size() != e.input_ids.size()) throw Error("sft: labels and input_ids differ in length");
    for (size_t t = 0; t < e.input_ids.size(); ++t) {
      ids[i][int64_t(t)] = e.input_ids[t];
      labels[i][int64_t(t)] = e.labels[t];
      mask[i][int64_t(t)] = 1;
    }
  }
  return b;
}

int64_t count_sft_tokens(const at::Tensor& labels) {
  if (labels.dim() != 2) throw Error("count_sft_tokens: labels must be [B, T]");
  return labels.slice(1, 1).ne(kIgnoreIndex).sum().item<int64_t>();
}

at::Tensor sft_loss(const at::Tensor& logits, const at::Tensor& labels, double global_tokens) {
  if (logits.dim() != 3 || labels.dim() != 2 || logits.size(0) != labels.size(0) ||
      logits.size(1) != labels.size(1)) {
    std::ostringstream os;
    os << "sft_loss: logits " << logits.sizes() << " must be labels " << labels.sizes() << " + [V]";
    throw Error(os.str());
  }
  if (!(global_tokens > 0)) throw Error("sft_loss: global token count must be > 0");
  const int64_t V = logits.size(2);
  at::Tensor z = logits.slice(1, 0, -1).to(torch::kFloat).reshape({-1, V});
  at::Tensor y = labels.slice(1, 1).reshape({-1});
  at::Tensor nll = torch::nn::functional::cross_entropy(
      z, y,
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex).reduction(
          torch::kSum));
  return nll / global_tokens;
}

}  // namespace principia::trainer
