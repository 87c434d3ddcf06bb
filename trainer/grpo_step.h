// One GRPO step (DESIGN.md §"One GRPO step"), top to bottom in grpo_step.cpp:
// render -> rollout -> reward (-> dynamic sampling) -> advantage -> reference -> policy update.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/config.h"
#include "data/loader.h"
#include "data/record.h"
#include "rewards/registry.h"
#include "trainer/core_algos.h"
#include "trainer/dist.h"
#include "trainer/judge_task.h"
#include "trainer/metrics.h"
#include "trainer/optimizer.h"

namespace principia::model {
class Transformer;
}

namespace principia::trainer {

// What the update computed on one micro-batch: the inputs of the loss, for observers (a test
// recomputes the loss from them with the registries' pure functions).
struct MicroBatchView {
  int64_t epoch = 0, mini_batch = 0;
  std::vector<size_t> rows;  // this rank's sequence indices
  // [B, R]: the policy's log-probs now (detached), the old policy's, the reference's (undefined
  // without KL in the loss), the sampler's, the entropy (undefined unless computed); the
  // response mask, the mask the loss uses (truncated rows zeroed under
  // algorithm.mask_truncated); advantages [B].
  at::Tensor logp, old_logp, ref_logp, sampler_logp, entropy, mask, loss_mask, advantages;
  LossNorm norm;  // the mini-batch's global normalisers
};

// Observers a caller installs (tests; train_run's fault injection). Empty in a normal run.
struct StepHooks {
  std::function<void(int64_t step, model::Transformer& policy)> step_begin;
  // rewards: the composite totals [groups, G] of the whole batch; shaped: what the estimator
  // read (KL folded in when configured).
  std::function<void(int64_t step, const at::Tensor& rewards, const at::Tensor& shaped,
                     const Advantages&)>
      advantages;
  // Before backward; may replace `loss` (the reliability tests make it NaN).
  std::function<void(int64_t step, const MicroBatchView&, at::Tensor& loss)> micro_batch_loss;
  std::function<void(int64_t step, model::Transformer& policy, const StepMetrics&)> step_end;
};

struct GrpoContext {
  const config::Config& cfg;
  const JudgeFormat& format;
  const rewards::CompositeReward& reward;
  model::Transformer& policy;
  model::Transformer* reference;  // frozen; nullptr when algorithm.kl_coef == 0
  AdamW& optimizer;
  Dist& dist;                           // no-op at world size 1
  Dist::GradReducer& grads;             // reduces the policy's gradients during the backward passes
  int64_t total_steps;                  // for the LR schedule
  const AdvantageEstimator& advantage;  // algorithm.advantage, resolved once
  const PolicyLossSpec& loss;           // algorithm.policy_loss
  // Dynamic sampling: this rank's share of the next batch, when a step needs more groups.
  std::function<data::Batch()> next_batch;
  StepHooks hooks;
  int64_t bad_steps_in_a_row = 0;  // non-finite steps skipped (reset by a good one)
};

// Runs one step on `items` (this rank's share of the batch; `item_indices` are their dataset
// indices, used to seed the per-sample permutations). Every rank holds the same number of items;
// advantages, loss normalisers, gradients and metrics are global across ranks, so W ranks with
// B/W items each take the step one rank would take with all B. Returns the step's metrics
// (identical on every rank except time/*).
StepMetrics grpo_step(GrpoContext& ctx, const std::vector<data::Record>& items,
                      const std::vector<int64_t>& item_indices, int64_t step);

}  // namespace principia::trainer
