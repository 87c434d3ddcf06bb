// libFuzzer: bytes -> judges' scores and rankings over up to 10 candidates. build_consensus
// must either throw principia::Error or return a ranking that is a permutation of the kept
// names with scores non-increasing along it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "rewards/consensus.h"

using namespace principia::rewards;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  size_t p = 0;
  auto next = [&]() -> uint8_t { return p < size ? data[p++] : 0; };
  int n = 1 + next() % 10;
  int judges = 1 + next() % 6;
  uint8_t flags = next();
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("c" + std::to_string(i));
  std::vector<JudgeOpinion> opinions(judges);
  for (auto& j : opinions) {
    for (int i = 0; i < n; ++i) {
      uint8_t b = next();
      if (b % 7 != 0) j.scores.emplace_back(names[b % 11 < n ? b % 11 : i], 1 + (b % 9) / 2.0);
      if (b & 0x80) j.ranking.push_back(names[(b >> 3) % n]);
    }
  }
  ConsensusOptions o;
  o.method = (flags & 1) ? ConsensusMethod::kKemeny : ConsensusMethod::kSupportDp;
  o.aggregation = (flags & 2) ? ScoreAggregation::kMedian : ScoreAggregation::kMean;
  o.drop_unsupported = (flags & 4) && o.method == ConsensusMethod::kSupportDp;
  o.min_support = (flags >> 3) % 4;
  try {
    ConsensusResult r = build_consensus(names, opinions, o);
    if (r.ranking.size() != r.names.size()) std::abort();
    std::vector<std::string> a = r.ranking, b = r.names;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) std::abort();
    double prev = INFINITY;
    for (const auto& name : r.ranking) {
      size_t i = std::find(r.names.begin(), r.names.end(), name) - r.names.begin();
      if (r.scores[i] > prev + 1e-9) std::abort();
      prev = r.scores[i];
    }
  } catch (const principia::Error&) {
  }
  return 0;
}
