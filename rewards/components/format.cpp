#include "rewards/components/components.h"

namespace principia::rewards {
namespace {

// Whether `s` has more than `limit` code points (stops counting once it does).
bool longer_than(const std::string& s, double limit) {
  if (static_cast<double>(s.size()) <= limit) return false;  // bytes >= code points
  double n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80;
    if (n > limit) return true;
  }
  return false;
}

}  // namespace

double format_reward(const RewardInput& in, const FormatParams& p) {
  const Judgment& j = *in.judgment;
  double r = 0;
  if (j.think_open && j.think_close) {
    r += 0.15;
    if (longer_than(j.reasoning, p.min_reasoning_chars)) r += 0.05;
  } else if (j.think_open || j.think_close) {
    r += 0.05;
  }
  if (!j.json_parsed) return r;
  r += j.used_bracket_extraction ? 0.15 : 0.20;
  if (j.has_scores_key) r += 0.10;
  if (j.has_ranking_key) r += 0.10;
  r += 0.20 * in.coverage();
  if (j.ranking_is_permutation) {
    size_t pairs = j.ranking.size() - 1, ordered = 0;
    const auto& at = j.ranking_score_index;
    for (size_t i = 0; i + 1 < at.size(); ++i)
      if (at[i] >= 0 && at[i + 1] >= 0 && j.scores[at[i]].value >= j.scores[at[i + 1]].value)
        ++ordered;
    r += 0.20 * (pairs == 0 ? 1.0 : static_cast<double>(ordered) / pairs);
  }
  return r;
}

}  // namespace principia::rewards
