#include <algorithm>

#include "rewards/components/components.h"

namespace principia::rewards {

double overlong_penalty(const RewardInput& in, const OverlongParams& p) {
  const Generated& g = in.generated;
  if (g.tokens < 0 || g.max_new_tokens <= 0) return 0.0;
  const double free_tokens = double(g.max_new_tokens) - p.buffer;
  if (double(g.tokens) <= free_tokens) return 0.0;
  return std::max(-1.0, (free_tokens - double(g.tokens)) / p.buffer);
}

}  // namespace principia::rewards
