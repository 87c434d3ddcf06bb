// Reward components: fixture values, hand-computed format credits, properties, the registry
// and the composite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/jsonl.h"
#include "rewards/components/components.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "rewards/registry.h"
#include "tests/common/test_data.h"

namespace principia::rewards {
namespace {

Gold gold_of(const ordered_json& scores) {
  Gold g;
  for (auto it = scores.begin(); it != scores.end(); ++it) {
    g.names.push_back(it.key());
    g.scores.push_back(it->get<double>());
  }
  return g;
}

Gold make_gold(std::vector<double> scores) {
  Gold g;
  for (size_t i = 0; i < scores.size(); ++i) g.names.push_back("c" + std::to_string(i));
  g.scores = std::move(scores);
  return g;
}

// A judgment text scoring gold's candidates with `scores` (ranking sorted by them).
std::string judgment_text(const Gold& g, const std::vector<double>& scores,
                          const std::string& reasoning = std::string(80, 'r')) {
  ordered_json s = ordered_json::object();
  std::vector<size_t> order(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    s[g.names[i]] = scores[i];
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ordered_json r = ordered_json::array();
  for (size_t i : order) r.push_back(g.names[i]);
  return "<think>" + reasoning + "</think>\n" +
         ordered_json{{"scores", s}, {"best-to-worst", r}}.dump();
}

struct AllComponents {
  std::vector<std::pair<std::string, ComponentFn>> fns;
  AllComponents() {
    for (const auto& name : component_names())
      fns.emplace_back(name, make_component(name, nlohmann::json::object(), "t", {}));
  }
};

std::vector<config::RewardComponentConfig> default_components() {
  config::RewardComponentConfig f, w;
  f.name = "format";
  f.weight = 0.15;
  w.name = "weighted_pair";
  w.weight = 0.85;
  return {f, w};
}

TEST(RewardsComponents, WeightedPairMatchesFixtures) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  ordered_json cases = read_json_file(testing::shared_data("judge/parse_cases.json"));
  int checked = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i));
    Judgment j = parse_judgment(c["output"].get<std::string>());
    Gold g = gold_of(c["gold_scores"]);
    RewardInput in;
    align(j, g, &in);
    double r = weighted_pair_reward(in, {});
    if (!c["weighted_pair"].is_null()) {
      EXPECT_NEAR(r, c["weighted_pair"].get<double>(), 1e-12);
      ++checked;
    } else if (!j.json_parsed) {
      EXPECT_EQ(r, 0.0);
    }
  }
  EXPECT_EQ(checked, 6);
}

TEST(RewardsComponents, FormatHandComputedOnFixtures) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  ordered_json cases = read_json_file(testing::shared_data("judge/parse_cases.json"));
  // think 0.15 (+0.05 long reasoning) | JSON 0.20 (bracket 0.15) | scores 0.10 | ranking 0.10 |
  // coverage 0.20 | consistency 0.20.
  const double expected[10] = {
      1.0,                            // all parts, reasoning > 50 chars
      0.95,                           // short reasoning
      0.95,                           // repaired, ranking consistent with scores
      0.95,                           // all ties: non-increasing, consistent
      0.75,                           // no think tags, bracket extraction
      0.05,                           // one tag, nothing parsed
      0.0, 0.0,                       // nothing
      0.15 + 0.4 + 0.2 * 2 / 3 + 0.2,  // two of three scored
      0.95,                           // scores as strings
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Judgment j = parse_judgment(cases[i]["output"].get<std::string>());
    Gold g = gold_of(cases[i]["gold_scores"]);
    RewardInput in;
    align(j, g, &in);
    EXPECT_NEAR(format_reward(in, {}), expected[i], 1e-12) << "case " << i;
  }
  // Only two scored of three: the missing candidate's two pairs count as reversed: 1 − 6/11.
  Judgment partial = parse_judgment(cases[8]["output"].get<std::string>());
  Gold g = gold_of(cases[8]["gold_scores"]);
  RewardInput in;
  align(partial, g, &in);
  EXPECT_NEAR(weighted_pair_reward(in, {}), 5.0 / 11.0, 1e-12);
}

