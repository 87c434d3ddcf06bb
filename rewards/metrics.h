// Evaluation metrics over a set of judgments against gold, overall and by domain / category.
//
// - pairwise_accuracy: over gold pairs whose scores differ; a pair is right when the predicted
//   scores order it the same way. A predicted tie counts as half right (the expected value of
//   breaking it at random); a pair with an unscored candidate counts as wrong. Micro-averaged
//   over pairs. pairwise_tie_rate is the share of those pairs predicted tied.
// - kendall_tau_b: mean over items of τ-b(predicted, gold); items whose gold is entirely tied
//   are skipped; an undefined prediction (unparseable, or everything tied) counts as τ = 0.
//   Unscored candidates rank last.
// - ndcg: mean over items of NDCG (exponential gain, pessimistic ties); unparseable -> 0.
// - score_variance: mean over parsed items with ≥ 2 scored candidates of the population
//   variance of the predicted scores (a collapsing judge drives it to 0).
// - format_valid_rate: share of judgments whose JSON was read, that score exactly the gold
//   candidates (all valid, nothing else) and whose ranking is a permutation of them.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/jsonl.h"
#include "rewards/gold.h"
#include "rewards/judgment.h"
#include "rewards/reward_input.h"

namespace principia::rewards {

// The format_valid_rate test for one judgment (real names) against its gold; `aligned` is
// align(judgment, gold) when the caller already has it.
bool is_format_valid(const Judgment& judgment, const Gold& gold);
bool is_format_valid(const Judgment& judgment, const Gold& gold, const RewardInput& aligned);

struct MetricSums {
  int64_t judgments = 0;
  int64_t json_parsed = 0;
  int64_t bracket_extraction = 0;
  int64_t format_valid = 0;
  int64_t pairs = 0, pairs_tied = 0;
  double pairs_right = 0;  // a predicted tie counts 0.5
  double tau_sum = 0;
  int64_t tau_items = 0;
  double ndcg_sum = 0;
  double variance_sum = 0;
  int64_t variance_items = 0;

  void add(const Judgment& judgment, const Gold& gold);
  ordered_json to_json() const;  // rates and means; null where nothing was counted
};

class EvalMetrics {
 public:
  // `judgment` must already use real names.
  void add(const Judgment& judgment, const Gold& gold);
  const MetricSums& overall() const { return overall_; }
  // {"overall": {...}, "by_domain": {d: {...}}, "by_category": {c: {...}}}
  ordered_json to_json() const;

 private:
  MetricSums overall_;
  std::map<std::string, MetricSums> by_domain_, by_category_;
};

}  // namespace principia::rewards
