#include "rewards/rmbench.h"

namespace principia::rewards {

RmBenchMatrix rmbench_matrix(const std::vector<RmBenchItem>& items) {
  RmBenchMatrix r;
  r.items = static_cast<int64_t>(items.size());
  if (items.empty()) return r;
  for (const auto& item : items)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r.m[i][j] += item.chosen[i] > item.rejected[j] ? 1.0 : 0.0;
  double total = 0;
  for (auto& row : r.m)
    for (double& cell : row) {
      cell /= static_cast<double>(items.size());
      total += cell;
    }
  r.hard = (r.m[0][1] + r.m[0][2] + r.m[1][2]) / 3.0;
  r.normal = (r.m[0][0] + r.m[1][1] + r.m[2][2]) / 3.0;
  r.easy = (r.m[1][0] + r.m[2][0] + r.m[2][1]) / 3.0;
  r.average = total / 9.0;
  return r;
}

RmBenchResult score_rmbench(const std::vector<RmBenchItem>& items) {
  std::map<std::string, std::vector<RmBenchItem>> by_domain;
  for (const auto& item : items) by_domain[item.domain].push_back(item);
  RmBenchResult r;
  for (const auto& [domain, list] : by_domain) r.domains[domain] = rmbench_matrix(list);
  if (r.domains.empty()) return r;
  for (const auto& [domain, m] : r.domains) {
    r.easy += m.easy;
    r.normal += m.normal;
    r.hard += m.hard;
    r.overall += m.average;
  }
  double n = static_cast<double>(r.domains.size());
  r.easy /= n;
  r.normal /= n;
  r.hard /= n;
  r.overall /= n;
  return r;
}

ordered_json RmBenchResult::to_json() const {
  ordered_json j;
  j["easy"] = easy;
  j["normal"] = normal;
  j["hard"] = hard;
  j["overall"] = overall;
  j["domains"] = ordered_json::object();
  for (const auto& [name, m] : domains) {
    ordered_json d;
    d["items"] = m.items;
    d["easy"] = m.easy;
    d["normal"] = m.normal;
    d["hard"] = m.hard;
    d["average"] = m.average;
    d["matrix"] = {{m.m[0][0], m.m[0][1], m.m[0][2]},
                   {m.m[1][0], m.m[1][1], m.m[1][2]},
                   {m.m[2][0], m.m[2][1], m.m[2][2]}};
    j["domains"][name] = d;
  }
  return j;
}

}  // namespace principia::rewards