TEST(RewardsComponents, FormatConsistencyShare) {
  Gold g = make_gold({5, 3, 1});
  // Ranking c0, c1, c2 against scores 5, 1, 3: one adjacent pair of two increases.
  Judgment j = parse_judgment(
      "<think>x</think>{\"scores\": {\"c0\": 5, \"c1\": 1, \"c2\": 3}, "
      "\"best-to-worst\": [\"c0\", \"c1\", \"c2\"]}");
  RewardInput in;
  align(j, g, &in);
  EXPECT_NEAR(format_reward(in, {}), 0.15 + 0.2 + 0.1 + 0.1 + 0.2 + 0.2 * 0.5, 1e-12);
}

TEST(RewardsComponents, PerfectJudgmentScoresOneEverywhere) {
  AllComponents all;
  for (auto scores : {std::vector<double>{5, 3, 1}, {1, 2, 3, 4, 5, 4.5, 2.5, 1.5},
                      {4, 4, 2, 1}}) {
    Gold g = make_gold(scores);
    Judgment j = parse_judgment(judgment_text(g, scores));
    RewardInput in;
    align(j, g, &in);
    // overlong is a length penalty, 0 for a judgment of unknown length.
    for (const auto& [name, fn] : all.fns) EXPECT_DOUBLE_EQ(fn(in), name == "overlong" ? 0.0 : 1.0) << name;
  }
}

TEST(RewardsComponents, UnparseableGivesZeroExceptThinkCredit) {
  AllComponents all;
  Gold g = make_gold({5, 3, 1});
  Judgment j = parse_judgment("<think>" + std::string(80, 'r') + "</think> no verdict");
  RewardInput in;
  align(j, g, &in);
  for (const auto& [name, fn] : all.fns)
    EXPECT_DOUBLE_EQ(fn(in), name == "format" ? 0.2 : 0.0) << name;
}

TEST(RewardsComponents, WeightedPairHandExamples) {
  Gold g = make_gold({5, 4, 1});  // pair weights: (0,1) 2, (0,2) 5, (1,2) 4; total 11
  auto wp = [&](std::vector<double> pred) {
    Judgment j = parse_judgment(judgment_text(g, pred));
    RewardInput in;
    align(j, g, &in);
    return weighted_pair_reward(in, {});
  };
  // Reversing a large-gap pair costs more than reversing a small-gap pair.
  EXPECT_NEAR(wp({4, 5, 1}), 1.0 - 2.0 / 11.0, 1e-12);  // (0,1), gap 1, reversed
  EXPECT_NEAR(wp({5, 1, 4}), 1.0 - 4.0 / 11.0, 1e-12);  // (1,2), gap 3, reversed
  EXPECT_LT(wp({5, 1, 4}), wp({4, 5, 1}));
  EXPECT_NEAR(wp({2, 4, 3}), 1.0 - 7.0 / 11.0, 1e-12);  // (0,1) and (0,2) reversed
  EXPECT_NEAR(wp({3, 3, 1}), 1.0 - 1.0 / 11.0, 1e-12);  // tie on the gap-1 pair costs half
  WeightedPairParams flat{0.0, 0.5};  // gap_weight 0: plain pair counting
  Judgment j = parse_judgment(judgment_text(g, {1, 2, 3}));
  RewardInput in;
  align(j, g, &in);
  EXPECT_DOUBLE_EQ(weighted_pair_reward(in, flat), 0.0);
}

