#include <algorithm>
#include <cmath>

#include "rewards/components/components.h"

namespace principia::rewards {

double distribution_match_reward(const RewardInput& in, const DistributionMatchParams& p) {
  if (!in.parsed() || in.covered == 0) return 0.0;
  const auto& gold = in.gold->scores;
  double n = 0, sum_p = 0, sum_g = 0;
  for (size_t i = 0; i < gold.size(); ++i)
    if (!std::isnan(in.predicted[i])) {
      n += 1;
      sum_p += in.predicted[i];
      sum_g += gold[i];
    }
  double mean_p = sum_p / n, mean_g = sum_g / n, var_p = 0, var_g = 0;
  for (size_t i = 0; i < gold.size(); ++i)
    if (!std::isnan(in.predicted[i])) {
      var_p += (in.predicted[i] - mean_p) * (in.predicted[i] - mean_p);
      var_g += (gold[i] - mean_g) * (gold[i] - mean_g);
    }
  double std_p = std::sqrt(var_p / n), std_g = std::sqrt(var_g / n);
  double mean_term = 1.0 - std::min(1.0, std::fabs(mean_p - mean_g) / 4.0);
  double spread_term = 1.0 - std::min(1.0, std::fabs(std_p - std_g) / 2.0);
  return in.coverage() * (p.mean_weight * mean_term + (1.0 - p.mean_weight) * spread_term);
}

}  // namespace principia::rewards
