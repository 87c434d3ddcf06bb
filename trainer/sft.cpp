#include "trainer/sft.h"

#include <cmath>

#include "model/transformer.h"
#include "trainer/sequences.h"
#include "trainer/zero3.h"

namespace principia::trainer {

SftBatchResult sft_update(model::Transformer& model, AdamW& optimizer, const JudgeFormat& format,
                          const std::vector<data::Record>& items,
                          const std::vector<int64_t>& item_indices, int64_t step, uint64_t seed,
                          double lr, double grad_clip, int64_t micro_batch_tokens, Dist& dist,
                          Dist::GradReducer& grads) {
  std::vector<Sequence> seqs;
  int64_t total_tokens = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    // Same permutation stream as rollouts but a separate key: SFT sees every order too.
    auto perm = sample_permutation(seed ^ 0x5f7ULL, step, item_indices[i], 0, items[i].size());
    auto rendered = format.render(items[i], perm);
    auto p = format.prompt_ids(rendered);
    auto t = format.target_ids(items[i], rendered, sft_reasoning(items[i], rendered));
    Sequence s;
    s.prompt.assign(p.begin(), p.end());
    s.response.assign(t.begin(), t.end());
    total_tokens += int64_t(t.size());
    seqs.push_back(std::move(s));
  }
  // Token mean over the global batch: every rank divides by the same total.
  total_tokens = int64_t(dist.all_reduce(double(total_tokens), ReduceOp::kSum));
  std::vector<size_t> order(seqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;

  optimizer.zero_grad();
  double loss_sum = 0;
  const auto mbs = micro_batches(seqs, order, micro_batch_tokens);
  const size_t passes = grads.passes(mbs.size());  // see grpo_step: reduction during backward
  for (size_t k = 0; k < passes; ++k) {
    grads.before_backward(k, passes);
    if (k < mbs.size()) {
      std::vector<const Sequence*> rows;
      for (size_t n : mbs[k]) rows.push_back(&seqs[n]);
      auto lp = response_logprobs(model, rows, 1.0, false);
      // Token mean over the whole batch: divide by the global token count, not per micro-batch.
      auto loss = -(lp.logp * lp.mask).sum() / double(std::max<int64_t>(1, total_tokens));
      loss.backward();
      loss_sum += loss.item<double>();
    } else if (grads.needs_idle_pass()) {
      idle_pass(model);
    }
    grads.after_backward(k, passes);
  }
  loss_sum = dist.all_reduce(loss_sum, ReduceOp::kSum);
  SftBatchResult r;
  r.loss = loss_sum;
  r.tokens = total_tokens;
  GradNorm gn = clip_grad_norm(optimizer.params(), grad_clip, grads.sharded() ? &dist : nullptr);
  r.grad_norm = gn.norm;
  if (!gn.finite || !std::isfinite(loss_sum)) {
    r.skipped = true;
    optimizer.zero_grad();
    return r;
  }
  dist.optimizer_step(optimizer, lr);
  grads.after_step();
  optimizer.zero_grad();
  return r;
}

}  // namespace principia::trainer
