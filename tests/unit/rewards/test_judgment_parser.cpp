// The judgment parser against the reference fixtures, its repairs and diagnostics, and its
// robustness (never throws, linear time) on hostile input.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "core/jsonl.h"
#include "rewards/gold.h"
#include "rewards/judgment_parser.h"
#include "tests/common/test_data.h"

namespace principia::rewards {
namespace {

double as_number(const ordered_json& v) {
  return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
}

TEST(RewardsParser, EveryParseCaseFixture) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  ordered_json cases = read_json_file(testing::shared_data("judge/parse_cases.json"));
  ASSERT_EQ(cases.size(), 10u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + c["output"].get<std::string>());
    Judgment j = parse_judgment(c["output"].get<std::string>());
    EXPECT_EQ(j.json_parsed, c["json_parsed"].get<bool>());
    EXPECT_EQ(j.used_bracket_extraction, c["used_bracket_extraction"].get<bool>());
    EXPECT_EQ(j.reasoning, c["reasoning"].get<std::string>());
    ASSERT_EQ(j.scores.size(), c["scores"].size());
    size_t k = 0;
    for (auto it = c["scores"].begin(); it != c["scores"].end(); ++it, ++k) {
      EXPECT_EQ(j.scores[k].name, it.key());
      EXPECT_DOUBLE_EQ(j.scores[k].value, as_number(*it));
    }
    ASSERT_EQ(j.ranking.size(), c["best_to_worst"].size());
    for (size_t r = 0; r < j.ranking.size(); ++r)
      EXPECT_EQ(j.ranking[r], c["best_to_worst"][r].get<std::string>());
  }
}

