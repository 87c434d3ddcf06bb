// `principia eval` with eval.permutations: each item judged under several candidate orders, the
// permutation-consistency block in eval.json and its section in eval.md; off (absent) at 1.
// The tiny untrained model rarely writes a complete ranking, so the values are checked for range
// and the wiring (orders, counts, mappings) exactly; rewards/ tests check the arithmetic.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/files.h"
#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"

namespace principia {
namespace {
namespace fs = std::filesystem;
using principia::testing::demo_config;
using principia::testing::principia_binary;
using principia::testing::run_command;

// Runs `principia eval` in a fresh directory; returns it.
fs::path eval_run(const std::string& name, const std::string& extra) {
  const fs::path run = principia::testing::temp_dir(name);
  std::string out;
  const int rc = run_command(
      principia_binary() + " eval " + demo_config() + " run.output_dir=" + run.string() +
          principia::testing::kTinyDemoOverrides + " eval.write_judgments=true" + extra,
      &out);
  EXPECT_EQ(rc, 0) << out;
  return run;
}

std::vector<nlohmann::json> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

void expect_rate(const nlohmann::json& v, double lo, const std::string& what) {
  if (v.is_null()) return;  // no pair of complete rankings
  ASSERT_TRUE(v.is_number()) << what;
  EXPECT_GE(v.get<double>(), lo) << what;
  EXPECT_LE(v.get<double>(), 1.0) << what;
}

TEST(EvalPermutations, ThreeOrdersReportConsistencyAndOneOrderDoesNot) {
  const fs::path three = eval_run("eval-perm-3", " eval.permutations=3");
  const fs::path one = eval_run("eval-perm-1", "");
  if (HasFailure()) return;

  const auto e3 = nlohmann::json::parse(read_file((three / "eval" / "eval.json").string()));
  const auto e1 = nlohmann::json::parse(read_file((one / "eval" / "eval.json").string()));
  EXPECT_FALSE(e1.contains("permutation_consistency"));
  EXPECT_EQ(read_file((one / "eval" / "eval.md").string()).find("Permutation consistency"),
            std::string::npos);

  // The usual metrics are on the first order only: as many judgments as with one order.
  EXPECT_EQ(e3["items"], 6);
  EXPECT_EQ(e3["judgments"], 6);
  ASSERT_TRUE(e3.contains("permutation_consistency")) << e3.dump(2);
  const auto& pc = e3["permutation_consistency"];
  EXPECT_EQ(pc["permutations"], 3);
  EXPECT_EQ(pc["items"], 6);
  ASSERT_TRUE(pc["items_scored"].is_number_integer());
  EXPECT_GE(pc["items_scored"].get<int>(), 0);
  EXPECT_LE(pc["items_scored"].get<int>(), 6);
  expect_rate(pc["kendall_tau_mean"], -1.0, "kendall_tau_mean");
  expect_rate(pc["top1_agreement"], 0.0, "top1_agreement");
  ASSERT_TRUE(pc["permutation_invalid_rate"].is_number());
  expect_rate(pc["permutation_invalid_rate"], 0.0, "permutation_invalid_rate");
  EXPECT_EQ(pc["kendall_tau_mean"].is_null(), pc["items_scored"] == 0);
  ASSERT_TRUE(pc["by_domain"].is_object());
  EXPECT_FALSE(pc["by_domain"].empty());
  int domain_items = 0;
  for (const auto& [domain, d] : pc["by_domain"].items()) {
    domain_items += d["items"].get<int>();
    expect_rate(d["kendall_tau_mean"], -1.0, domain + " kendall_tau_mean");
    expect_rate(d["top1_agreement"], 0.0, domain + " top1_agreement");
    EXPECT_TRUE(e3["metrics"]["by_domain"].contains(domain)) << domain;
  }
  EXPECT_EQ(domain_items, 6);

  const std::string md = read_file((three / "eval" / "eval.md").string());
  EXPECT_NE(md.find("## Permutation consistency"), std::string::npos) << md;
  EXPECT_NE(md.find("first order only"), std::string::npos) << md;
  EXPECT_NE(md.find("| all | 6 |"), std::string::npos) << md;

  // Every item under 3 different orders, the first the order eval uses with one order.
  const auto j3 = read_lines(three / "eval" / "eval.judgments.jsonl");
  const auto j1 = read_lines(one / "eval" / "eval.judgments.jsonl");
  ASSERT_EQ(j3.size(), 18u);
  ASSERT_EQ(j1.size(), 6u);
  std::map<std::string, nlohmann::json> first_mapping;
  for (const auto& j : j1) first_mapping[j["id"]] = j["mapping"];
  std::map<std::string, std::set<std::string>> orders;
  std::map<std::string, std::set<int>> marks;
  for (const auto& j : j3) {
    const std::string id = j["id"];
    orders[id].insert(j["mapping"].dump());
    const int k = j.contains("permutation") ? j["permutation"].get<int>() : 0;
    marks[id].insert(k);
    if (k == 0) EXPECT_EQ(j["mapping"], first_mapping[id]) << id;
  }
  ASSERT_EQ(orders.size(), 6u);
  for (const auto& [id, seen] : orders) {
    EXPECT_EQ(seen.size(), 3u) << id << ": the orders are not all different";
    EXPECT_EQ(marks[id], (std::set<int>{0, 1, 2})) << id;
  }
}

TEST(EvalPermutations, GroupRewardComponentIsScoredOverTheSamples) {
  // Sampled eval with 2 samples an item and the consistency component: scored per item through
  // score_group instead of failing in score().
  const fs::path run = eval_run("eval-perm-group",
                                " eval.greedy=false eval.samples=2 eval.permutations=2"
                                " 'reward.components+={name: consistency, weight: 0.5}'");
  if (HasFailure()) return;
  const auto e = nlohmann::json::parse(read_file((run / "eval" / "eval.json").string()));
  EXPECT_EQ(e["judgments"], 12);
  ASSERT_TRUE(e["reward"].contains("consistency")) << e["reward"].dump();
  expect_rate(e["reward"]["consistency"], 0.0, "consistency");
  EXPECT_EQ(e["permutation_consistency"]["items"], 6);
  EXPECT_EQ(read_lines(run / "eval" / "eval.judgments.jsonl").size(), 24u);
}

}  // namespace
}  // namespace principia
