// GRPO must raise the reward it is given. The demo's tiny model from a weak SFT start (40 steps:
// it has not yet learnt to close the think block and write the JSON verdict) is trained with the
// format reward alone; 20 GRPO steps must raise the mean training reward clearly.
//
// Not yet here (README, "What is not done yet"): the stronger criterion, held-out
// weighted_pair +0.05 over SFT with format-valid >= 0.95 plus the no-principle ablation; the
// 0.85M-parameter demo model does not learn the synthetic task's counting within the CPU budget.
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

TEST(Learning, GrpoRaisesTheFormatRewardFromAWeakSftStart) {
  const fs::path run = principia::testing::temp_dir("learning-format");
  const std::string config = std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs/demo.yaml";
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
  // Measured: 0.074 -> 0.148 (seed 1234). Half that gain is the bar.
  EXPECT_GE(last, first + 0.035) << "mean reward, steps 1-5: " << first << ", steps 16-20: " << last;
}

}  // namespace
}  // namespace principia
