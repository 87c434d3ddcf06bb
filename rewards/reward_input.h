// What every reward component sees: the judgment (names already mapped back to real names),
// the gold item, and the judgment's valid scores aligned to the gold candidates.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "rewards/gold.h"
#include "rewards/judgment.h"

namespace principia::rewards {

// How a judgment was generated, where the caller knows (a rollout does; `principia score`
// does not): -1 = unknown.
struct Generated {
  int64_t tokens = -1;          // response tokens
  int64_t max_new_tokens = -1;  // the generation limit it ran under
};

struct RewardInput {
  const Judgment* judgment = nullptr;
  const Gold* gold = nullptr;
  std::vector<double> predicted;  // predicted[i] for gold.names[i]; NaN when not validly scored
  size_t covered = 0;             // gold candidates with a valid predicted score
  Generated generated;            // for length-based components (overlong)

  bool parsed() const { return judgment->json_parsed; }
  double coverage() const {
    return gold->size() == 0 ? 1.0 : static_cast<double>(covered) / gold->size();
  }
};

// Fills *out (reusing its buffer: no allocation once warm).
inline void align(const Judgment& judgment, const Gold& gold, RewardInput* out) {
  out->judgment = &judgment;
  out->gold = &gold;
  out->predicted.assign(gold.size(), std::nan(""));
  out->covered = 0;
  out->generated = {};
  for (const auto& s : judgment.scores) {
    int i = gold.index_of(s.name);
    if (i >= 0 && std::isnan(out->predicted[i])) {
      out->predicted[i] = s.value;
      ++out->covered;
    }
  }
}

}  // namespace principia::rewards
