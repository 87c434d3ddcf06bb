// Learning tests: short real training runs of the demo's tiny model (fixed seeds, deterministic on
// CPU) that must improve what they optimise.
//
// 1. SFT learns the synthetic task and reads the principle: on new items of the trained
//    principles, pairwise ranking accuracy after SFT is clearly above chance, and a companion run
//    with the principle removed from the prompt (the no_principle ablation) scores clearly lower:
//    the decoy attribute of every item ranks the candidates differently, so without the principle
//    the judge can only guess which attribute counts.
// 2. GRPO raises the reward it is given: from a weak SFT start (40 steps: it has not yet learnt to
//    close the think block and write the JSON verdict), 20 GRPO steps on the format reward alone
//    must raise the mean training reward clearly.
//
// Not yet here (README, "What is not done yet"): the criterion that GRPO raises held-out
// weighted_pair by 0.05 over the SFT start. Measured on this model: from the 400-step SFT start
// (which does not yet read the responses) 20-80 GRPO steps at lr 5e-5..1e-4, 16 or 64 items a
// step, move greedy weighted_pair by -0.03..+0.03; from a 1000-step SFT start (pairwise 0.88) 40
// steps move it by -0.01.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/common/test_data.h"

namespace principia {
namespace {
namespace fs = std::filesystem;

std::vector<double> reward_by_step(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<double> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line)["reward/mean"].get<double>());
  return out;
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / double(to - from);
}

nlohmann::json eval_after_sft(const fs::path& run_dir) {
  std::ifstream in(run_dir / "eval" / "step-sft.json");
  return nlohmann::json::parse(in);
}

std::string demo_config() { return std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs/demo.yaml"; }

TEST(Learning, SftLearnsTheTaskAndReadsThePrinciple) {
  const std::string common =
      " data.synth_options.eval_principles=trained data.synth_options.eval_items=120"
      " trainer.sft_steps=400 eval.max_items=120";
  const fs::path with = principia::testing::temp_dir("learning-sft");
  const fs::path without = principia::testing::temp_dir("learning-sft-no-principle");
  std::string out;
  int rc = principia::testing::run_command(principia::testing::principia_binary() + " sft " +
                                               demo_config() + " run.output_dir=" + with.string() + common,
                                           &out);
  ASSERT_EQ(rc, 0) << out;
  rc = principia::testing::run_command(principia::testing::principia_binary() + " sft " + demo_config() +
                                           " run.output_dir=" + without.string() + common +
                                           " prompt.include_principle=false",
                                       &out);
  ASSERT_EQ(rc, 0) << out;
  const auto a = eval_after_sft(with), b = eval_after_sft(without);
  const double format = a["metrics"]["overall"]["format_valid_rate"].get<double>();
  const double acc = a["metrics"]["overall"]["pairwise_accuracy"].get<double>();
  const double acc_without = b["metrics"]["overall"]["pairwise_accuracy"].get<double>();
  const double wp = a["reward"]["weighted_pair"].get<double>();
  const double wp_without = b["reward"]["weighted_pair"].get<double>();
  // Measured (seed 1234, 2026-11-29): format 1.0, pairwise accuracy 0.611, weighted_pair 0.629;
  // without the principle 0.460 and 0.456. The bars leave room for other CPUs.
  EXPECT_GE(format, 0.95);
  EXPECT_GE(acc, 0.56) << "pairwise accuracy after SFT (chance: 0.5)";
  EXPECT_GE(wp - wp_without, 0.05) << "weighted_pair with the principle " << wp << ", without "
                                   << wp_without;
  EXPECT_GE(acc - acc_without, 0.05) << "pairwise accuracy with the principle " << acc << ", without "
                                     << acc_without;
}

TEST(Learning, GrpoRaisesTheFormatRewardFromAWeakSftStart) {
  const fs::path run = principia::testing::temp_dir("learning-format");
  const std::string config = demo_config();
  std::string out;
  const int rc = principia::testing::run_command(
      principia::testing::principia_binary() + " train " + config + " run.output_dir=" +
          run.string() +
          " trainer.sft_steps=40 trainer.max_steps=20 'reward.components=[{name: format, weight: 1.0}]'"
          " eval.max_items=24 checkpoint.every=0",
      &out);
  ASSERT_EQ(rc, 0) << out;
  const auto reward = reward_by_step(run);
  ASSERT_EQ(reward.size(), 20u) << out;
  const double first = mean(reward, 0, 5), last = mean(reward, 15, 20);
  // Measured (seed 1234, 2026-11-29, rationale quoting the counted units): 0.074 -> 0.109, rising
  // almost every step. Half that gain is the bar.
  EXPECT_GE(last, first + 0.017) << "mean reward, steps 1-5: " << first << ", steps 16-20: " << last;
}

}  // namespace
}  // namespace principia
