// The sweep's variants (grid product, names), its reading of RUN/eval/ and its summary files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli/sweep.h"
#include "core/error.h"
#include "core/files.h"
#include "tests/common/test_data.h"

namespace principia::cli::sweep {
namespace {
namespace fs = std::filesystem;

TEST(Sweep, AxisSplitsAtTopLevelCommasOnly) {
  const Axis a = parse_axis("optim.betas=[0.9,0.95],[0.9,0.999]");
  EXPECT_EQ(a.key, "optim.betas");
  ASSERT_EQ(a.values.size(), 2u);
  EXPECT_EQ(a.values[0], "[0.9,0.95]");
  EXPECT_EQ(a.values[1], "[0.9,0.999]");
  EXPECT_EQ(parse_axis("trainer.max_steps=2").values.size(), 1u);
  EXPECT_THROW(parse_axis("algorithm.loss_agg="), Error);
  EXPECT_THROW(parse_axis("algorithm.loss_agg=a,,b"), Error);
  EXPECT_THROW(parse_axis("no_equals_sign"), Error);
  EXPECT_THROW(parse_axis("a=x,x"), Error);
  EXPECT_THROW(parse_axis("reward.components+=x,y"), Error);
}

TEST(Sweep, OnlyValueListsAreAxes) {
  EXPECT_TRUE(is_value_list("algorithm.loss_agg=token-mean,seq-mean-token-mean"));
  EXPECT_TRUE(is_value_list("optim.betas=[0.9,0.95],[0.9,0.99]"));
  EXPECT_TRUE(is_value_list("algorithm.loss_agg="));  // parse_axis reports it
  EXPECT_FALSE(is_value_list("optim.betas=[0.9,0.95]"));
  EXPECT_FALSE(is_value_list("trainer.max_steps=2"));
  EXPECT_FALSE(is_value_list("run.tags={a: 1, b: 2}"));
}

TEST(Sweep, GridIsTheCartesianProductNamedByItsValues) {
  const auto v = grid_variants({parse_axis("algorithm.advantage=grpo,drgrpo"),
                                parse_axis("algorithm.clip_high=0.2,0.28"),
                                parse_axis("trainer.max_steps=5")});
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].name, "advantage-grpo_clip_high-0.2");
  EXPECT_EQ(v[3].name, "advantage-drgrpo_clip_high-0.28");
  EXPECT_EQ(v[3].overrides,
            (std::vector<std::string>{"algorithm.advantage=drgrpo", "algorithm.clip_high=0.28",
                                      "trainer.max_steps=5"}));
  // Two axes with one last segment are named by their whole paths.
  const auto w = grid_variants({parse_axis("optim.lr=1e-5,2e-5"), parse_axis("trainer.sft_lr=1e-3"),
                                parse_axis("model.lr=1,2")});
  EXPECT_EQ(w[0].name, "optim.lr-1e-5_model.lr-1");
  EXPECT_EQ(safe_name("betas-[0.9, 0.95]"), "betas-0.9-0.95");
  EXPECT_EQ(safe_name("a/b:c"), "a-b-c");
  EXPECT_EQ(safe_name(".."), "variant");
  EXPECT_THROW(grid_variants({parse_axis("a.b=1,2"), parse_axis("a.b=3,4")}), Error);
  EXPECT_THROW(grid_variants({parse_axis("a.b=x/y,x:y")}), Error);  // both become x-y
  EXPECT_THROW(grid_variants({}), Error);
}

TEST(Sweep, ConfigVariantsAreNamedByStem) {
  const auto v = config_variants({"configs/ablations/drgrpo.yaml", "other/clip_higher.yaml"});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "drgrpo");
  EXPECT_EQ(v[1].config, "other/clip_higher.yaml");
  EXPECT_THROW(config_variants({"a/x.yaml", "b/x.yaml"}), Error);
}

