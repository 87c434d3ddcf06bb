#include <cmath>

#include "rewards/components/components.h"

namespace principia::rewards {

double weighted_pair_reward(const RewardInput& in, const WeightedPairParams& p) {
  if (!in.parsed()) return 0.0;
  const auto& gold = in.gold->scores;
  const auto& pred = in.predicted;
  double total = 0, penalty = 0;
  for (size_t a = 0; a < gold.size(); ++a)
    for (size_t b = a + 1; b < gold.size(); ++b) {
      double gap = gold[a] - gold[b];
      double weight = 1.0 + p.gap_weight * std::fabs(gap);
      total += weight;
      if (std::isnan(pred[a]) || std::isnan(pred[b])) {
        penalty += weight;  // a missing candidate counts as reversed
      } else if (gap != 0) {
        double d = pred[a] - pred[b];
        if (d == 0) {
          penalty += p.tie_cost * weight;
        } else if ((d > 0) != (gap > 0)) {
          penalty += weight;
        }
      }
    }
  return total > 0 ? 1.0 - penalty / total : 1.0;
}

}  // namespace principia::rewards
