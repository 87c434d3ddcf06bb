#include "rewards/consensus.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "rewards/ranking_math.h"

namespace principia::rewards {
namespace {

int index_in(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  return -1;
}

// A judge's view as arrays over candidate indices: score (NaN = unscored), rank position (-1).
struct JudgeView {
  std::vector<double> score;
  std::vector<int> position;
  std::vector<int> order;  // its best -> worst order over the candidates it placed
};

JudgeView view_of(const JudgeOpinion& judge, const std::vector<std::string>& candidates,
                  size_t judge_index) {
  const size_t n = candidates.size();
  JudgeView v{std::vector<double>(n, std::nan("")), std::vector<int>(n, -1), {}};
  auto who = [&] {
    return "judges[" + std::to_string(judge_index) + "]" +
           (judge.name.empty() ? "" : " (" + judge.name + ")");
  };
  for (const auto& [name, score] : judge.scores) {
    int i = index_in(candidates, name);
    if (i < 0) throw Error(who() + ".scores: unknown candidate '" + name + "'");
    if (!std::isfinite(score)) throw Error(who() + ".scores." + name + ": not a finite number");
    v.score[i] = score;
  }
  for (const auto& name : judge.ranking) {
    int i = index_in(candidates, name);
    if (i < 0) throw Error(who() + ".ranking: unknown candidate '" + name + "'");
    if (v.position[i] >= 0) throw Error(who() + ".ranking: '" + name + "' appears twice");
    v.position[i] = static_cast<int>(v.order.size());
    v.order.push_back(i);
  }
  if (v.order.empty()) {
    // No ranking: its scores sorted, ties in input order.
    for (size_t i = 0; i < n; ++i)
      if (!std::isnan(v.score[i])) v.order.push_back(static_cast<int>(i));
    std::stable_sort(v.order.begin(), v.order.end(),
                     [&](int a, int b) { return v.score[a] > v.score[b]; });
  }
  return v;
}

// +1 when the judge prefers a over b, −1 for b over a, 0 for no preference.
int preference(const JudgeView& v, int a, int b) {
  if (!std::isnan(v.score[a]) && !std::isnan(v.score[b]))
    return v.score[a] > v.score[b] ? 1 : (v.score[a] < v.score[b] ? -1 : 0);
  if (v.position[a] >= 0 && v.position[b] >= 0) return v.position[a] < v.position[b] ? 1 : -1;
  return 0;
}

double aggregate(std::vector<double> xs, ScoreAggregation how) {
  if (how == ScoreAggregation::kMean) {
    double s = 0;
    for (double x : xs) s += x;
    return s / xs.size();
  }
  std::sort(xs.begin(), xs.end());
  size_t m = xs.size() / 2;
  return xs.size() % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2.0;
}

}  // namespace

std::vector<int> kemeny_order(const std::vector<int>& support, int n, int64_t* cost) {
  if (n <= 0) {
    if (cost) *cost = 0;
    return {};
  }
  if (n > static_cast<int>(kMaxConsensusCandidates))
    throw Error("kemeny: " + std::to_string(n) + " candidates; at most 16");
  const uint32_t full = (1u << n) - 1;
  constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
  // best[S]: least disagreement placing the set S (as a block) ahead of everything else.
  std::vector<int64_t> best(size_t(full) + 1, kInf);
  std::vector<int8_t> last(size_t(full) + 1, -1);
  best[0] = 0;
  for (uint32_t s = 0; s < full; ++s) {
    if (best[s] == kInf) continue;
    for (int x = 0; x < n; ++x) {
      if (s & (1u << x)) continue;
      uint32_t placed = s | (1u << x);
      // x goes above every candidate not yet placed; each judge preferring one of those over x
      // disagrees once.
      int64_t add = 0;
      for (int y = 0; y < n; ++y)
        if (!(placed & (1u << y))) add += support[size_t(y) * n + x];
      if (best[s] + add < best[placed]) {
        best[placed] = best[s] + add;
        last[placed] = static_cast<int8_t>(x);
      }
    }
  }
  std::vector<int> order(n);
  uint32_t s = full;
  for (int pos = n - 1; pos >= 0; --pos) {
    order[pos] = last[s];
    s &= ~(1u << last[s]);
  }
  if (cost) *cost = best[full];
  return order;
}

std::vector<int> longest_supported_chain(const std::vector<int>& order,
                                         const std::vector<int>& support, int n, int k) {
  const int m = static_cast<int>(order.size());
  if (m == 0) return {};
  if (m > static_cast<int>(kMaxConsensusCandidates))
    throw Error("support-dp: " + std::to_string(m) + " candidates; at most 16");
  // later_ok[i]: positions j > i whose pair (order[i], order[j]) is supported.
  std::vector<uint32_t> later_ok(m, 0);
  for (int i = 0; i < m; ++i)
    for (int j = i + 1; j < m; ++j)
      if (support[size_t(order[i]) * n + order[j]] >= k) later_ok[i] |= 1u << j;
  // valid[S]: every pair inside the position set S is supported. Removing S's first position
  // i leaves a smaller set, so valid[S] = valid[S \ i] && (S \ i) ⊆ later_ok[i].
  const uint32_t full = (1u << m) - 1;
  std::vector<uint8_t> valid(size_t(full) + 1, 0);
  valid[0] = 1;
  uint32_t best = 0;
  int best_count = 0;
  for (uint32_t s = 1; s <= full; ++s) {
    uint32_t first = s & (~s + 1);
    int i = __builtin_ctz(first);
    uint32_t rest = s ^ first;
    valid[s] = valid[rest] && (rest & ~later_ok[i]) == 0;
    if (!valid[s]) continue;
    int count = __builtin_popcount(s);
    // Longer wins; at equal length, the set holding the better-ranked position at the first
    // difference.
    uint32_t diff = s ^ best;
    if (count > best_count || (count == best_count && (s & diff & (~diff + 1)))) {
      best = s;
      best_count = count;
    }
  }
  std::vector<int> chain;
  for (int i = 0; i < m; ++i)
    if (best & (1u << i)) chain.push_back(order[i]);
  return chain;
}

std::vector<double> isotonic_non_increasing(const std::vector<double>& values) {
  // Blocks of (sum, count); merge while a block's mean exceeds its predecessor's.
  std::vector<double> sum;
  std::vector<int> count;
  for (double v : values) {
    sum.push_back(v);
    count.push_back(1);
    while (sum.size() >= 2) {
      size_t b = sum.size() - 1;
      if (sum[b] / count[b] <= sum[b - 1] / count[b - 1]) break;
      sum[b - 1] += sum[b];
      count[b - 1] += count[b];
      sum.pop_back();
      count.pop_back();
    }
  }
  std::vector<double> out;
  for (size_t b = 0; b < sum.size(); ++b) out.insert(out.end(), count[b], sum[b] / count[b]);
  return out;
}

ConsensusResult build_consensus(const std::vector<std::string>& candidates,
                                const std::vector<JudgeOpinion>& judges,
                                const ConsensusOptions& options) {
  const int n = static_cast<int>(candidates.size());
  if (n < 1) throw Error("no candidates");
  if (candidates.size() > kMaxConsensusCandidates)
    throw Error(std::to_string(n) + " candidates; consensus handles at most " +
                std::to_string(kMaxConsensusCandidates));
  for (int i = 0; i < n; ++i)
    if (index_in(candidates, candidates[i]) != i)
      throw Error("candidate '" + candidates[i] + "' is listed twice");
  if (judges.empty()) throw Error("judges: the list is empty");

  std::vector<JudgeView> views;
  for (size_t j = 0; j < judges.size(); ++j) views.push_back(view_of(judges[j], candidates, j));

  ConsensusResult r;
  r.judges = static_cast<int>(judges.size());
  r.min_support = options.min_support > 0 ? options.min_support : r.judges / 2 + 1;
  const int k = r.min_support;

  std::vector<int> support(size_t(n) * n, 0);
  int64_t expressed = 0;
  for (const auto& v : views)
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        if (a != b && preference(v, a, b) > 0) {
          ++support[size_t(a) * n + b];
          ++expressed;
        }

  std::vector<double> aggregated(n);
  for (int i = 0; i < n; ++i) {
    std::vector<double> xs;
    for (const auto& v : views)
      if (!std::isnan(v.score[i])) xs.push_back(v.score[i]);
    if (xs.empty()) throw Error("candidate '" + candidates[i] + "' has no score from any judge");
    aggregated[i] = aggregate(std::move(xs), options.aggregation);
  }

  std::vector<int> order;
  if (options.method == ConsensusMethod::kKemeny) {
    order = kemeny_order(support, n, nullptr);
  } else {
    for (size_t j = 0; j < views.size(); ++j) {
      std::vector<int> chain = longest_supported_chain(views[j].order, support, n, k);
      if (chain.size() > order.size()) {
        order = std::move(chain);
        r.chain_judge = static_cast<int>(j);
      }
    }
    std::vector<int> rest;
    for (int i = 0; i < n; ++i)
      if (std::find(order.begin(), order.end(), i) == order.end()) rest.push_back(i);
    std::stable_sort(rest.begin(), rest.end(),
                     [&](int a, int b) { return aggregated[a] > aggregated[b]; });
    for (int i : rest) {
      r.unsupported.push_back(candidates[i]);
      if (options.drop_unsupported) {
        r.dropped.push_back(candidates[i]);
      } else {
        order.push_back(i);
      }
    }
  }

  // Agreement of the final ranking with the judges.
  int64_t pairs = 0, supported = 0;
  for (size_t a = 0; a < order.size(); ++a)
    for (size_t b = a + 1; b < order.size(); ++b) {
      ++pairs;
      if (support[size_t(order[a]) * n + order[b]] >= k) ++supported;
      r.disagreements += support[size_t(order[b]) * n + order[a]];
    }
  r.supported_pair_share = pairs ? static_cast<double>(supported) / pairs : 1.0;
  r.judge_agreement = expressed ? 1.0 - static_cast<double>(r.disagreements) / expressed : 1.0;

  // Judges against each other: τ-b over the candidates both placed.
  double tau_sum = 0;
  int tau_pairs = 0;
  for (size_t x = 0; x < views.size(); ++x)
    for (size_t y = x + 1; y < views.size(); ++y) {
      std::vector<double> sx, sy;
      for (int i = 0; i < n; ++i) {
        auto value = [&](const JudgeView& v) {
          return !std::isnan(v.score[i]) ? v.score[i]
                 : v.position[i] >= 0   ? -static_cast<double>(v.position[i]) - 100.0
                                        : std::nan("");
        };
        double a = value(views[x]), b = value(views[y]);
        if (!std::isnan(a) && !std::isnan(b)) {
          sx.push_back(a);
          sy.push_back(b);
        }
      }
      double tau = 0;
      if (kendall_tau_b(sx.data(), sy.data(), sx.size(), &tau)) {
        tau_sum += tau;
        ++tau_pairs;
      }
    }
  r.mean_judge_tau_defined = tau_pairs > 0;
  r.mean_judge_tau = tau_pairs ? tau_sum / tau_pairs : 0.0;

  // Scores that agree with the ranking.
  std::vector<double> along;
  for (int i : order) along.push_back(aggregated[i]);
  std::vector<double> fitted = isotonic_non_increasing(along);
  std::vector<double> final_score(n, std::nan(""));
  for (size_t p = 0; p < order.size(); ++p) {
    final_score[order[p]] = fitted[p];
    if (std::fabs(fitted[p] - along[p]) > 1e-12) ++r.scores_adjusted;
  }
  for (int i = 0; i < n; ++i) {
    if (std::isnan(final_score[i])) continue;  // dropped
    r.names.push_back(candidates[i]);
    r.scores.push_back(final_score[i]);
    r.aggregated_scores.push_back(aggregated[i]);
  }
  for (int i : order) r.ranking.push_back(candidates[i]);
  return r;
}

}  // namespace principia::rewards
