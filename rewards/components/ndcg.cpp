#include "rewards/components/components.h"

namespace principia::rewards {

double ndcg_reward(const RewardInput& in, const NdcgParams& p) {
  if (!in.parsed()) return 0.0;
  return ndcg(in.predicted.data(), in.gold->scores.data(), in.gold->size(), p.k, p.gain);
}

}  // namespace principia::rewards