TEST(RewardsParser, StagesAreReported) {
  EXPECT_EQ(parse_judgment(R"({"scores": {"a": 1}, "best-to-worst": ["a"]})").stage,
            ParseStage::kDirect);
  EXPECT_EQ(parse_judgment(R"(<think>t</think>```json
{"scores": {"a": 1}, "best-to-worst": ["a"]}
```)").stage,
            ParseStage::kDirect);
  EXPECT_EQ(parse_judgment(R"({'scores': {'a': 1}})").stage, ParseStage::kRepaired);
  EXPECT_EQ(parse_judgment(R"({"scores": {"a": 1,},})").stage, ParseStage::kRepaired);
  Judgment typo = parse_judgment(R"({"scores": {"a": 1}, "best-to-worse": ["a"]})");
  EXPECT_EQ(typo.stage, ParseStage::kRepaired);
  EXPECT_TRUE(typo.ranking_key_typo);
  EXPECT_TRUE(typo.has_ranking_key);
  Judgment bracket = parse_judgment(R"(Verdict: {"scores": {"a": 2}} done)");
  EXPECT_EQ(bracket.stage, ParseStage::kBracketExtraction);
  EXPECT_TRUE(bracket.used_bracket_extraction);
  // Trailing prose after a complete object: only the fallback reads it (as the reference does).
  EXPECT_TRUE(parse_judgment(R"({"scores": {"a": 2}} That is all.)").used_bracket_extraction);
  EXPECT_EQ(parse_judgment("[1, 2]").stage, ParseStage::kNone);
  EXPECT_STREQ(parse_stage_name(ParseStage::kBracketExtraction), "bracket_extraction");
}

TEST(RewardsParser, ThinkTags) {
  Judgment both = parse_judgment("<think>  why  </think>{\"scores\": {}}");
  EXPECT_TRUE(both.think_open && both.think_close);
  EXPECT_EQ(both.reasoning, "why");
  EXPECT_TRUE(both.json_parsed);
  // A chat template that pre-fills "<think>": only the closing tag appears in the output.
  Judgment close_only = parse_judgment("reasoning here</think>{\"scores\": {\"a\": 3}}");
  EXPECT_FALSE(close_only.think_open);
  EXPECT_TRUE(close_only.think_close);
  EXPECT_EQ(close_only.reasoning, "reasoning here");
  EXPECT_EQ(close_only.stage, ParseStage::kDirect);
  Judgment open_only = parse_judgment("<think>cut off");
  EXPECT_TRUE(open_only.think_open);
  EXPECT_FALSE(open_only.think_close);
  EXPECT_EQ(open_only.reasoning, "");
  // JSON inside the reasoning is not the answer when an answer follows.
  Judgment inner = parse_judgment(
      "<think>draft {\"scores\": {\"a\": 1}}</think>{\"scores\": {\"a\": 5}}");
  ASSERT_EQ(inner.scores.size(), 1u);
  EXPECT_EQ(inner.scores[0].value, 5);
}

TEST(RewardsParser, RepairsAndValueForms) {
  Judgment j = parse_judgment(
      "{scores: {model-1: '4', 'model-2': 2.5, \"model-3\": +3,}, best_to_worst: "
      "[model-1, 'model-3', \"model-2\",],}");
  EXPECT_EQ(j.stage, ParseStage::kRepaired);
  ASSERT_EQ(j.scores.size(), 3u);
  EXPECT_EQ(j.scores[0].value, 4);
  EXPECT_EQ(j.scores[1].value, 2.5);
  EXPECT_EQ(j.scores[2].value, 3);
  EXPECT_EQ(j.ranking, (std::vector<std::string>{"model-1", "model-3", "model-2"}));
  EXPECT_TRUE(j.ranking_is_permutation);
  // Missing comma between members, escapes, unicode.
  Judgment k = parse_judgment(R"({"scores": {"caf\u00e9": 5 "b\"q": 1}})");
  ASSERT_EQ(k.scores.size(), 2u);
  EXPECT_EQ(k.scores[0].name, "caf\xC3\xA9");
  EXPECT_EQ(k.scores[1].name, "b\"q");
}

TEST(RewardsParser, InvalidScoresAndDiagnostics) {
  Judgment j = parse_judgment(
      R"({"scores": {"a": NaN, "b": Infinity, "c": 0, "d": 6, "e": "x", "f": true, "g": [1],
          "h": 5, "h": 4, "i": "2"},
          "best-to-worst": ["h", "h", 3, "zz"]})");
  EXPECT_TRUE(j.json_parsed);
  ASSERT_EQ(j.scores.size(), 2u);
  EXPECT_EQ(j.scores[0].name, "h");
  EXPECT_EQ(j.scores[0].value, 4);  // last value wins, first position kept
  EXPECT_EQ(j.scores[1].name, "i");
  EXPECT_EQ(j.invalid_scores,
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g"}));
  EXPECT_EQ(j.duplicate_score_names, (std::vector<std::string>{"h"}));
  EXPECT_EQ(j.duplicate_ranking_names, (std::vector<std::string>{"h"}));
  EXPECT_EQ(j.ranking_non_strings, 1);
  EXPECT_FALSE(j.ranking_is_permutation);

  Judgment no_keys = parse_judgment(R"({"verdict": "model-1"})");
  EXPECT_TRUE(no_keys.json_parsed);
  EXPECT_FALSE(no_keys.has_scores_key);
  EXPECT_FALSE(no_keys.has_ranking_key);
  Judgment wrong_types = parse_judgment(R"({"scores": [5, 4], "best-to-worst": "a > b"})");
  EXPECT_TRUE(wrong_types.json_parsed);
  EXPECT_FALSE(wrong_types.has_scores_key);
  EXPECT_FALSE(wrong_types.has_ranking_key);
  // A ranking that misses a scored name is not a permutation.
  EXPECT_FALSE(parse_judgment(R"({"scores": {"a": 1, "b": 2}, "best-to-worst": ["b"]})")
                   .ranking_is_permutation);
  EXPECT_TRUE(parse_judgment(R"({"scores": {"a": 1, "b": 2}, "best-to-worst": ["b", "a"]})")
                  .ranking_is_permutation);
}

TEST(RewardsParser, RemapNames) {
  Judgment j = parse_judgment(
      R"({"scores": {"model-1": 2, "model-2": 5}, "best-to-worst": ["model-2", "model-1"]})");
  remap_names(j, {{"model-1", "beta"}, {"model-2", "alpha"}});
  EXPECT_EQ(j.scores[0].name, "beta");
  EXPECT_EQ(*j.score_of("alpha"), 5);
  EXPECT_EQ(j.ranking, (std::vector<std::string>{"alpha", "beta"}));
  // A swap is applied once, not chained.
  remap_names(j, {{"alpha", "beta"}, {"beta", "alpha"}});
  EXPECT_EQ(j.ranking, (std::vector<std::string>{"beta", "alpha"}));
}

TEST(RewardsParser, NamesAgainstGold) {
  Judgment j = parse_judgment(
      R"({"scores": {"a": 2, "zz": 5, "b": 9}, "best-to-worst": ["zz", "a", "yy"]})");
  Gold g;
  g.names = {"a", "b", "c"};
  g.scores = {1, 2, 3};
  NameCheck c = check_names(j, g);
  EXPECT_EQ(c.missing, (std::vector<std::string>{"b", "c"}));  // b's score is invalid
  EXPECT_EQ(c.unknown, (std::vector<std::string>{"zz", "yy"}));
}

TEST(RewardsParser, NeverThrowsOnRandomBytes) {
  std::mt19937_64 rng(7);
  const std::string alphabet = "{}[]\"':,\\ \nabc-123.eE+truefalsnul<think></think>```";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string s(rng() % 300, '\0');
    for (char& c : s)
      c = (trial % 2) ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
    EXPECT_NO_THROW((void)parse_judgment(s));
  }
}

TEST(RewardsParser, DeepNestingAndMegabytesStayLinear) {
  auto time_ms = [](const std::string& s) {
    auto t0 = std::chrono::steady_clock::now();
    Judgment j = parse_judgment(s);
    (void)j;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
        .count();
  };
  std::string deep = std::string(2'000'000, '[') + std::string(2'000'000, ']');
  std::string deep_obj = "{\"scores\": " + std::string(1'000'000, '{') + "}";
  std::string braces;
  for (int i = 0; i < 500'000; ++i) braces += "{\"a\":";
  std::string garbage(3'000'000, 'x');
  for (size_t i = 0; i < garbage.size(); i += 7) garbage[i] = "{}[]\"'"[i % 6];
  std::string many_keys = "{\"scores\": {";
  for (int i = 0; i < 200'000; ++i) many_keys += "\"k" + std::to_string(i) + "\": 3, ";
  many_keys += "}}";
  for (const std::string* s : {&deep, &deep_obj, &braces, &garbage, &many_keys}) {
    double ms = 0;
    EXPECT_NO_THROW(ms = time_ms(*s));
    EXPECT_LT(ms, 3000.0) << "input of " << s->size() << " bytes";
  }
  Judgment capped = parse_judgment(many_keys);
  EXPECT_TRUE(capped.json_parsed);
  EXPECT_EQ(capped.scores.size(), kMaxJudgedNames);
  // Nesting within the depth limit is fine.
  EXPECT_TRUE(parse_judgment("{\"x\": " + std::string(100, '[') + std::string(100, ']') +
                             ", \"scores\": {\"a\": 1}}")
                  .json_parsed);
}

}  // namespace
}  // namespace principia::rewards