void write_eval(const fs::path& run, const std::string& name, double wp, double fv) {
  fs::create_directories(run / "eval");
  write_file_atomic(
      (run / "eval" / (name + ".json")).string(),
      "{\"items\": 6, \"metrics\": {\"overall\": {\"format_valid_rate\": " + std::to_string(fv) +
          ", \"pairwise_accuracy\": 0.5, \"kendall_tau_b\": 0.25, \"ndcg\": 0.9}}, "
          "\"reward\": {\"total\": 1.5, \"weighted_pair\": " +
          std::to_string(wp) + "}}\n");
}

TEST(Sweep, ReadsEvalsInStepOrderAndSummarises) {
  const fs::path dir = principia::testing::temp_dir("sweep-summary");
  const fs::path a = dir / "a", b = dir / "b";
  write_eval(a, "step-base", 0.0, 0.0);
  write_eval(a, "step-sft", 0.4, 0.9);
  write_eval(a, "step-10", 0.6, 1.0);
  write_eval(a, "step-2", 0.5, 0.95);
  write_eval(a, "step-2.judgments", 0.5, 0.95);  // not an eval summary: ignored
  write_eval(b, "step-base", 0.1, 0.5);
  write_eval(b, "step-10", 0.7, 0.75);
  write_file_atomic((b / "eval" / "step-5.json").string(), "{torn");

  const auto ea = read_evals(a.string());
  ASSERT_EQ(ea.size(), 4u);
  EXPECT_EQ(ea[0].file, "step-base");
  EXPECT_EQ(ea[1].file, "step-sft");
  EXPECT_EQ(ea[2].step, 2);
  EXPECT_EQ(ea[3].step, 10);
  EXPECT_DOUBLE_EQ(ea[3].weighted_pair, 0.6);
  EXPECT_DOUBLE_EQ(ea[3].kendall_tau_b, 0.25);
  const auto curve = training_curve(ea);
  ASSERT_EQ(curve.size(), 3u);
  EXPECT_EQ(curve[0].file, "step-sft");  // GRPO starts from the SFT model
  EXPECT_EQ(training_curve(read_evals(b.string()))[0].file, "step-base");  // no SFT: the base model

  std::vector<VariantResult> results(3);
  results[0] = {
      Variant{"a", {"algorithm.loss_agg=token-mean"}, ""}, a.string(), "finished", 0, 12.5, ea};
  results[1] = {Variant{"b", {}, "b.yaml"}, b.string(), "finished", 0, 3, read_evals(b.string())};
  results[2] = {Variant{"c", {"x=1"}, ""}, (dir / "c").string(), "failed", 1, 1, {}};
  write_summary(dir.string(), "principia sweep base.yaml --grid x=1", results);

  const auto j = read_json_file((dir / "sweep.json").string());
  ASSERT_EQ(j["variants"].size(), 3u);
  EXPECT_EQ(j["variants"][0]["final"]["step"], 10);
  EXPECT_DOUBLE_EQ(j["variants"][1]["final"]["weighted_pair"].get<double>(), 0.7);
  EXPECT_EQ(j["variants"][1]["config"], "b.yaml");
  EXPECT_TRUE(j["variants"][2]["final"].is_null());
  EXPECT_EQ(j["variants"][2]["exit_code"], 1);
  EXPECT_EQ(j["variants"][0]["evals"].size(), 4u);

  const std::string md = read_file((dir / "sweep.md").string());
  EXPECT_NE(md.find("| a | `algorithm.loss_agg=token-mean` | finished | 0 | 0.600 | +0.000 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| b | `b.yaml` | finished | 0 | 0.700 | +0.100 | 0.500 | 0.750 | -0.250 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| c | `x=1` | failed | 1 | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("](sweep.svg)"), std::string::npos);

  const std::string svg = read_file((dir / "sweep.svg").string());
  size_t polylines = 0;
  for (size_t i = svg.find("<polyline data-series="); i != std::string::npos;
       i = svg.find("<polyline data-series=", i + 1))
    ++polylines;
  EXPECT_EQ(polylines, 6u);  // 3 variants x 2 panels (c's are empty)
}

}  // namespace
}  // namespace principia::cli::sweep