TEST(RewardsComponents, RelabellingChangesNothing) {
  std::mt19937_64 rng(11);
  AllComponents all;
  for (int trial = 0; trial < 200; ++trial) {
    size_t k = 2 + rng() % 7;
    std::vector<double> gold(k), pred(k);
    for (size_t i = 0; i < k; ++i) {
      gold[i] = 1 + static_cast<double>(rng() % 5);
      pred[i] = 1 + static_cast<double>(rng() % 9) / 2.0;
    }
    Gold g = make_gold(gold);
    // The judge saw the candidates as model-1..k in a random order.
    std::vector<size_t> perm(k);
    for (size_t i = 0; i < k; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    Gold shown;
    NameMapping mapping;
    std::vector<double> shown_pred(k);
    for (size_t s = 0; s < k; ++s) {
      shown.names.push_back("model-" + std::to_string(s + 1));
      shown.scores.push_back(gold[perm[s]]);
      shown_pred[s] = pred[perm[s]];
      mapping.emplace_back(shown.names.back(), g.names[perm[s]]);
    }
    Judgment direct = parse_judgment(judgment_text(g, pred));
    Judgment relabelled = parse_judgment(judgment_text(shown, shown_pred));
    remap_names(relabelled, mapping);
    RewardInput a, b;
    align(direct, g, &a);
    align(relabelled, g, &b);
    for (const auto& [name, fn] : all.fns) {
      if (name == "top1" || name == "format") continue;  // ranking order of ties may differ
      EXPECT_NEAR(fn(a), fn(b), 1e-12) << name << " trial " << trial;
    }
    // Tie-free predictions: every component, top1 and format included, must agree.
    std::vector<double> distinct(k);
    for (size_t i = 0; i < k; ++i) distinct[i] = 1 + 4.0 * static_cast<double>(i) / k;
    std::shuffle(distinct.begin(), distinct.end(), rng);
    std::vector<double> shown_distinct(k);
    for (size_t s = 0; s < k; ++s) shown_distinct[s] = distinct[perm[s]];
    Judgment d1 = parse_judgment(judgment_text(g, distinct));
    Judgment d2 = parse_judgment(judgment_text(shown, shown_distinct));
    remap_names(d2, mapping);
    align(d1, g, &a);
    align(d2, g, &b);
    for (const auto& [name, fn] : all.fns) EXPECT_NEAR(fn(a), fn(b), 1e-12) << name;
  }
}

TEST(RewardsComponents, EveryComponentStaysInUnitInterval) {
  std::mt19937_64 rng(5);
  AllComponents all;
  std::vector<std::string> names = {"c0", "c1", "c2", "c3", "c4", "zz", "c0"};
  for (int trial = 0; trial < 3000; ++trial) {
    size_t k = 2 + rng() % 6;
    std::vector<double> gold(k);
    for (auto& x : gold) x = 1 + static_cast<double>(rng() % 41) / 10.0;
    Gold g = make_gold(gold);
    // Random judgments: random subsets, unknown and repeated names, invalid values, noise.
    std::string text = (rng() % 2 ? "<think>" : "") + std::string(rng() % 80, 'r') +
                       (rng() % 2 ? "</think>" : "") + "{\"scores\": {";
    size_t m = rng() % 8;
    for (size_t i = 0; i < m; ++i)
      text += "\"" + names[rng() % names.size()] + "\": " +
              std::to_string(static_cast<int>(rng() % 8)) + ", ";
    text += "}, \"best-to-worst\": [";
    for (size_t i = 0; i < rng() % 8; ++i) text += "\"" + names[rng() % names.size()] + "\",";
    text += "]}";
    if (rng() % 5 == 0) text.resize(rng() % text.size());
    Judgment j = parse_judgment(text);
    RewardInput in;
    align(j, g, &in);
    for (const auto& [name, fn] : all.fns) {
      double r = fn(in);
      EXPECT_TRUE(r >= 0.0 && r <= 1.0) << name << " = " << r << " on " << text;
    }
  }
}

TEST(RewardsComponents, OtherComponentsHandValues) {
  Gold g = make_gold({5, 3, 1});
  auto in_for = [&](std::vector<double> pred, RewardInput* in, Judgment* j) {
    *j = parse_judgment(judgment_text(g, pred));
    align(*j, g, in);
  };
  RewardInput in;
  Judgment j;
  in_for({3, 5, 1}, &in, &j);
  // τ-b: pairs (0,1) discordant, (0,2) and (1,2) concordant -> τ = 1/3 -> 2/3.
  EXPECT_NEAR(kendall_tau_reward(in), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(score_closeness_reward(in, {}), 1.0 - (0.5 + 0.5) / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(distribution_match_reward(in, {}), 1.0);  // same multiset of scores
  EXPECT_DOUBLE_EQ(top1_reward(in), 0.0);
  // NDCG, exponential gain 2^(g-1)-1: gains 15, 3, 0. Predicted order c1, c0, c2.
  double dcg = 3.0 / std::log2(2) + 15.0 / std::log2(3);
  double idcg = 15.0 / std::log2(2) + 3.0 / std::log2(3);
  EXPECT_NEAR(ndcg_reward(in, {}), dcg / idcg, 1e-12);
  NdcgParams top1{1, NdcgGain::kLinear};
  EXPECT_NEAR(ndcg_reward(in, top1), 2.0 / 4.0, 1e-12);
  // All tied: ties ordered pessimistically for NDCG, τ undefined -> 0.5, top1 shares credit.
  in_for({3, 3, 3}, &in, &j);
  EXPECT_DOUBLE_EQ(kendall_tau_reward(in), 0.5);
  EXPECT_NEAR(top1_reward(in), 1.0, 1e-12);  // the ranking (input order) names c0 first
  double worst = (0.0 / std::log2(2) + 3.0 / std::log2(3) + 15.0 / std::log2(4));
  EXPECT_NEAR(ndcg_reward(in, {}), worst / idcg, 1e-12);
  // distribution: mean 3 vs 3, std 0 vs sqrt(8/3): 0.5 + 0.5 (1 - 1.633/2).
  EXPECT_NEAR(distribution_match_reward(in, {}), 0.5 + 0.5 * (1 - std::sqrt(8.0 / 3.0) / 2),
              1e-12);
}

TEST(RewardsRegistry, UnknownNameListsKnownAndSuggests) {
  auto cfg = default_components();
  cfg[1].name = "weighted_pairs";
  cfg[1].where = {"r.yaml", 7, 5};
  try {
    CompositeReward r(cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("r.yaml:7:5"), std::string::npos) << m;
    EXPECT_NE(m.find("reward.components[1].name"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean 'weighted_pair'"), std::string::npos) << m;
    EXPECT_NE(m.find("kendall_tau"), std::string::npos) << m;
  }
}

TEST(RewardsRegistry, BadParamsNameTheKey) {
  auto expect_error = [](nlohmann::json params, const std::string& name,
                         const std::string& needle) {
    config::RewardComponentConfig c;
    c.name = name;
    c.params = std::move(params);
    try {
      CompositeReward r({c});
      FAIL() << "expected an error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"tie_cost", 2}}, "weighted_pair", "reward.components[0].params.tie_cost");
  expect_error({{"tie_cost", "x"}}, "weighted_pair", "must be a number");
  expect_error({{"tie_cots", 0.3}}, "weighted_pair", "did you mean 'tie_cost'");
  expect_error({{"k", -1}}, "ndcg", "reward.components[0].params.k");
  expect_error({{"gain", "cubic"}}, "ndcg", "exponential, linear");
  expect_error({{"x", 1}}, "top1", "takes no parameters");
  expect_error(nlohmann::json::array(), "top1", "reward.components[0].params");
}

TEST(RewardsRegistry, CompositeNormalisesWeightsAndReportsParts) {
  CompositeReward reward(default_components());
  EXPECT_EQ(reward.names(), (std::vector<std::string>{"format", "weighted_pair"}));
  Gold g = make_gold({5, 3, 1});
  Judgment j = parse_judgment(judgment_text(g, {3, 5, 1}, "short"));
  RewardBreakdown b = reward.score(j, g);
  ASSERT_EQ(b.values.size(), 2u);
  EXPECT_NEAR(b.values[0], 0.95, 1e-12);
  EXPECT_NEAR(b.values[1], 8.0 / 11.0, 1e-12);
  EXPECT_NEAR(b.total, 0.15 * 0.95 + 0.85 * 8.0 / 11.0, 1e-12);
  // Weights 3 and 17 give the same total: Σ w r / Σ w.
  auto scaled = default_components();
  scaled[0].weight = 3;
  scaled[1].weight = 17;
  EXPECT_NEAR(CompositeReward(scaled).score(j, g).total, b.total, 1e-12);

  auto dup = default_components();
  dup[1].name = "format";
  EXPECT_THROW(CompositeReward{dup}, Error);
  auto zero = default_components();
  zero[0].weight = zero[1].weight = 0;
  EXPECT_THROW(CompositeReward{zero}, Error);
  EXPECT_THROW(CompositeReward{{}}, Error);
}

TEST(RewardsRegistry, RequireValidFormatZeroesAccuracyOfAnInvalidJudgment) {
  Gold g = make_gold({5, 3, 1});
  // Right scores, but the ranking repeats a name: not format-valid.
  const std::string dup_ranking =
      "<think>" + std::string(80, 'r') +
      "</think>{\"scores\": {\"c0\": 5, \"c1\": 3, \"c2\": 1}, \"best-to-worst\": [\"c0\", \"c1\", \"c1\"]}";
  Judgment bad = parse_judgment(dup_ranking);
  Judgment good = parse_judgment(judgment_text(g, {5, 3, 1}));
  ASSERT_TRUE(bad.json_parsed);
  EXPECT_FALSE(is_format_valid(bad, g));
  EXPECT_TRUE(is_format_valid(good, g));

  const RewardBreakdown plain = CompositeReward(default_components()).score(bad, g);
  EXPECT_NEAR(plain.values[1], 1.0, 1e-12);  // weighted_pair reads the scores only
  const CompositeReward gated(default_components(), /*require_valid_format=*/true);
  const RewardBreakdown b = gated.score(bad, g);
  EXPECT_NEAR(b.values[0], plain.values[0], 1e-12);  // format is kept
  EXPECT_LT(b.values[0], 1.0);
  EXPECT_EQ(b.values[1], 0.0);
  EXPECT_NEAR(b.total, 0.15 * plain.values[0], 1e-12);
  // A valid judgment scores the same either way.
  EXPECT_NEAR(gated.score(good, g).total, CompositeReward(default_components()).score(good, g).total, 1e-12);
}

TEST(Overlong, SoftPenaltyInsideTheBufferAndMinusOneAtTheLimit) {
  // L = 100, buffer 20: free up to 80 tokens, then (80 − n) / 20 down to −1 at n = 100.
  Gold g = make_gold({5, 3, 1});
  Judgment j = parse_judgment(judgment_text(g, {5, 3, 1}));
  RewardInput in;
  align(j, g, &in);
  const OverlongParams p{20};
  EXPECT_EQ(overlong_penalty(in, p), 0.0);  // length unknown
  auto at = [&](int64_t n) {
    in.generated = {n, 100};
    return overlong_penalty(in, p);
  };
  EXPECT_EQ(at(10), 0.0);
  EXPECT_EQ(at(80), 0.0);
  EXPECT_NEAR(at(85), -0.25, 1e-12);
  EXPECT_NEAR(at(100), -1.0, 1e-12);
  EXPECT_NEAR(at(130), -1.0, 1e-12);  // never below −1
  align(j, g, &in);                   // a new alignment forgets the length
  EXPECT_EQ(in.generated.tokens, -1);
}

TEST(Overlong, IsAComponentThatRequireValidFormatKeeps) {
  Gold g = make_gold({5, 3, 1});
  std::vector<config::RewardComponentConfig> comps = default_components();
  comps.push_back({});
  comps.back().name = "overlong";
  comps.back().weight = 0.5;
  comps.back().params = {{"buffer", 10}};
  const CompositeReward reward(comps, /*require_valid_format=*/true);
  const std::vector<Judgment> group{parse_judgment("no judgment here"), parse_judgment(judgment_text(g, {5, 3, 1}))};
  const std::vector<Generated> generated{{50, 50}, {45, 50}};  // truncated; half-way into the buffer
  std::vector<RewardBreakdown> out;
  reward.score_group(group, g, &out, &generated);
  EXPECT_NEAR(out[0].values[2], -1.0, 1e-12);  // kept although the judgment is invalid
  EXPECT_NEAR(out[1].values[2], -0.5, 1e-12);
  // total = (0.15 format + 0.85 weighted_pair + 0.5 overlong) / 1.5
  EXPECT_NEAR(out[1].total, (0.15 * out[1].values[0] + 0.85 * out[1].values[1] - 0.25) / 1.5, 1e-12);
  reward.score_group(group, g, &out);  // without lengths: no penalty
  EXPECT_EQ(out[0].values[2], 0.0);
  config::RewardComponentConfig bad = comps.back();
  bad.params = {{"buffer", 0}};
  EXPECT_THROW(CompositeReward({bad}), Error);
}

}  // namespace
}  // namespace principia::rewards
