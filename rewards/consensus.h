// Consensus from several judges: scores and a best-to-worst ranking for one item's candidates,
// with agreement statistics. Used by `principia consensus` and data importers (several
// judge scores per response -> one gold record).
//
// A judge prefers a over b when it scored both and gave a the higher score; for a pair it did
// not score both of, its ranking decides when both appear there. support[a][b] counts the
// judges preferring a over b.
//
// Methods:
// - support-dp: for each judge's ranking (its scores sorted when it gave no ranking), the
//   longest subsequence in which EVERY pair (earlier, later) is supported by at least K judges,
//   found exactly by dynamic programming over subsets of positions; the longest over judges
//   wins (ties: the earlier judge; within a judge, the subsequence keeping higher-ranked
//   names). Candidates outside it are "unsupported": appended after it by consensus score, or
//   dropped (drop_unsupported).
// - kemeny: the ranking minimising Σ_{a before b} support[b][a] (total pairwise disagreement
//   with the judges), exact by dynamic programming over subsets (Held–Karp style).
// Consensus scores: mean (or median) of the judges' scores per candidate, then made
// non-increasing along the consensus ranking by isotonic regression (pool adjacent violators)
// so that scores and ranking agree as the dataset schema requires; the number of candidates
// this moved is reported.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace principia::rewards {

inline constexpr size_t kMaxConsensusCandidates = 16;

struct JudgeOpinion {
  std::string name;                                    // optional, for reports
  std::vector<std::pair<std::string, double>> scores;  // may be empty when a ranking is given
  std::vector<std::string> ranking;                    // best -> worst; optional
};

enum class ConsensusMethod { kSupportDp, kKemeny };
enum class ScoreAggregation { kMean, kMedian };

struct ConsensusOptions {
  ConsensusMethod method = ConsensusMethod::kSupportDp;
  int min_support = 0;  // K; 0 = a majority of the judges (floor(J/2) + 1)
  bool drop_unsupported = false;
  ScoreAggregation aggregation = ScoreAggregation::kMean;
};

struct ConsensusResult {
  std::vector<std::string> names;    // kept candidates, in input order
  std::vector<double> scores;        // consensus score per kept name
  std::vector<std::string> ranking;  // best -> worst over the kept names
  // ---- agreement ----
  int judges = 0;
  int min_support = 0;                 // the K used
  std::vector<std::string> unsupported;  // support-dp: outside the supported chain
  std::vector<std::string> dropped;      // removed by drop_unsupported
  int chain_judge = -1;                  // support-dp: whose ranking gave the chain
  double supported_pair_share = 1;     // ranking pairs (a above b) with support[a][b] >= K
  int64_t disagreements = 0;           // Σ_{a above b} support[b][a] (Kemeny distance)
  double judge_agreement = 1;          // 1 − disagreements / all expressed preferences
  double mean_judge_tau = 0;           // mean Kendall τ-b between pairs of judges
  bool mean_judge_tau_defined = false;
  int scores_adjusted = 0;             // candidates the isotonic step moved
  std::vector<double> aggregated_scores;  // before that step, per kept name
};

// `candidates`: the item's names (2..16). Throws principia::Error (no location: the caller
// adds it) on a judge naming an unknown candidate, a candidate nobody scored, or no judges.
ConsensusResult build_consensus(const std::vector<std::string>& candidates,
                                const std::vector<JudgeOpinion>& judges,
                                const ConsensusOptions& options);

// ---- the two exact searches, exposed for tests ----
// support[a][b] for n candidates as a flat n*n array.
// Kemeny: an order (indices) minimising Σ_{a before b} support[b*n + a]; *cost gets the minimum.
std::vector<int> kemeny_order(const std::vector<int>& support, int n, int64_t* cost);
// Longest subsequence of `order` whose every pair (earlier, later) has support >= k.
std::vector<int> longest_supported_chain(const std::vector<int>& order,
                                         const std::vector<int>& support, int n, int k);
// Non-increasing least-squares fit (pool adjacent violators).
std::vector<double> isotonic_non_increasing(const std::vector<double>& values);

}  // namespace principia::rewards
