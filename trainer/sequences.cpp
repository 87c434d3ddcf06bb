#include "trainer/sequences.h"

#include <algorithm>

#include "model/token_logprobs.h"
#include "model/transformer.h"

namespace principia::trainer {

torch::Tensor response_mask(const std::vector<const Sequence*>& rows) {
  int64_t R = 1;
  for (const auto* s : rows) R = std::max<int64_t>(R, int64_t(s->response.size()));
  auto mask = torch::zeros({int64_t(rows.size()), R}, torch::kFloat32);
  for (size_t b = 0; b < rows.size(); ++b)
    if (!rows[b]->response.empty()) mask[int64_t(b)].narrow(0, 0, int64_t(rows[b]->response.size())).fill_(1);
  return mask;
}

ResponseLogprobs response_logprobs(model::Transformer& model, const std::vector<const Sequence*>& rows,
                                   double temperature, bool with_entropy) {
  const int64_t B = int64_t(rows.size());
  int64_t T = 1, R = 1;
  for (const auto* s : rows) {
    T = std::max(T, s->length());
    R = std::max<int64_t>(R, int64_t(s->response.size()));
  }
  std::vector<int64_t> ids(size_t(B * T), 0), pos(size_t(B * R), 0), tgt(size_t(B * R), 0);
  for (int64_t b = 0; b < B; ++b) {
    const Sequence& s = *rows[size_t(b)];
    std::copy(s.prompt.begin(), s.prompt.end(), ids.begin() + b * T);
    std::copy(s.response.begin(), s.response.end(), ids.begin() + b * T + int64_t(s.prompt.size()));
    for (size_t j = 0; j < s.response.size(); ++j) {
      pos[size_t(b * R) + j] = int64_t(s.prompt.size()) - 1 + int64_t(j);
      tgt[size_t(b * R) + j] = s.response[j];
    }
  }
  // copy = true: on CPU `.to` would alias these vectors, and autograd keeps the gather indices
  // alive until backward, long after this function returns.
  auto device = model.device();
  auto to_device = [&](std::vector<int64_t>& v, int64_t rows, int64_t cols) {
    return torch::from_blob(v.data(), {rows, cols}, torch::kInt64).to(device, false, true);
  };
  auto ids_t = to_device(ids, B, T);
  auto pos_t = to_device(pos, B, R);
  auto tgt_t = to_device(tgt, B, R);

  torch::Tensor hidden = model.hidden_states(ids_t);  // [B, T, H]; right padding needs no mask
  const int64_t H = hidden.size(2);
  torch::Tensor picked = hidden.gather(1, pos_t.unsqueeze(-1).expand({B, R, H}));  // [B, R, H]
  auto out = model::token_logprobs(picked, model.head_weight(), tgt_t, 1024, temperature, with_entropy);
  return {out.logprobs, out.entropy, response_mask(rows).to(device)};
}

std::vector<std::vector<size_t>> micro_batches(const std::vector<Sequence>& seqs,
                                               const std::vector<size_t>& order, int64_t token_budget) {
  std::vector<std::vector<size_t>> out;
  std::vector<size_t> cur;
  int64_t longest = 0;
  for (size_t i : order) {
    int64_t len = seqs[i].length();
    int64_t new_longest = std::max(longest, len);
    if (!cur.empty() && new_longest * int64_t(cur.size() + 1) > token_budget) {
      out.push_back(std::move(cur));
      cur.clear();
      new_longest = len;
    }
    cur.push_back(i);
    longest = new_longest;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace principia::trainer
