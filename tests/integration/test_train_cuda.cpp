// `principia train` on a GPU (label `cuda`): the tiny demo run with run.device=cuda, in fp32 and
// in bf16 (fp32 master weights), through SFT, GRPO, eval and a checkpoint. Skips where the
// binary sees no CUDA device (every CPU machine, and CPU LibTorch builds).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"

namespace principia {
namespace {
namespace fs = std::filesystem;

void run_on_cuda(const std::string& name, const std::string& extra) {
  const fs::path run = testing::temp_dir(name);
  std::string out;
  const int rc = testing::run_command(testing::principia_binary() + " train " + PRINCIPIA_TEST_SOURCE_DIR +
                                          "/../../configs/demo.yaml run.output_dir=" + run.string() +
                                          testing::kTinyDemoOverrides + " run.device=cuda" + extra,
                                      &out);
  if (rc == 2 && out.find("no CUDA device is visible") != std::string::npos)
    GTEST_SKIP() << "no CUDA device (or a CPU LibTorch)";
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("on cuda:0"), std::string::npos) << out;
  std::ifstream in(run / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& r : rows) {
    EXPECT_TRUE(std::isfinite(r["loss/total"].get<double>())) << r.dump();
    EXPECT_TRUE(std::isfinite(r["optim/grad_norm"].get<double>())) << r.dump();
    EXPECT_EQ(r["optim/skipped_updates"], 0.0) << r.dump();
  }
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step-000004" / "MANIFEST"));
  EXPECT_TRUE(fs::exists(run / "eval" / "step-4.json"));
}

TEST(TrainCuda, TinyRunFp32) { run_on_cuda("train-cuda-fp32", ""); }

TEST(TrainCuda, TinyRunBf16WithFp32Masters) { run_on_cuda("train-cuda-bf16", " model.dtype=bfloat16"); }

}  // namespace
}  // namespace principia
