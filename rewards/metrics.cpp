#include "rewards/metrics.h"

#include <cmath>

#include "rewards/ranking_math.h"
#include "rewards/reward_input.h"

namespace principia::rewards {

bool is_format_valid(const Judgment& judgment, const Gold& gold, const RewardInput& in) {
  return judgment.json_parsed && in.covered == gold.size() && judgment.scores.size() == gold.size() &&
         judgment.invalid_scores.empty() && judgment.ranking_is_permutation;
}

bool is_format_valid(const Judgment& judgment, const Gold& gold) {
  RewardInput in;
  align(judgment, gold, &in);
  return is_format_valid(judgment, gold, in);
}

void MetricSums::add(const Judgment& judgment, const Gold& gold) {
  thread_local RewardInput in;
  align(judgment, gold, &in);
  const auto& g = gold.scores;
  const auto& p = in.predicted;
  ++judgments;
  if (judgment.json_parsed) ++json_parsed;
  if (judgment.used_bracket_extraction) ++bracket_extraction;
  if (is_format_valid(judgment, gold, in)) ++format_valid;

  for (size_t a = 0; a < g.size(); ++a)
    for (size_t b = a + 1; b < g.size(); ++b) {
      if (g[a] == g[b]) continue;
      ++pairs;
      if (std::isnan(p[a]) || std::isnan(p[b])) continue;
      if (p[a] == p[b]) {
        ++pairs_tied;
        pairs_right += 0.5;
      } else if ((p[a] > p[b]) == (g[a] > g[b])) {
        pairs_right += 1;
      }
    }

  bool gold_tied = true;
  for (double x : g) gold_tied = gold_tied && x == g.front();
  if (!gold_tied) {
    double tau = 0;
    if (!judgment.json_parsed || !kendall_tau_b(p.data(), g.data(), g.size(), &tau)) tau = 0;
    tau_sum += tau;
    ++tau_items;
  }
  if (judgment.json_parsed)
    ndcg_sum += ndcg(p.data(), g.data(), g.size(), 0, NdcgGain::kExponential);

  if (judgment.json_parsed && in.covered >= 2) {
    double mean = 0, var = 0;
    for (double x : p)
      if (!std::isnan(x)) mean += x;
    mean /= in.covered;
    for (double x : p)
      if (!std::isnan(x)) var += (x - mean) * (x - mean);
    variance_sum += var / in.covered;
    ++variance_items;
  }
}

ordered_json MetricSums::to_json() const {
  auto rate = [](double num, double den) -> ordered_json {
    return den > 0 ? ordered_json(num / den) : ordered_json(nullptr);
  };
  auto rate_i = [&](double num, int64_t den) -> ordered_json {
    return rate(num, static_cast<double>(den));
  };
  ordered_json j;
  j["judgments"] = judgments;
  j["json_parsed_rate"] = rate(json_parsed, judgments);
  j["bracket_extraction_rate"] = rate(bracket_extraction, judgments);
  j["format_valid_rate"] = rate(format_valid, judgments);
  j["pairs"] = pairs;
  j["pairwise_accuracy"] = rate_i(pairs_right, pairs);
  j["pairwise_tie_rate"] = rate_i(static_cast<double>(pairs_tied), pairs);
  j["kendall_tau_b"] = rate(tau_sum, tau_items);
  j["ndcg"] = rate(ndcg_sum, judgments);
  j["score_variance"] = rate(variance_sum, variance_items);
  return j;
}

void EvalMetrics::add(const Judgment& judgment, const Gold& gold) {
  overall_.add(judgment, gold);
  if (!gold.domain.empty()) by_domain_[gold.domain].add(judgment, gold);
  if (!gold.category.empty()) by_category_[gold.category].add(judgment, gold);
}

ordered_json EvalMetrics::to_json() const {
  ordered_json j;
  j["overall"] = overall_.to_json();
  j["by_domain"] = ordered_json::object();
  for (const auto& [k, v] : by_domain_) j["by_domain"][k] = v.to_json();
  j["by_category"] = ordered_json::object();
  for (const auto& [k, v] : by_category_) j["by_category"][k] = v.to_json();
  return j;
}

}  // namespace principia::rewards
