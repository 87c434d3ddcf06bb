// Agreement between several rankings of one item's candidates: the same judge shown the
// candidates in different orders (eval's position-bias measurement, `eval.permutations`), or the
// samples of one GRPO group (the `consistency` reward component). No LibTorch.
//
// Only complete rankings count: a ranking is valid when, after mapping shown names back to real
// ones, it lists every candidate of the item exactly once and nothing else. A partial ranking,
// one with an unknown or repeated name, or an unparsed judgment is invalid; it takes part in no
// pair, and is counted separately (permutation_invalid_rate), so a judge that fails to answer
// under some orders cannot look consistent by it. Scores are not used, only the rankings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/jsonl.h"

namespace principia::rewards {

// positions[i] = place of names[i] in `ranking` (0 = best). False (positions unspecified) when
// the ranking is not valid in the sense above.
bool ranking_positions(const std::vector<std::string>& ranking,
                       const std::vector<std::string>& names, std::vector<int>* positions);

// Kendall τ between two strict rankings of the same n names, as positions: (concordant −
// discordant) / (n(n−1)/2) in [−1, 1]. 1 when n < 2 (a single order: nothing to disagree on).
double ranking_kendall_tau(const std::vector<int>& a, const std::vector<int>& b);

// Index (into names) of the first-ranked candidate.
int top_of(const std::vector<int>& positions);

// Pairwise agreement among one item's rankings; sums, so items and groups add up.
struct RankingAgreement {
  int64_t rankings = 0;
  int64_t invalid = 0;    // rankings that were not valid
  int64_t pairs = 0;      // unordered pairs of valid rankings
  double tau_sum = 0;     // Σ Kendall τ over those pairs
  double top1_same = 0;   // pairs whose first-ranked candidate is the same

  void add(const RankingAgreement& other);
  // Over the valid pairs; NaN when there is none.
  double tau_mean() const;
  double top1_agreement() const;
};

// All K(K−1)/2 pairs of `rankings` (real names) of the candidates `names`.
RankingAgreement ranking_agreement(const std::vector<std::vector<std::string>>& rankings,
                                   const std::vector<std::string>& names);

// The group's majority ranking: Borda count over the valid rankings (a candidate gets n−1−p
// points at place p), highest first, ties broken by name (ascending, byte order). Empty when
// no ranking is valid. Borda rather than the exact Kemeny order (consensus.h): it runs once per
// group per step, and the Kemeny search is exponential in the candidates.
std::vector<std::string> majority_ranking(const std::vector<std::vector<std::string>>& rankings,
                                          const std::vector<std::string>& names);

// eval's report over items judged under K candidate orders:
// {"permutations": K, "items": all items added, "items_scored": items with at least one valid
//  pair, "kendall_tau_mean": mean over scored items of the item's mean τ over its valid pairs,
//  "top1_agreement": mean over scored items of the share of its valid pairs that put the same
//  candidate first, "permutation_invalid_rate": invalid rankings / all rankings,
//  "by_domain": {domain: the same keys but permutations}}. Means are null with no scored item.
// An item judged with several samples adds the pairs within each sample's K orders.
class PermutationConsistency {
 public:
  explicit PermutationConsistency(int64_t permutations) : permutations_(permutations) {}
  void add_item(const std::string& domain, const RankingAgreement& item);
  ordered_json to_json() const;

  struct Sums {
    int64_t items = 0, items_scored = 0, rankings = 0, invalid = 0;
    double tau_sum = 0, top1_sum = 0;  // of the per-item means
    ordered_json to_json() const;
  };
  const Sums& overall() const { return overall_; }

 private:
  int64_t permutations_;
  Sums overall_;
  std::map<std::string, Sums> by_domain_;
};

}  // namespace principia::rewards
