// Config semantics: defaults, include + deep merge, overrides, interpolation, round trip.
#include <cstdlib>

#include "core/config_tree.h"
#include "tests/unit/core/config_fixture.h"

namespace principia::testing {
namespace {

using config::Config;

TEST_F(ConfigTest, EmptyFileGivesDefaults) {
  Config c = config::load(write("a.yaml", ""));
  EXPECT_DOUBLE_EQ(c.optim.lr, 1e-6);
  EXPECT_EQ(c.rollout.group_size, 8);
  EXPECT_EQ(c.algorithm.kl_estimator, config::KlEstimator::kK3);
  EXPECT_EQ(c.run.output_dir, "runs/principia");  // default interpolated from default run.name
  ASSERT_EQ(c.reward.components.size(), 2u);
  EXPECT_EQ(c.reward.components[0].name, "format");
  EXPECT_DOUBLE_EQ(c.reward.components[0].weight, 0.15);
  EXPECT_EQ(c.reward.components[1].name, "weighted_pair");
  EXPECT_DOUBLE_EQ(c.reward.components[1].weight, 0.85);
}

TEST_F(ConfigTest, IncludeDeepMergesWithIncludingFileWinning) {
  write("base.yaml", "optim: {lr: 0.5, weight_decay: 0.1}\nrun: {name: base}\n");
  Config c = config::load(write("top.yaml", "include: base.yaml\noptim: {lr: 0.25}\n"));
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.25);           // overridden
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 0.1);  // kept from the include (deep merge)
  EXPECT_EQ(c.run.name, "base");
  EXPECT_EQ(c.run.output_dir, "runs/base");
}

TEST_F(ConfigTest, IncludeListAppliesInOrderRelativeToFile) {
  write("sub/a.yaml", "optim: {lr: 0.1}\ntrainer: {max_steps: 7}\n");
  write("sub/b.yaml", "optim: {lr: 0.2}\n");
  Config c = config::load(write("sub/top.yaml", "include: [a.yaml, b.yaml]\n"));
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.2);
  EXPECT_EQ(c.trainer.max_steps, 7);
}

TEST_F(ConfigTest, NestedIncludes) {
  write("x/a.yaml", "trainer: {max_steps: 3}\n");
  write("x/b.yaml", "include: a.yaml\ntrainer: {sft_steps: 4}\n");
  Config c = config::load(write("top.yaml", "include: x/b.yaml\n"));
  EXPECT_EQ(c.trainer.max_steps, 3);
  EXPECT_EQ(c.trainer.sft_steps, 4);
}

TEST_F(ConfigTest, OverridesSetScalarsListsAndAppend) {
  std::string p = write("a.yaml", "optim: {lr: 0.5}\n");
  Config c = config::load(p, {"optim.lr=3e-6", "optim.betas=[0.8, 0.95]", "rollout.top_k=5",
                              "reward.components+={name: top1, weight: 0.2}",
                              "reward.components.0.weight=0.3", "model.gradient_checkpointing=true"});
  EXPECT_DOUBLE_EQ(c.optim.lr, 3e-6);
  ASSERT_EQ(c.optim.betas.size(), 2u);
  EXPECT_DOUBLE_EQ(c.optim.betas[0], 0.8);
  EXPECT_EQ(c.rollout.top_k, 5);
  ASSERT_EQ(c.reward.components.size(), 3u);
  EXPECT_EQ(c.reward.components[2].name, "top1");
  EXPECT_DOUBLE_EQ(c.reward.components[0].weight, 0.3);
  EXPECT_TRUE(c.model.gradient_checkpointing);
}

TEST_F(ConfigTest, UserComponentListReplacesDefaults) {
  Config c = config::load(write("a.yaml",
                                "reward:\n  components:\n    - name: kendall_tau\n      weight: 1\n"
                                "      params: {alpha: 2}\n"));
  ASSERT_EQ(c.reward.components.size(), 1u);
  EXPECT_EQ(c.reward.components[0].name, "kendall_tau");
  EXPECT_EQ(c.reward.components[0].params["alpha"], 2);
  EXPECT_EQ(c.reward.components[0].where.line, 3);
}

