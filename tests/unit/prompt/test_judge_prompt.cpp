#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "data/prompt/judge_prompt.h"
#include "tests/common/test_data.h"

namespace principia::prompt {
namespace {

TEST(PromptJudge, SystemPromptIsTheFixtureByteForByte) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const std::string fixture = read_file(principia::testing::shared_data("judge/system_prompt.txt"));
  EXPECT_EQ(fixture.size(), 1121u);
  EXPECT_EQ(rewardanything_system_prompt(), fixture);
  EXPECT_EQ(PromptTemplate::named(kRewardAnythingV1).system, fixture);
}

TEST(PromptJudge, RenderCasesByteForByte) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  const ordered_json cases =
      read_json_file(principia::testing::shared_data("judge/render_cases.json"));
  ASSERT_EQ(cases.size(), 4u);
  const PromptTemplate t = PromptTemplate::named(kRewardAnythingV1);
  for (size_t i = 0; i < cases.size(); ++i) {
    const JudgeRequest r = judge_request_from_json(cases[i], "render_cases.json");
    const RenderedPrompt p = t.render(r);
    EXPECT_EQ(p.user, cases[i]["user_message"].get<std::string>()) << "case " << i;
    EXPECT_EQ(p.system, rewardanything_system_prompt());
    ASSERT_EQ(p.mapping.size(), r.responses.size());
    for (size_t k = 0; k < p.mapping.size(); ++k)
      EXPECT_EQ(p.mapping[k].second, r.responses[k].first);
  }
}

JudgeRequest small_request() {
  JudgeRequest r;
  r.principle = "Be brief.";
  r.prompt = "2+2?";
  r.responses = {{"alpha", "4"}, {"beta", "four"}, {"gamma", "It is 4."}};
  return r;
}

TEST(PromptJudge, PermutationAndMapping) {
  const auto p = PromptTemplate::named(kRewardAnythingV1).render(small_request(), {2, 0, 1});
  EXPECT_EQ(
      p.user,
      R"({"principle": "Be brief.", "prompt": "2+2?", "responses": {"model-1": "It is 4.", "model-2": "4", "model-3": "four"}})");
  ASSERT_EQ(p.mapping.size(), 3u);
  EXPECT_EQ(p.mapping[0], (std::pair<std::string, std::string>{"model-1", "gamma"}));
  EXPECT_EQ(p.mapping[1], (std::pair<std::string, std::string>{"model-2", "alpha"}));
  EXPECT_EQ(p.mapping[2], (std::pair<std::string, std::string>{"model-3", "beta"}));
  const auto t = PromptTemplate::named(kRewardAnythingV1);
  EXPECT_THROW(t.render(small_request(), {0, 0, 1}), Error);
  EXPECT_THROW(t.render(small_request(), {0, 1}), Error);
  EXPECT_THROW(t.render(small_request(), {0, 1, 3}), Error);
}

TEST(PromptJudge, WithoutPrincipleAblation) {
  config::PromptConfig c;
  c.include_principle = false;
  const auto p = PromptTemplate::from_config(c).render(small_request());
  EXPECT_EQ(p.user.find("principle"), std::string::npos);
  EXPECT_EQ(p.user.rfind(R"({"prompt": "2+2?", "responses": {"model-1": "4")", 0), 0u) << p.user;
}

TEST(PromptJudge, CompactTemplateIsShortWithTheSameOutputFormat) {
  const auto t = PromptTemplate::named(kCompactV1);
  const auto p = t.render(small_request(), {1, 2, 0});
  EXPECT_EQ(p.user,
            "principle: Be brief.\nprompt: 2+2?\nresponses:\n[model-1]\nfour\n\n[model-2]\nIt is "
            "4.\n\n[model-3]\n4");
  EXPECT_NE(p.system.find("best-to-worst"), std::string::npos);
  EXPECT_LT(p.system.size() * 4, rewardanything_system_prompt().size());
  EXPECT_EQ(p.mapping[0].second, "beta");
  EXPECT_THROW(PromptTemplate::named("compact-v2"), Error);
}

TEST(PromptJudge, CustomTemplateAndSystemFile) {
  const auto dir = principia::testing::temp_dir("prompt-custom");
  const std::string sys = (dir / "system.txt").string();
  std::ofstream(sys) << "You judge.";
  config::PromptConfig c;
  c.user_template =
      "P: {principle}\nQ: {prompt}\n{{literal}}\n{responses_list}\nJSON: {responses_json}";
  c.system_prompt_file = sys;
  const auto t = PromptTemplate::from_config(c);
  EXPECT_EQ(t.name, "custom");
  const auto p = t.render(small_request(), {1, 0, 2});
  EXPECT_EQ(p.system, "You judge.");
  EXPECT_EQ(
      p.user,
      "P: Be brief.\nQ: 2+2?\n{literal}\n[model-1]\nfour\n\n[model-2]\n4\n\n[model-3]\nIt is 4.\n"
      "JSON: {\"model-1\": \"four\", \"model-2\": \"4\", \"model-3\": \"It is 4.\"}");
  c.user_template = "{principal} {prompt}";
  try {
    PromptTemplate::from_config(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("{principle}"), std::string::npos) << e.what();
  }
  c.user_template = "{prompt";
  EXPECT_THROW(PromptTemplate::from_config(c), Error);
  config::PromptConfig unknown;
  unknown.template_name = "nope";
  EXPECT_THROW(PromptTemplate::from_config(unknown), Error);
  config::PromptConfig missing_file;
  missing_file.system_prompt_file = (dir / "absent.txt").string();
  EXPECT_THROW(PromptTemplate::from_config(missing_file), Error);
}

TEST(PromptJudge, RequestJsonErrorsNameTheKey) {
  auto expect_error = [](const char* text, const std::string& needle) {
    try {
      judge_request_from_json(ordered_json::parse(text), "req.json");
      ADD_FAILURE() << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"prompt": "x", "responses": {"a": "1"}})", "principle");
  expect_error(R"({"principle": "p", "prompt": 3, "responses": {"a": "1"}})", "prompt");
  expect_error(R"({"principle": "p", "prompt": "x", "responses": {"a": 1}})", "responses.a");
  expect_error(R"({"principle": "p", "prompt": "x", "responses": {}})", "responses");
  expect_error(R"([1])", "object");
}

}  // namespace
}  // namespace principia::prompt
