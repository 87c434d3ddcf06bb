#include <algorithm>
#include <cmath>

#include "rewards/components/components.h"

namespace principia::rewards {

double score_closeness_reward(const RewardInput& in, const ScoreClosenessParams& p) {
  if (!in.parsed() || in.gold->size() == 0) return in.parsed() ? 1.0 : 0.0;
  const auto& gold = in.gold->scores;
  double sum = 0;
  for (size_t i = 0; i < gold.size(); ++i)
    if (!std::isnan(in.predicted[i]))
      sum += std::max(0.0, 1.0 - std::fabs(in.predicted[i] - gold[i]) / p.max_error);
  return sum / gold.size();
}

}  // namespace principia::rewards
