// Requests shaped like a judge's rollout, for the paged engine's tests: a system prompt shared by
// every request, then per item a principle-and-prompt part shared by its samples, then the
// item's candidates in each sample's own order. Token ids in [4, vocab); seeds distinct.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "model/generation.h"

namespace principia::model::testing {

inline std::vector<GenerationRequest> judge_like_requests(int64_t items, int64_t samples,
                                                          int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto tokens = [&](int64_t n) {
    std::vector<int64_t> t(static_cast<size_t>(n));
    for (auto& id : t) id = 4 + static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab - 4));
    return t;
  };
  auto length = [&](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  const std::vector<int64_t> system = tokens(21);
  std::vector<GenerationRequest> out;
  for (int64_t i = 0; i < items; ++i) {
    const std::vector<int64_t> shared = tokens(length(6, 14));
    std::vector<std::vector<int64_t>> candidates;
    for (int c = 0; c < 3; ++c) candidates.push_back(tokens(length(3, 7)));
    for (int64_t g = 0; g < samples; ++g) {
      std::vector<size_t> order = {0, 1, 2};
      std::shuffle(order.begin(), order.end(), rng);
      GenerationRequest r;
      r.prompt = system;
      r.prompt.insert(r.prompt.end(), shared.begin(), shared.end());
      for (size_t c : order)
        r.prompt.insert(r.prompt.end(), candidates[c].begin(), candidates[c].end());
      r.seed = seed * 1000 + static_cast<uint64_t>(i * samples + g);
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace principia::model::testing
