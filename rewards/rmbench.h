// RM-Bench scoring (Liu et al., ICLR 2025). Each item has 3 chosen and 3 rejected responses in
// the styles [concise, detailed_plain, detailed_markdown]. Per item, M[i][j] = 1 when
// score(chosen[i]) > score(rejected[j]) — ties count as wrong — and M is averaged over items.
// hard = mean of the upper triangle (i < j: the chosen answer is plainer than the rejected
// one), normal = the diagonal, easy = the lower triangle. A domain's average is the mean of
// all nine cells; overall figures are means over domains.
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "core/jsonl.h"

namespace principia::rewards {

struct RmBenchItem {
  std::string domain;
  std::array<double, 3> chosen{};    // scores a reward model gave the chosen responses
  std::array<double, 3> rejected{};  // ... and the rejected ones
};

struct RmBenchMatrix {
  double m[3][3] = {};
  double easy = 0, normal = 0, hard = 0, average = 0;
  int64_t items = 0;
};

struct RmBenchResult {
  std::map<std::string, RmBenchMatrix> domains;
  double easy = 0, normal = 0, hard = 0, overall = 0;  // means over domains
  ordered_json to_json() const;
};

// Items of one domain (the domain field is ignored). Empty -> all zeros.
RmBenchMatrix rmbench_matrix(const std::vector<RmBenchItem>& items);
RmBenchResult score_rmbench(const std::vector<RmBenchItem>& items);

}  // namespace principia::rewards
