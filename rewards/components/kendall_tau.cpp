#include "rewards/components/components.h"

namespace principia::rewards {

double kendall_tau_reward(const RewardInput& in) {
  if (!in.parsed()) return 0.0;
  const auto& gold = in.gold->scores;
  double tau = 0;
  if (kendall_tau_b(in.predicted.data(), gold.data(), gold.size(), &tau))
    return (tau + 1.0) / 2.0;
  bool gold_tied = true;
  for (double g : gold) gold_tied = gold_tied && g == gold.front();
  return gold_tied ? in.coverage() : 0.5;
}

}  // namespace principia::rewards
