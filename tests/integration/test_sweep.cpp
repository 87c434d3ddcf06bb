// `principia sweep` through the binary on the tiny demo model: two variants trained in child
// processes, the summary (sweep.json, sweep.md, sweep.svg), a rerun that skips both, and the
// mistakes that must be one clear message with exit code 2.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/files.h"
#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"

namespace principia {
namespace {
namespace fs = std::filesystem;
using principia::testing::demo_config;
using principia::testing::principia_binary;
using principia::testing::run_command;

std::string ablation(const std::string& name) {
  return std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs/ablations/" + name + ".yaml";
}

// Two GRPO steps with an eval after each: a curve of three points (SFT model, step 1, step 2).
const std::string kSettings =
    std::string(principia::testing::kTinyDemoOverrides) + " trainer.max_steps=2 eval.every=1";

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

TEST(Sweep, TwoVariantsThenARerunThatSkipsBoth) {
  const fs::path out = principia::testing::temp_dir("sweep-e2e") / "sweep";
  const std::string cmd = principia_binary() + " sweep " + demo_config() +
                          " --grid algorithm.loss_agg=token-mean,seq-mean-token-mean --out " +
                          out.string() + kSettings;
  std::string log;
  ASSERT_EQ(run_command(cmd, &log), 0) << log;
  EXPECT_EQ(count(log, "training into"), 2u) << log;

  const auto j = nlohmann::json::parse(read_file((out / "sweep.json").string()));
  ASSERT_EQ(j["variants"].size(), 2u) << j.dump(2);
  const char* names[] = {"loss_agg-token-mean", "loss_agg-seq-mean-token-mean"};
  for (size_t i = 0; i < 2; ++i) {
    const auto& v = j["variants"][i];
    EXPECT_EQ(v["name"], names[i]);
    EXPECT_EQ(v["state"], "finished");
    EXPECT_EQ(v["exit_code"], 0);
    ASSERT_TRUE(v["final"].is_object()) << v.dump(2);
    EXPECT_EQ(v["final"]["step"], 2);
    for (const char* k : {"weighted_pair", "pairwise_accuracy", "format_valid_rate", "reward"}) {
      ASSERT_TRUE(v["final"][k].is_number()) << names[i] << " " << k << ": " << v["final"].dump();
      EXPECT_TRUE(std::isfinite(v["final"][k].get<double>())) << k;
    }
    EXPECT_GE(v["evals"].size(), 4u);  // base, sft, step 1, step 2
    EXPECT_TRUE(fs::exists(out / names[i] / "eval" / "step-2.json"));
    EXPECT_TRUE(fs::exists(out / names[i] / "metrics.jsonl"));
  }
  EXPECT_EQ(j["variants"][1]["overrides"][0], "algorithm.loss_agg=seq-mean-token-mean");

  const std::string md = read_file((out / "sweep.md").string());
  EXPECT_NE(md.find("| variant | settings | state |"), std::string::npos) << md;
  EXPECT_NE(md.find("| loss_agg-token-mean | `algorithm.loss_agg=token-mean` | finished | 0 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| loss_agg-seq-mean-token-mean |"), std::string::npos) << md;

  const std::string svg = read_file((out / "sweep.svg").string());
  const size_t second_panel = svg.find("<g class=\"panel\"", svg.find("<g class=\"panel\"") + 1);
  ASSERT_NE(second_panel, std::string::npos) << svg;
  EXPECT_EQ(count(svg.substr(0, second_panel), "<polyline data-series="), 2u);
  EXPECT_EQ(count(svg.substr(second_panel), "<polyline data-series="), 2u);
  EXPECT_EQ(count(svg, "<circle "), 2u * 2u * 3u);  // 2 panels x 2 variants x (sft, step 1, step 2)
  EXPECT_EQ(svg.find("</svg>") + 7, svg.size());

  // The rerun: both finished, so nothing trains and the run directories stay as they were.
  const auto metrics_a = fs::last_write_time(out / names[0] / "metrics.jsonl");
  const auto metrics_b = fs::last_write_time(out / names[1] / "metrics.jsonl");
  const auto eval_a = fs::last_write_time(out / names[0] / "eval" / "step-2.json");
  ASSERT_EQ(run_command(cmd, &log), 0) << log;
  EXPECT_EQ(count(log, "already finished"), 2u) << log;
  EXPECT_EQ(count(log, "training into"), 0u) << log;
  EXPECT_EQ(fs::last_write_time(out / names[0] / "metrics.jsonl"), metrics_a);
  EXPECT_EQ(fs::last_write_time(out / names[1] / "metrics.jsonl"), metrics_b);
  EXPECT_EQ(fs::last_write_time(out / names[0] / "eval" / "step-2.json"), eval_a);
  EXPECT_EQ(nlohmann::json::parse(read_file((out / "sweep.json").string()))["variants"].size(), 2u);

  // --only of a finished variant skips it too; --summarize-only trains nothing.
  ASSERT_EQ(run_command(cmd + " --only 1", &log), 0) << log;
  EXPECT_NE(log.find("already finished"), std::string::npos) << log;
  ASSERT_EQ(run_command(cmd + " --summarize-only", &log), 0) << log;
  EXPECT_EQ(count(log, "training into"), 0u) << log;
  EXPECT_EQ(read_file((out / "sweep.md").string()).find("--summarize-only"), std::string::npos);

  // A changed setting under a finished variant is refused rather than silently mixed.
  EXPECT_EQ(run_command(cmd + " optim.lr=1e-3", &log), 2) << log;
  EXPECT_NE(log.find("another configuration"), std::string::npos) << log;
}

TEST(Sweep, AFailedVariantIsReportedAndTheSweepGoesOn) {
  const fs::path out = principia::testing::temp_dir("sweep-failed") / "sweep";
  // The first variant's eval set does not exist: its train fails after validation passed.
  const std::string cmd = principia_binary() + " sweep " + demo_config() + " --out " +
                          out.string() + " --grid 'eval.data=/no/such/eval.jsonl,\"\"'" +
                          kSettings + " trainer.max_steps=1 eval.every=0";
  std::string log;
  EXPECT_EQ(run_command(cmd, &log), 1) << log;
  EXPECT_NE(log.find("FAILED (exit 2)"), std::string::npos) << log;
  EXPECT_NE(log.find("/no/such/eval.jsonl"), std::string::npos) << log;  // the end of its log
  const auto j = nlohmann::json::parse(read_file((out / "sweep.json").string()));
  ASSERT_EQ(j["variants"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["variants"][0]["state"], "failed");
  EXPECT_EQ(j["variants"][0]["exit_code"], 2);
  EXPECT_TRUE(j["variants"][0]["final"].is_null());
  EXPECT_EQ(j["variants"][1]["state"], "finished");
  EXPECT_EQ(j["variants"][1]["final"]["step"], 1);
  const std::string md = read_file((out / "sweep.md").string());
  EXPECT_NE(md.find("| failed | 2 |"), std::string::npos) << md;

  // Again: the failed variant runs again, the finished one does not.
  EXPECT_EQ(run_command(cmd, &log), 1) << log;
  EXPECT_EQ(count(log, "training into"), 1u) << log;
  EXPECT_EQ(count(log, "already finished"), 1u) << log;
}

TEST(Sweep, BadInputIsOneMessageAndExitTwo) {
  const fs::path out = principia::testing::temp_dir("sweep-errors");
  const std::string base =
      principia_binary() + " sweep " + demo_config() + " --out " + out.string() + " ";
  std::string log;
  EXPECT_EQ(run_command(base + "--grid algorithm.no_such_key=1,2", &log), 2) << log;
  EXPECT_NE(log.find("algorithm.no_such_key"), std::string::npos) << log;
  EXPECT_NE(log.find("unknown key"), std::string::npos) << log;

  EXPECT_EQ(run_command(base + "--grid algorithm.loss_agg=token-mean,bogus", &log), 2) << log;
  EXPECT_NE(log.find("bogus"), std::string::npos) << log;

  EXPECT_EQ(run_command(base + "--grid algorithm.loss_agg=", &log), 2) << log;
  EXPECT_NE(log.find("algorithm.loss_agg"), std::string::npos) << log;

  EXPECT_EQ(run_command(base + "trainer.max_steps=2", &log), 2) << log;
  EXPECT_NE(log.find("exactly one of --grid and --configs"), std::string::npos) << log;
  EXPECT_EQ(run_command(base + "--grid a.b=1,2 --configs x.yaml", &log), 2) << log;
  EXPECT_NE(log.find("exactly one of --grid and --configs"), std::string::npos) << log;

  EXPECT_EQ(run_command(base + "--configs /no/such/variant.yaml", &log), 2) << log;
  EXPECT_NE(log.find("/no/such/variant.yaml"), std::string::npos) << log;
  EXPECT_EQ(run_command(principia_binary() + " sweep /no/such/base.yaml --grid a.b=1,2", &log), 2)
      << log;
  EXPECT_NE(log.find("/no/such/base.yaml"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(out / "logs")) << "nothing ran";
}

TEST(Sweep, ConfigsAreMergedOverTheBase) {
  const fs::path out = principia::testing::temp_dir("sweep-configs");
  std::string log;
  ASSERT_EQ(run_command(principia_binary() + " sweep " + demo_config() + " --configs " +
                            ablation("drgrpo") + " " + ablation("clip_higher") + " --out " +
                            out.string() + " --list" + kSettings,
                        &log),
            0)
      << log;
  EXPECT_NE(log.find("0\tdrgrpo\t"), std::string::npos) << log;
  EXPECT_NE(log.find("1\tclip_higher\t"), std::string::npos) << log;
  // The variant's own settings win over the base's.
  ASSERT_EQ(run_command(principia_binary() + " train " +
                            (out / "configs" / "drgrpo.yaml").string() + " --print-config",
                        &log),
            0)
      << log;
  EXPECT_NE(log.find("advantage: drgrpo"), std::string::npos) << log;
  EXPECT_NE(log.find("hidden_size: 128"), std::string::npos) << log;  // demo.yaml's, from the base
}

}  // namespace
}  // namespace principia
