// End to end: `principia score` reproduces the fixture's weighted_pair values through files,
// bad lines are reported with file:line, `principia consensus` writes dataset records.
#include <gtest/gtest.h>

#include <fstream>

#include "core/files.h"
#include "core/jsonl.h"
#include "tests/common/test_data.h"

namespace principia::rewards {
namespace {

using testing::principia_binary;
using testing::run_command;
using testing::shared_data;
using testing::temp_dir;

void write_lines(const std::filesystem::path& path, const std::vector<ordered_json>& lines) {
  std::ofstream out(path);
  for (const auto& l : lines) out << l.dump() << "\n";
}

std::vector<ordered_json> read_lines(const std::filesystem::path& path) {
  std::vector<ordered_json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(ordered_json::parse(line));
  return out;
}

// The stdout JSON of a command (stderr goes to a file so the JSON parses alone).
ordered_json run_json(const std::string& cmd, int* rc) {
  std::string out;
  *rc = run_command("(" + cmd + " 2>/dev/null)", &out);
  return ordered_json::parse(out, nullptr, false);
}

TEST(RewardsCli, ScoreReproducesFixtureWeightedPair) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  ordered_json cases = read_json_file(shared_data("judge/parse_cases.json"));
  auto dir = temp_dir("rewards_cli_score");
  std::vector<ordered_json> gold, judgments;
  const std::vector<std::string> real = {"alpha", "beta", "gamma"};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    // Case i twice: once judged under the real names ("a<i>"), once under shown names mapped
    // back to different real names ("b<i>") — the mapping must make them identical.
    ordered_json g_shown = {{"id", "a" + std::to_string(i)}, {"principle", "p"}, {"prompt", "q"}};
    ordered_json g_real = g_shown;
    g_real["id"] = "b" + std::to_string(i);
    ordered_json responses_shown = ordered_json::object(), responses_real = ordered_json::object();
    ordered_json scores_real = ordered_json::object(), mapping = ordered_json::object();
    size_t k = 0;
    for (auto it = c["gold_scores"].begin(); it != c["gold_scores"].end(); ++it, ++k) {
      responses_shown[it.key()] = "text";
      responses_real[real[k]] = "text";
      scores_real[real[k]] = *it;
      mapping[it.key()] = real[k];
    }
    g_shown["responses"] = responses_shown;
    g_shown["scores"] = c["gold_scores"];
    g_shown["domain"] = "fixtures";
    g_real["responses"] = responses_real;
    g_real["scores"] = scores_real;
    gold.push_back(g_shown);
    gold.push_back(g_real);
    judgments.push_back({{"id", g_shown["id"]}, {"output", c["output"]}});
    judgments.push_back({{"id", g_real["id"]}, {"output", c["output"]}, {"mapping", mapping}});
  }
  write_lines(dir / "gold.jsonl", gold);
  write_lines(dir / "judgments.jsonl", judgments);
  int rc = 0;
  std::string cmd = principia_binary() + " score --gold " + (dir / "gold.jsonl").string() +
                    " --judgments " + (dir / "judgments.jsonl").string() + " --per-item " +
                    (dir / "items.jsonl").string();
  ordered_json out = run_json(cmd, &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_FALSE(out.is_discarded());
  EXPECT_EQ(out["judgments"], 20);
  EXPECT_EQ(out["gold_without_judgment"], 0);
  EXPECT_EQ(out["parse_stages"]["none"], 6);
  EXPECT_EQ(out["metrics"]["by_domain"]["fixtures"]["judgments"], 10);
  std::vector<ordered_json> items = read_lines(dir / "items.jsonl");
  ASSERT_EQ(items.size(), 20u);
  for (size_t n = 0; n < items.size(); ++n) {
    const auto& c = cases[n / 2];
    double wp = items[n]["components"]["weighted_pair"].get<double>();
    SCOPED_TRACE(items[n].dump());
    if (!c["weighted_pair"].is_null()) {
      EXPECT_NEAR(wp, c["weighted_pair"].get<double>(), 1e-12);
    } else if (!c["json_parsed"].get<bool>()) {
      EXPECT_EQ(wp, 0.0);
    }
    EXPECT_EQ(items[n]["components"], items[n - n % 2]["components"]);  // mapping = relabel
  }
  // Mean reward per component is reported.
  EXPECT_TRUE(out["reward"]["mean"].contains("format"));
  EXPECT_NEAR(out["reward"]["weights"]["weighted_pair"].get<double>(), 0.85, 1e-12);
}

TEST(RewardsCli, ScoreBadLinesNameFileLineAndField) {
  auto dir = temp_dir("rewards_cli_bad");
  std::ofstream(dir / "gold.jsonl")
      << R"({"id": "x", "responses": {"a": "", "b": ""}, "scores": {"a": 5, "b": 1}})" "\n"
      << R"({"id": "y", "responses": {"a": "", "b": ""}, "scores": {"a": 5}})" "\n";
  std::ofstream(dir / "j.jsonl") << R"({"id": "x", "output": "{\"scores\": {\"a\": 4, \"b\": 2}}"})"
                                 << "\n{not json\n"
                                 << R"({"id": "x", "output": 7})" "\n";
  std::string base = principia_binary() + " score --gold " + (dir / "gold.jsonl").string() +
                     " --judgments " + (dir / "j.jsonl").string();
  std::string out;
  EXPECT_EQ(run_command(base, &out), 2);
  EXPECT_NE(out.find("gold.jsonl:2: scores.b: missing"), std::string::npos) << out;
  EXPECT_EQ(out.find("internal"), std::string::npos) << out;
  int rc = 0;
  ordered_json j = run_json(base + " --skip-bad", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(j["bad_lines_skipped"], 3);
  EXPECT_EQ(j["judgments"], 1);
  EXPECT_EQ(run_command(base + " --skip-bad", &out), 0);
  EXPECT_NE(out.find("j.jsonl:3: output: must be a string"), std::string::npos) << out;
  EXPECT_NE(out.find("j.jsonl:2:"), std::string::npos) << out;
  EXPECT_NE(out.find("3 bad record(s)"), std::string::npos) << out;
  EXPECT_EQ(run_command(principia_binary() + " score --gold " + (dir / "nope.jsonl").string() +
                            " --judgments x",
                        &out),
            2);
}

TEST(RewardsCli, ScoreWithRewardFile) {
  auto dir = temp_dir("rewards_cli_reward");
  std::ofstream(dir / "gold.jsonl")
      << R"({"id": "x", "responses": {"a": "", "b": ""}, "scores": {"a": 5, "b": 1}})" "\n";
  std::ofstream(dir / "j.jsonl")
      << R"({"id": "x", "output": "{\"scores\": {\"a\": 1, \"b\": 5}}"})" "\n";
  std::ofstream(dir / "r.yaml") << "components:\n  - {name: top1, weight: 1}\n"
                                   "  - {name: ndcg, weight: 3, params: {k: 1, gain: linear}}\n";
  std::ofstream(dir / "bad.yaml") << "components:\n  - {name: ndgc, weight: 1}\n";
  std::string base = principia_binary() + " score --gold " + (dir / "gold.jsonl").string() +
                     " --judgments " + (dir / "j.jsonl").string() + " --reward ";
  int rc = 0;
  ordered_json j = run_json(base + (dir / "r.yaml").string(), &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(j["reward"]["mean"]["top1"], 0.0);
  EXPECT_EQ(j["reward"]["mean"]["ndcg"], 0.0);
  std::string out;
  EXPECT_EQ(run_command(base + (dir / "bad.yaml").string(), &out), 2);
  EXPECT_NE(out.find("reward.components[0].name"), std::string::npos) << out;
  EXPECT_NE(out.find("did you mean 'ndcg'"), std::string::npos) << out;
}

// A reward file's `require_valid_format: true` applies in `score` as in training: a judgment whose
// ranking repeats a name keeps only its format reward.
TEST(RewardsCli, ScoreAppliesRequireValidFormatFromTheRewardFile) {
  auto dir = temp_dir("rewards_cli_gate");
  std::ofstream(dir / "gold.jsonl")
      << R"({"id": "x", "responses": {"a": "", "b": ""}, "scores": {"a": 5, "b": 1}})" "\n";
  std::ofstream(dir / "j.jsonl")
      << R"({"id": "x", "output": "{\"scores\": {\"a\": 5, \"b\": 1}, )"
         R"(\"best-to-worst\": [\"a\", \"a\"]}"})" "\n";
  const std::string components =
      "components: [{name: format, weight: 0.15}, {name: weighted_pair, weight: 0.85}]\n";
  std::ofstream(dir / "open.yaml") << components;
  std::ofstream(dir / "gated.yaml")
      << "reward:\n  " << components << "  require_valid_format: true\n";
  std::string base = principia_binary() + " score --gold " + (dir / "gold.jsonl").string() +
                     " --judgments " + (dir / "j.jsonl").string() + " --reward ";
  int rc = 0;
  ordered_json open = run_json(base + (dir / "open.yaml").string(), &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(open["reward"]["mean"]["weighted_pair"], 1.0);
  ordered_json gated = run_json(base + (dir / "gated.yaml").string(), &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(gated["reward"]["mean"]["weighted_pair"], 0.0);
  EXPECT_EQ(gated["reward"]["require_valid_format"], true);
}

TEST(RewardsCli, ConsensusWritesDatasetRecords) {
  auto dir = temp_dir("rewards_cli_consensus");
  // Example A of test_consensus.cpp: ranking a, b, c; means 14/3, 10/3, 2.
  std::ofstream(dir / "judges.jsonl")
      << R"({"id": "q1", "principle": "p", "prompt": "q", "responses": {"a": "A", "b": "B", "c": "C"},)"
      << R"( "judges": [{"name": "j1", "scores": {"a": 5, "b": 3, "c": 1}},)"
      << R"( {"name": "j2", "scores": {"a": 4, "b": 5, "c": 2}},)"
      << R"( {"name": "j3", "scores": {"a": 5, "b": 2, "c": 3}}]})" "\n"
      << R"({"id": "q2", "judges": [{"scores": {"a": 1, "zz": 2}}], "responses": {"a": "", "b": ""}})"
      << "\n";
  std::string base = principia_binary() + " consensus " + (dir / "judges.jsonl").string() + " " +
                     (dir / "out.jsonl").string();
  std::string out;
  EXPECT_EQ(run_command(base, &out), 2);
  EXPECT_NE(out.find("judges.jsonl:2"), std::string::npos) << out;
  EXPECT_NE(out.find("unknown candidate 'zz'"), std::string::npos) << out;
  for (const char* method : {"support-dp", "kemeny"}) {
    EXPECT_EQ(run_command(base + " --skip-bad --method " + method, &out), 0) << out;
    std::vector<ordered_json> recs = read_lines(dir / "out.jsonl");
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0]["ranking"], (ordered_json{"a", "b", "c"}));
    EXPECT_NEAR(recs[0]["scores"]["a"].get<double>(), 14.0 / 3, 1e-12);
    EXPECT_EQ(recs[0]["agreement"]["method"], method);
    EXPECT_EQ(recs[0]["agreement"]["disagreements"], 2);
    EXPECT_EQ(recs[0]["principle"], "p");
  }
  EXPECT_EQ(run_command(base + " --method borda", &out), 2);
  EXPECT_EQ(run_command(principia_binary() + " consensus --help", &out), 0);
  EXPECT_NE(out.find("judges"), std::string::npos);
}

}  // namespace
}  // namespace principia::rewards
