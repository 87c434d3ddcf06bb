// The reward components: pure functions (RewardInput, params) -> [0,1] (overlong, a penalty:
// [−1, 0]). One file each.
// DESIGN.md §Formats "Rewards" defines format and weighted_pair exactly; the others serve
// ablations. Every component gives 0 to an output whose JSON could not be read, except
// `format`, which still credits the think tags.
#pragma once

#include <cstddef>

#include "rewards/ranking_math.h"
#include "rewards/reward_input.h"

namespace principia::rewards {

// think tags both present 0.15 (+0.05 if the reasoning has more than min_reasoning_chars code
// points), one tag alone 0.05; JSON parsed 0.20 (0.15 with bracket extraction); `scores` key
// 0.10; ranking key 0.10; coverage 0.20 × share of gold candidates validly scored; consistency
// 0.20 × [ranking is a permutation of the scored names] × share of adjacent ranking pairs whose
// scores do not increase (1 when the ranking has a single name).
struct FormatParams {
  double min_reasoning_chars = 50;
};
double format_reward(const RewardInput& in, const FormatParams& p);

// Over all gold pairs, weight 1 + gap_weight·|gold_a − gold_b|. A reversed pair costs its
// weight, a predicted tie where gold differs costs tie_cost × weight, a pair with an unscored
// candidate costs its weight; pairs tied in gold cost nothing unless a candidate is unscored.
// 1 − penalty / total weight; 1 when there are no pairs.
struct WeightedPairParams {
  double gap_weight = 1.0;
  double tie_cost = 0.5;
};
double weighted_pair_reward(const RewardInput& in, const WeightedPairParams& p);

// (τ-b(predicted, gold) + 1) / 2; unscored candidates rank last (tied). When τ-b is undefined:
// gold entirely tied -> the coverage share; prediction entirely tied -> 0.5 (no information).
double kendall_tau_reward(const RewardInput& in);

// Mean over gold candidates of max(0, 1 − |predicted − gold| / max_error); unscored -> 0.
struct ScoreClosenessParams {
  double max_error = 4.0;
};
double score_closeness_reward(const RewardInput& in, const ScoreClosenessParams& p);

// Over the scored gold candidates: mean_weight·(1 − |Δmean|/4) + (1 − mean_weight)·(1 −
// min(1, |Δstd|/2)) (population std; 4 and 2 are the largest possible gaps on [1,5]), times the
// coverage share.
struct DistributionMatchParams {
  double mean_weight = 0.5;
};
double distribution_match_reward(const RewardInput& in, const DistributionMatchParams& p);

// Share of the predicted top set (highest predicted score; narrowed to the ranking's first name
// when the ranking is a permutation and names one of them) that is gold-best.
double top1_reward(const RewardInput& in);

// DAPO's soft overlong punishment, in [−1, 0]: with L = max_new_tokens, b = buffer and n the
// response's tokens: 0 while n ≤ L − b, then falling linearly to −1 at n = L (a truncated
// response). 0 when the length is unknown. A penalty, not an accuracy: it counts for an invalid
// judgment too (reward.require_valid_format does not zero it).
struct OverlongParams {
  double buffer = 128;
};
double overlong_penalty(const RewardInput& in, const OverlongParams& p);

// NDCG@k of the predicted order (ranking_math.h: ties and unscored ordered pessimistically).
struct NdcgParams {
  size_t k = 0;  // 0 = all
  NdcgGain gain = NdcgGain::kExponential;
};
double ndcg_reward(const RewardInput& in, const NdcgParams& p);

}  // namespace principia::rewards
