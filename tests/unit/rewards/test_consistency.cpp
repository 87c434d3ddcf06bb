// Agreement between rankings (eval's permutation consistency) and the group-level `consistency`
// reward component: hand-computed values, the majority ranking, and the composite's group path.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/jsonl.h"
#include "rewards/judgment_parser.h"
#include "rewards/ranking_agreement.h"
#include "rewards/registry.h"

namespace principia::rewards {
namespace {

using Names = std::vector<std::string>;

const Names kNames = {"a", "b", "c", "d"};

Gold gold4() {
  Gold g;
  g.names = kNames;
  g.scores = {5, 3, 2, 1};
  return g;
}

// A well-formed judgment whose ranking is `ranking` (scores 5, 4, ... down it).
Judgment judgment_ranking(const Names& ranking) {
  ordered_json scores = ordered_json::object();
  for (size_t i = 0; i < ranking.size(); ++i) scores[ranking[i]] = 5 - int(i);
  return parse_judgment("<think>" + std::string(80, 'r') + "</think>\n" +
                        ordered_json{{"scores", scores}, {"best-to-worst", ranking}}.dump());
}

std::vector<config::RewardComponentConfig> components(
    const std::vector<std::pair<std::string, double>>& named,
    const nlohmann::json& consistency_params = nlohmann::json::object()) {
  std::vector<config::RewardComponentConfig> out;
  for (const auto& [name, weight] : named) {
    config::RewardComponentConfig c;
    c.name = name;
    c.weight = weight;
    if (name == "consistency") c.params = consistency_params;
    out.push_back(c);
  }
  return out;
}

TEST(RankingAgreement, PositionsNeedACompleteRankingOfTheCandidates) {
  std::vector<int> pos;
  ASSERT_TRUE(ranking_positions({"c", "a", "d", "b"}, kNames, &pos));
  EXPECT_EQ(pos, (std::vector<int>{1, 3, 0, 2}));
  EXPECT_EQ(top_of(pos), 2);
  EXPECT_FALSE(ranking_positions({"a", "b", "c"}, kNames, &pos));       // partial
  EXPECT_FALSE(ranking_positions({"a", "b", "c", "x"}, kNames, &pos));  // unknown name
  EXPECT_FALSE(ranking_positions({"a", "b", "c", "c"}, kNames, &pos));  // repeated
  EXPECT_FALSE(ranking_positions({}, kNames, &pos));
}

TEST(RankingAgreement, KendallTauOfRankings) {
  std::vector<int> a, b;
  ASSERT_TRUE(ranking_positions({"a", "b", "c", "d"}, kNames, &a));
  ASSERT_TRUE(ranking_positions({"d", "c", "b", "a"}, kNames, &b));
  EXPECT_DOUBLE_EQ(ranking_kendall_tau(a, a), 1.0);
  EXPECT_DOUBLE_EQ(ranking_kendall_tau(a, b), -1.0);
  ASSERT_TRUE(ranking_positions({"b", "a", "c", "d"}, kNames, &b));  // one of 6 pairs swapped
  EXPECT_DOUBLE_EQ(ranking_kendall_tau(a, b), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(ranking_kendall_tau({0}, {0}), 1.0);  // a single candidate
}

TEST(RankingAgreement, PairsOfValidRankingsOnly) {
  const RankingAgreement r = ranking_agreement(
      {{"a", "b", "c", "d"}, {"b", "a", "c", "d"}, {"a", "b", "c", "d"}, {"a", "b"}}, kNames);
  EXPECT_EQ(r.rankings, 4);
  EXPECT_EQ(r.invalid, 1);
  EXPECT_EQ(r.pairs, 3);
  // pairs (1,2): τ 2/3, tops differ; (1,3): τ 1, same top; (2,3): τ 2/3, tops differ.
  EXPECT_NEAR(r.tau_mean(), (2.0 / 3 + 1 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(r.top1_agreement(), 1.0 / 3, 1e-12);
  EXPECT_TRUE(std::isnan(ranking_agreement({{"a"}, {"b", "a", "c", "d"}}, kNames).tau_mean()));
}

TEST(RankingAgreement, ReportOverallAndByDomain) {
  PermutationConsistency report(3);
  report.add_item("x", ranking_agreement({{"a", "b", "c", "d"}, {"b", "a", "c", "d"},
                                          {"a", "b", "c", "d"}},
                                         kNames));
  report.add_item("y", ranking_agreement({{"a", "b", "c", "d"}, {}, {"zz"}}, kNames));
  const ordered_json j = report.to_json();
  EXPECT_EQ(j["permutations"], 3);
  EXPECT_EQ(j["items"], 2);
  EXPECT_EQ(j["items_scored"], 1);
  EXPECT_NEAR(j["kendall_tau_mean"].get<double>(), 7.0 / 9, 1e-12);
  EXPECT_NEAR(j["top1_agreement"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(j["permutation_invalid_rate"].get<double>(), 2.0 / 6, 1e-12);
  EXPECT_EQ(j["by_domain"]["x"]["items"], 1);
  EXPECT_NEAR(j["by_domain"]["x"]["permutation_invalid_rate"].get<double>(), 0.0, 1e-12);
  EXPECT_TRUE(j["by_domain"]["y"]["kendall_tau_mean"].is_null());
  EXPECT_NEAR(j["by_domain"]["y"]["permutation_invalid_rate"].get<double>(), 2.0 / 3, 1e-12);
}

TEST(MajorityRanking, BordaCountTiesByName) {
  // Points: a 3+2+3 = 8, b 2+3+1 = 6, c 1+1+2 = 4, d 0; the invalid ranking counts for nothing.
  EXPECT_EQ(majority_ranking({{"a", "b", "c", "d"}, {"b", "a", "c", "d"}, {"a", "c", "b", "d"},
                              {"d", "d", "d", "d"}},
                             kNames),
            (Names{"a", "b", "c", "d"}));
  // a and b tie on points: the name decides, whatever the gold order.
  EXPECT_EQ(majority_ranking({{"b", "a"}, {"a", "b"}}, {"b", "a"}), (Names{"a", "b"}));
  EXPECT_TRUE(majority_ranking({{"a"}, {}}, kNames).empty());
}

TEST(ConsistencyReward, AgreeingDisagreeingAndInvalidSamples) {
  CompositeReward reward(components({{"consistency", 1.0}}));
  ASSERT_TRUE(reward.has_group_components());
  const std::vector<Judgment> group = {
      judgment_ranking({"a", "b", "c", "d"}), judgment_ranking({"b", "a", "c", "d"}),
      judgment_ranking({"a", "c", "b", "d"}), judgment_ranking({"a", "b", "c", "d"}),
      judgment_ranking({"d", "c", "b", "a"}), parse_judgment("no answer")};
  // Borda: a 3+2+3+3+0 = 11, b 2+3+1+2+1 = 9, c 1+1+2+1+2 = 7, d 0+0+0+0+3 = 3.
  std::vector<RewardBreakdown> out;
  reward.score_group(group, gold4(), &out);
  ASSERT_EQ(out.size(), group.size());
  const std::vector<double> expected = {1.0, 5.0 / 6, 5.0 / 6, 1.0, 0.0, 0.0};
  for (size_t i = 0; i < group.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(out[i].values.size(), 1u);
    EXPECT_NEAR(out[i].values[0], expected[i], 1e-12);
    EXPECT_NEAR(out[i].total, expected[i], 1e-12);
  }
}

TEST(ConsistencyReward, TooFewValidRankingsGiveZero) {
  CompositeReward reward(components({{"consistency", 1.0}}, {{"min_valid", 3}}));
  const std::vector<Judgment> group = {judgment_ranking({"a", "b", "c", "d"}),
                                       judgment_ranking({"a", "b", "c", "d"}),
                                       parse_judgment("{\"best-to-worst\": [\"a\"]}")};
  std::vector<RewardBreakdown> out;
  reward.score_group(group, gold4(), &out);
  for (const auto& b : out) EXPECT_EQ(b.values[0], 0.0);
  // The default (2) counts the two agreeing rankings.
  CompositeReward by_default(components({{"consistency", 1.0}}));
  by_default.score_group(group, gold4(), &out);
  EXPECT_EQ(out[0].values[0], 1.0);
  EXPECT_EQ(out[2].values[0], 0.0);
  // A lone valid ranking is not rewarded for agreeing with itself.
  by_default.score_group({judgment_ranking({"a", "b", "c", "d"})}, gold4(), &out);
  EXPECT_EQ(out[0].values[0], 0.0);
}

TEST(ConsistencyReward, ScoreGroupEqualsScoreWithoutGroupComponents) {
  const std::vector<Judgment> group = {
      judgment_ranking({"a", "b", "c", "d"}), judgment_ranking({"b", "a", "d", "c"}),
      judgment_ranking({"a", "b", "c"}),
      parse_judgment("<think>x</think> {\"scores\": {\"a\": 9}}"),
      parse_judgment("garbage")};
  for (bool require_valid : {false, true}) {
    CompositeReward reward(
        components({{"format", 0.15}, {"weighted_pair", 0.85}, {"kendall_tau", 0.3}}),
        require_valid);
    EXPECT_FALSE(reward.has_group_components());
    std::vector<RewardBreakdown> out;
    reward.score_group(group, gold4(), &out);
    ASSERT_EQ(out.size(), group.size());
    for (size_t i = 0; i < group.size(); ++i) {
      const RewardBreakdown one = reward.score(group[i], gold4());
      EXPECT_EQ(out[i].total, one.total) << i;
      EXPECT_EQ(out[i].values, one.values) << i;
    }
  }
}

TEST(ConsistencyReward, MixedCompositeKeepsPerJudgmentComponentsAndGating) {
  CompositeReward mixed(
      components({{"format", 0.2}, {"consistency", 0.3}, {"weighted_pair", 0.5}}), true);
  CompositeReward plain(components({{"format", 0.2}, {"weighted_pair", 0.5}}), true);
  const std::vector<Judgment> group = {
      judgment_ranking({"a", "b", "c", "d"}), judgment_ranking({"b", "a", "c", "d"}),
      judgment_ranking({"a", "b", "c", "d"}),
      parse_judgment("<think>x</think>{\"scores\": {\"a\": 9, \"b\": 3, \"c\": 2, \"d\": 1}, "
                     "\"best-to-worst\": [\"a\", \"b\", \"c\", \"d\"]}")};  // a's score invalid
  std::vector<RewardBreakdown> out;
  mixed.score_group(group, gold4(), &out);
  for (size_t i = 0; i < group.size(); ++i) {
    SCOPED_TRACE(i);
    const RewardBreakdown p = plain.score(group[i], gold4());
    EXPECT_EQ(out[i].values[0], p.values[0]);
    EXPECT_EQ(out[i].values[2], p.values[1]);
    EXPECT_NEAR(out[i].total, 0.2 * p.values[0] + 0.3 * out[i].values[1] + 0.5 * p.values[1],
                1e-12);  // the weights sum to 1
  }
  // Majority a b c d (the gated judgment's ranking still votes): τ 1 and 2/3.
  EXPECT_NEAR(out[0].values[1], 1.0, 1e-12);
  EXPECT_NEAR(out[1].values[1], 5.0 / 6, 1e-12);
  EXPECT_EQ(out[3].values[1], 0.0);  // invalid format: gated like every non-format component
}

TEST(ConsistencyReward, ScoreOneJudgmentIsAClearError) {
  CompositeReward reward(components({{"format", 0.2}, {"consistency", 0.8}}));
  try {
    reward.score(judgment_ranking({"a", "b", "c", "d"}), gold4());
    FAIL() << "score() accepted a group component";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("reward.components[1].name"), std::string::npos) << msg;
    EXPECT_NE(msg.find("consistency' needs the group: use score_group"), std::string::npos) << msg;
  }
}

TEST(ConsistencyReward, RegistryNamesAndParams) {
  EXPECT_EQ(group_component_names(), (Names{"consistency"}));
  for (const auto& name : component_names()) EXPECT_NE(name, "consistency");
  try {
    CompositeReward r(components({{"consistensy", 1.0}}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'consistency'"), std::string::npos)
        << e.what();
  }
  try {
    CompositeReward r(components({{"format", 1.0}, {"consistency", 1.0}}, {{"min_valid", 0}}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reward.components[1].params.min_valid"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(make_component("consistency", nlohmann::json::object(), "t", {}), Error);
}

}  // namespace
}  // namespace principia::rewards
