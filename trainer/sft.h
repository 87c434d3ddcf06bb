// Supervised warm-start: teacher forcing on gold judgments rendered in the output format
// (think block + scores + ranking, candidates in a fresh random order per example); the loss
// is the token-mean negative log-likelihood of the assistant tokens only.
#pragma once

#include <cstdint>
#include <vector>

#include "data/record.h"
#include "trainer/dist.h"
#include "trainer/judge_task.h"
#include "trainer/optimizer.h"

namespace principia::model {
class Transformer;
}

namespace principia::trainer {

struct SftBatchResult {
  double loss = 0;       // mean NLL per assistant token
  int64_t tokens = 0;    // assistant tokens
  double grad_norm = 0;
  bool skipped = false;  // non-finite loss or gradient: no update
};

// One optimizer update on `items` (this rank's share of the batch; the loss and gradients are
// those of the global batch across ranks). `step` seeds the candidate order.
SftBatchResult sft_update(model::Transformer& model, AdamW& optimizer, const JudgeFormat& format,
                          const std::vector<data::Record>& items,
                          const std::vector<int64_t>& item_indices, int64_t step, uint64_t seed,
                          double lr, double grad_clip, int64_t micro_batch_tokens, Dist& dist,
                          Dist::GradReducer& grads);

}  // namespace principia::trainer
