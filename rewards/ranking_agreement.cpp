#include "rewards/ranking_agreement.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "rewards/judgment.h"

namespace principia::rewards {

bool ranking_positions(const std::vector<std::string>& ranking,
                       const std::vector<std::string>& names, std::vector<int>* positions) {
  if (ranking.size() != names.size()) return false;
  positions->assign(names.size(), -1);
  for (size_t p = 0; p < ranking.size(); ++p) {
    size_t i = 0;
    while (i < names.size() && !same_name(names[i], ranking[p])) ++i;
    if (i == names.size() || (*positions)[i] >= 0) return false;  // unknown or repeated
    (*positions)[i] = static_cast<int>(p);
  }
  return true;  // n entries, each a distinct name: every name placed
}

double ranking_kendall_tau(const std::vector<int>& a, const std::vector<int>& b) {
  const size_t n = a.size();
  if (n < 2) return 1.0;
  double s = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) s += ((a[i] < a[j]) == (b[i] < b[j])) ? 1.0 : -1.0;
  return s / (double(n) * double(n - 1) / 2.0);
}

int top_of(const std::vector<int>& positions) {
  for (size_t i = 0; i < positions.size(); ++i)
    if (positions[i] == 0) return static_cast<int>(i);
  return -1;
}

void RankingAgreement::add(const RankingAgreement& o) {
  rankings += o.rankings;
  invalid += o.invalid;
  pairs += o.pairs;
  tau_sum += o.tau_sum;
  top1_same += o.top1_same;
}

double RankingAgreement::tau_mean() const { return pairs ? tau_sum / double(pairs) : std::nan(""); }
double RankingAgreement::top1_agreement() const {
  return pairs ? top1_same / double(pairs) : std::nan("");
}

RankingAgreement ranking_agreement(const std::vector<std::vector<std::string>>& rankings,
                                   const std::vector<std::string>& names) {
  RankingAgreement out;
  std::vector<std::vector<int>> valid;
  std::vector<int> pos;
  for (const auto& r : rankings) {
    ++out.rankings;
    if (ranking_positions(r, names, &pos)) valid.push_back(pos);
    else ++out.invalid;
  }
  for (size_t a = 0; a < valid.size(); ++a)
    for (size_t b = a + 1; b < valid.size(); ++b) {
      ++out.pairs;
      out.tau_sum += ranking_kendall_tau(valid[a], valid[b]);
      out.top1_same += top_of(valid[a]) == top_of(valid[b]) ? 1.0 : 0.0;
    }
  return out;
}

std::vector<std::string> majority_ranking(const std::vector<std::vector<std::string>>& rankings,
                                          const std::vector<std::string>& names) {
  const int n = static_cast<int>(names.size());
  std::vector<int64_t> points(names.size(), 0);
  std::vector<int> pos;
  bool any = false;
  for (const auto& r : rankings) {
    if (!ranking_positions(r, names, &pos)) continue;
    any = true;
    for (int i = 0; i < n; ++i) points[i] += n - 1 - pos[i];
  }
  if (!any) return {};
  std::vector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a] != points[b]) return points[a] > points[b];
    return names[a] < names[b];
  });
  std::vector<std::string> out;
  out.reserve(order.size());
  for (size_t i : order) out.push_back(names[i]);
  return out;
}

namespace {
void add_to(PermutationConsistency::Sums* s, const RankingAgreement& item) {
  ++s->items;
  s->rankings += item.rankings;
  s->invalid += item.invalid;
  if (item.pairs == 0) return;
  ++s->items_scored;
  s->tau_sum += item.tau_mean();
  s->top1_sum += item.top1_agreement();
}
}  // namespace

void PermutationConsistency::add_item(const std::string& domain, const RankingAgreement& item) {
  add_to(&overall_, item);
  if (!domain.empty()) add_to(&by_domain_[domain], item);
}

ordered_json PermutationConsistency::Sums::to_json() const {
  auto ratio = [](double num, double den) {
    return den > 0 ? ordered_json(num / den) : ordered_json(nullptr);
  };
  ordered_json j;
  j["items"] = items;
  j["items_scored"] = items_scored;
  j["kendall_tau_mean"] = ratio(tau_sum, double(items_scored));
  j["top1_agreement"] = ratio(top1_sum, double(items_scored));
  j["permutation_invalid_rate"] = ratio(double(invalid), double(rankings));
  return j;
}

ordered_json PermutationConsistency::to_json() const {
  ordered_json j;
  j["permutations"] = permutations_;
  const ordered_json overall = overall_.to_json();
  for (const auto& [k, v] : overall.items()) j[k] = v;
  j["by_domain"] = ordered_json::object();
  for (const auto& [d, s] : by_domain_) j["by_domain"][d] = s.to_json();
  return j;
}

}  // namespace principia::rewards