TEST_F(ConfigTest, InterpolationOfKeysAndEnvironment) {
  ::setenv("PRINCIPIA_TEST_STEPS", "42", 1);
  ::setenv("PRINCIPIA_TEST_NAME", "envrun", 1);
  Config c = config::load(write("a.yaml",
                                "run: {name: '${env:PRINCIPIA_TEST_NAME}', output_dir: 'out/${run.name}/x'}\n"
                                "eval: {data: '${data.eval}'}\n"
                                "data: {eval: e.jsonl, train: '${env:PRINCIPIA_TEST_UNSET:fallback.jsonl}'}\n"));
  EXPECT_EQ(c.run.name, "envrun");
  EXPECT_EQ(c.run.output_dir, "out/envrun/x");
  EXPECT_EQ(c.eval.data, "e.jsonl");
  EXPECT_EQ(c.data.train, "fallback.jsonl");
}

TEST_F(ConfigTest, QuotedInterpolationStaysAString) {
  ::setenv("PRINCIPIA_TEST_STEPS", "42", 1);
  std::string msg = load_error(write("a.yaml", "trainer: {max_steps: '${env:PRINCIPIA_TEST_STEPS}'}\n"));
  EXPECT_NE(msg.find("trainer.max_steps"), std::string::npos) << msg;
}

TEST_F(ConfigTest, PlainInterpolationCanBeANumber) {
  ::setenv("PRINCIPIA_TEST_STEPS", "42", 1);
  Config c = config::load(write("a.yaml", "trainer:\n  max_steps: ${env:PRINCIPIA_TEST_STEPS}\n"));
  EXPECT_EQ(c.trainer.max_steps, 42);
}

TEST_F(ConfigTest, WholeValueReferenceKeepsTheType) {
  Config c = config::load(write("a.yaml", "algorithm:\n  clip_low: 0.1\n  clip_high: ${algorithm.clip_low}\n"
                                          "eval:\n  max_new_tokens: ${rollout.max_new_tokens}\n"));
  EXPECT_DOUBLE_EQ(c.algorithm.clip_high, 0.1);
  EXPECT_EQ(c.eval.max_new_tokens, 1024);  // the default of rollout.max_new_tokens
}

TEST_F(ConfigTest, ResolvedYamlRoundTrips) {
  std::string p = write("a.yaml", "optim: {lr: 3e-6, schedule: cosine}\nrun: {name: rt}\n");
  Config a = config::load(p, {"reward.components+={name: ndcg, weight: 0.5, params: {k: 3}}"});
  std::string yaml = config::to_yaml(a);
  EXPECT_NE(yaml.find("lr: 3e-06"), std::string::npos) << yaml;
  Config b = config::load(write("b.yaml", yaml));
  EXPECT_EQ(config::to_yaml(b), yaml);
  EXPECT_EQ(b.optim.schedule, config::Schedule::kCosine);
  EXPECT_EQ(b.reward.components[2].params["k"], 3);
}

TEST_F(ConfigTest, OriginsPointAtTheLine) {
  Config c = config::load(write("a.yaml", "run: {name: a}\noptim:\n  lr: 0.1\n"));
  auto w = c.where("optim.lr");
  EXPECT_EQ(w.line, 3);
  EXPECT_NE(w.file.find("a.yaml"), std::string::npos);
}

TEST_F(ConfigTest, ProjectConfigsLoadAndValidate) {
  namespace fs = std::filesystem;
  int n = 0;
  for (auto& e : fs::recursive_directory_iterator(std::string(PRINCIPIA_SOURCE_DIR) + "/configs")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    Config c;
    ASSERT_NO_THROW(c = config::load(e.path().string())) << e.path();
    ++n;
    if (c.data.synth) EXPECT_NO_THROW(config::validate_for_training(c));
  }
  EXPECT_GE(n, 4);
}

TEST_F(ConfigTest, RewardFileForScore) {
  auto bare = config::load_reward_config(
      write("r.yaml", "components:\n  - {name: top1, weight: 1}\n  - {name: ndcg, weight: 2}\n"));
  ASSERT_EQ(bare.components.size(), 2u);
  EXPECT_EQ(bare.components[1].name, "ndcg");
  EXPECT_FALSE(bare.require_valid_format);
  auto from_full = config::load_reward_config(write(
      "full.yaml",
      "optim: {lr: 1}\nreward:\n  components: [{name: format, weight: 1}]\n"
      "  require_valid_format: true\n"));
  ASSERT_EQ(from_full.components.size(), 1u);
  EXPECT_TRUE(from_full.require_valid_format);
}

}  // namespace
}  // namespace principia::testing
