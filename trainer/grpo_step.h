// One GRPO step (DESIGN.md §"One GRPO step"), top to bottom in grpo_step.cpp:
// render -> rollout -> reward -> advantage -> reference -> clipped policy update.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"
#include "data/record.h"
#include "rewards/registry.h"
#include "trainer/dist.h"
#include "trainer/judge_task.h"
#include "trainer/metrics.h"
#include "trainer/optimizer.h"

namespace principia::model {
class Transformer;
}

namespace principia::trainer {

struct GrpoContext {
  const config::Config& cfg;
  const JudgeFormat& format;
  const rewards::CompositeReward& reward;
  model::Transformer& policy;
  model::Transformer* reference;  // frozen; nullptr when algorithm.kl_coef == 0
  AdamW& optimizer;
  Dist& dist;                     // no-op at world size 1
  Dist::GradReducer& grads;       // all-reduces the policy's gradients during the last backward
  int64_t total_steps;            // for the LR schedule
  int64_t bad_steps_in_a_row = 0; // non-finite steps skipped (reset by a good one)
  // Fault injection for the reliability tests: steps (0-based) whose loss is made NaN.
  // Set from $PRINCIPIA_FAULT_NONFINITE_STEPS ("3,4"); empty in normal runs.
  std::vector<int64_t> inject_nonfinite_steps;
};

// Runs one step on `items` (this rank's share of the batch; `item_indices` are their dataset
// indices, used to seed the per-sample permutations). Every rank holds the same number of items;
// advantages, loss normalisers, gradients and metrics are global across ranks, so W ranks with
// B/W items each take the step one rank would take with all B. Returns the step's metrics
// (identical on every rank except time/*).
StepMetrics grpo_step(GrpoContext& ctx, const std::vector<data::Record>& items,
                      const std::vector<int64_t>& item_indices, int64_t step);

}  // namespace principia::trainer
