// Evaluation metrics and RM-Bench scoring against hand computations.
#include <gtest/gtest.h>

#include <cmath>

#include "core/jsonl.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "rewards/records.h"
#include "rewards/rmbench.h"
#include "tests/common/test_data.h"

namespace principia::rewards {
namespace {

Gold gold(std::vector<double> s, std::string domain, std::string category = "") {
  Gold g;
  g.names = {"a", "b", "c"};
  g.scores = std::move(s);
  g.domain = std::move(domain);
  g.category = std::move(category);
  return g;
}

TEST(RewardsMetrics, HandComputedTwoItems) {
  EvalMetrics m;
  // Item 1: gold a5 b3 c1; predicted a4 b4 c1 with a full ranking.
  // pairs: (a,b) tied -> 0.5, (a,c) and (b,c) right -> 2.5 of 3.
  m.add(parse_judgment(R"({"scores": {"a": 4, "b": 4, "c": 1}, "best-to-worst": ["a","b","c"]})"),
        gold({5, 3, 1}, "chat", "x"));
  // Item 2: gold a2 b2 c4; unparseable. Pairs with different gold: (a,c), (b,c) -> 0 of 2.
  m.add(parse_judgment("no answer"), gold({2, 2, 4}, "math"));
  ordered_json j = m.to_json();
  const auto& o = j["overall"];
  EXPECT_EQ(o["judgments"], 2);
  EXPECT_DOUBLE_EQ(o["pairs"].get<double>(), 5);
  EXPECT_NEAR(o["pairwise_accuracy"].get<double>(), 2.5 / 5, 1e-12);
  EXPECT_NEAR(o["pairwise_tie_rate"].get<double>(), 1.0 / 5, 1e-12);
  // τ-b item 1: C − D = 2, untied pairs 2 (pred) and 3 (gold) -> 2/√6; item 2 counts 0.
  EXPECT_NEAR(o["kendall_tau_b"].get<double>(), (2.0 / std::sqrt(6.0)) / 2, 1e-12);
  // NDCG item 1: the tie a/b is ordered pessimistically (b first): gains 3, 15, 0.
  double ndcg1 = (3.0 + 15.0 / std::log2(3.0)) / (15.0 + 3.0 / std::log2(3.0));
  EXPECT_NEAR(o["ndcg"].get<double>(), ndcg1 / 2, 1e-12);
  EXPECT_NEAR(o["score_variance"].get<double>(), 2.0, 1e-12);  // var(4,4,1)
  EXPECT_NEAR(o["format_valid_rate"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(o["json_parsed_rate"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(j["by_domain"]["chat"]["pairwise_accuracy"].get<double>(), 2.5 / 3, 1e-12);
  EXPECT_NEAR(j["by_domain"]["math"]["pairwise_accuracy"].get<double>(), 0.0, 1e-12);
  EXPECT_EQ(j["by_category"]["x"]["judgments"], 1);
  EXPECT_TRUE(j["by_domain"]["math"]["score_variance"].is_null());
}

TEST(RewardsRmBench, HandMatrix) {
  // Item 1: chosen 3,2,1 vs rejected 2.5,1.5,0.5 -> rows [1 1 1], [0 1 1], [0 0 1].
  // Item 2: everything tied -> all 0 (ties count wrong).
  std::vector<RmBenchItem> items = {{"chat", {3, 2, 1}, {2.5, 1.5, 0.5}},
                                    {"chat", {1, 1, 1}, {1, 1, 1}}};
  RmBenchMatrix m = rmbench_matrix(items);
  EXPECT_DOUBLE_EQ(m.m[0][0], 0.5);
  EXPECT_DOUBLE_EQ(m.m[1][0], 0.0);
  EXPECT_DOUBLE_EQ(m.m[1][2], 0.5);
  EXPECT_DOUBLE_EQ(m.hard, 0.5);    // upper triangle .5 .5 .5
  EXPECT_DOUBLE_EQ(m.normal, 0.5);  // diagonal .5 .5 .5
  EXPECT_DOUBLE_EQ(m.easy, 0.0);    // lower triangle 0 0 0
  EXPECT_NEAR(m.average, 3.0 / 9.0, 1e-12);
  // Overall is the mean over domains, not over items.
  items.push_back({"math", {2, 2, 2}, {1, 1, 1}});
  RmBenchResult r = score_rmbench(items);
  EXPECT_NEAR(r.overall, (3.0 / 9.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(r.hard, (0.5 + 1.0) / 2, 1e-12);
  EXPECT_EQ(r.to_json()["domains"]["math"]["items"], 1);
}

TEST(RewardsRmBench, RealChatSplitWithLengthScorer) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  ordered_json data = read_json_file(testing::shared_data("real/rmbench_chat.json"));
  ASSERT_EQ(data.size(), 129u);
  std::vector<RmBenchItem> items;
  double by_hand[3][3] = {};
  for (const auto& rec : data) {
    ASSERT_EQ(rec["chosen"].size(), 3u);
    ASSERT_EQ(rec["rejected"].size(), 3u);
    RmBenchItem item;
    item.domain = "chat";
    for (int i = 0; i < 3; ++i) {
      item.chosen[i] = static_cast<double>(rec["chosen"][i].get<std::string>().size());
      item.rejected[i] = static_cast<double>(rec["rejected"][i].get<std::string>().size());
    }
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) by_hand[i][j] += item.chosen[i] > item.rejected[j];
    items.push_back(item);
  }
  RmBenchResult r = score_rmbench(items);
  const RmBenchMatrix& m = r.domains.at("chat");
  EXPECT_EQ(m.items, 129);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(m.m[i][j], by_hand[i][j] / 129.0, 1e-12);
  // A length scorer is the style bias RM-Bench exposes: it loses almost every hard pair
  // (concise chosen vs detailed rejected) and wins almost every easy one.
  EXPECT_LT(m.hard, 0.2);
  EXPECT_GT(m.easy, 0.8);
  EXPECT_DOUBLE_EQ(r.overall, m.average);
}

TEST(RewardsRecords, GoldAndJudgmentLines) {
  GoldRecord g = gold_from_json(
      ordered_json::parse(R"({"id": "x", "principle": "p", "prompt": "q",
        "responses": {"b": "B", "a": "A"}, "scores": {"a": 2, "b": 5}, "category": "c1"})"),
      {"g.jsonl", 3, 0});
  EXPECT_EQ(g.gold.names, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(g.gold.scores, (std::vector<double>{5, 2}));
  EXPECT_EQ(g.gold.category, "c1");
  auto expect_error = [](const char* text, const std::string& needle) {
    try {
      (void)gold_from_json(ordered_json::parse(text), {"g.jsonl", 3, 0});
      FAIL() << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"responses": {"a": "", "b": ""}, "scores": {"a": 1, "b": 2}})", "g.jsonl:3: id");
  expect_error(R"({"id": "x", "responses": {"a": "", "b": ""}, "scores": {"a": 1}})",
               "scores.b: missing");
  expect_error(R"({"id": "x", "responses": {"a": "", "b": ""}, "scores": {"a": 1, "b": 9}})",
               "scores.b: must be a number in [1, 5]");
  expect_error(R"({"id": "x", "scores": {"a": 1}})", "at least 2");
  JudgmentLine j = judgment_line_from_json(
      ordered_json::parse(R"({"id": "x", "output": "o", "mapping": {"model-1": "b"}})"), {});
  EXPECT_EQ(j.mapping.size(), 1u);
  EXPECT_THROW(judgment_line_from_json(ordered_json::parse(R"({"id": "x", "output": 3})"), {}),
               Error);
}

}  // namespace
}  // namespace principia::rewards
