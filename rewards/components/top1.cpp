#include <cmath>

#include "rewards/components/components.h"

namespace principia::rewards {

double top1_reward(const RewardInput& in) {
  if (!in.parsed() || in.covered == 0) return 0.0;
  const auto& gold = in.gold->scores;
  const auto& pred = in.predicted;
  double best_gold = gold[0], best_pred = -1;
  for (size_t i = 0; i < gold.size(); ++i) {
    best_gold = std::max(best_gold, gold[i]);
    if (!std::isnan(pred[i])) best_pred = std::max(best_pred, pred[i]);
  }
  // The ranking breaks a tie at the top when it is consistent with the scores there.
  const Judgment& j = *in.judgment;
  if (j.ranking_is_permutation) {
    int first = in.gold->index_of(j.ranking.front());
    if (first >= 0 && pred[first] == best_pred) return gold[first] == best_gold ? 1.0 : 0.0;
  }
  double top = 0, hits = 0;
  for (size_t i = 0; i < gold.size(); ++i)
    if (pred[i] == best_pred) {
      top += 1;
      hits += gold[i] == best_gold;
    }
  return hits / top;
}

}  // namespace principia::rewards
