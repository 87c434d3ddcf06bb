// `principia train` on the paged rollout engine (the default) against the static batch: the same
// samples, so the same rewards, lengths and losses every step, and the engine's prefix-cache
// hit rate in metrics.jsonl (every sample of a step shares the judge's system prompt, the
// samples of an item its principle and prompt).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"

namespace principia {
namespace {
namespace fs = std::filesystem;
using principia::testing::demo_config;
using principia::testing::principia_binary;
using principia::testing::read_metrics;
using principia::testing::run_command;

fs::path train(const std::string& name, const std::string& extra) {
  const fs::path run = principia::testing::temp_dir(name);
  std::string out;
  const int rc = run_command(principia_binary() + " train " + demo_config() + " run.output_dir=" +
                                 run.string() + principia::testing::kTinyDemoOverrides +
                                 " trainer.max_steps=3 checkpoint.every=0" + extra,
                             &out);
  EXPECT_EQ(rc, 0) << out;
  return run;
}

TEST(RolloutEngine, PagedTrainingMatchesTheStaticBatchAndReportsPrefixHits) {
  // A pool of ~31 blocks (2 KiB blocks of 16 tokens here), two sequences or so: the paged run
  // also preempts.
  const fs::path paged =
      train("engine-paged", " rollout.max_num_seqs=5 rollout.kv_cache_gib=0.00006");
  const fs::path fixed = train("engine-static", " rollout.engine=static");
  const fs::path uncached =
      train("engine-uncached", " rollout.block_size=4 rollout.prefix_caching=false");
  if (HasFailure()) return;
  const auto p = read_metrics(paged), s = read_metrics(fixed), u = read_metrics(uncached);
  ASSERT_EQ(u.size(), 3u);
  for (size_t i = 0; i < u.size(); ++i) {  // other blocks, no sharing: the same samples, no hits
    EXPECT_EQ(u[i]["reward/mean"].get<double>(), s[i]["reward/mean"].get<double>())
        << "step " << i + 1;
    EXPECT_EQ(u[i]["response/length_mean"].get<double>(),
              s[i]["response/length_mean"].get<double>());
    EXPECT_EQ(u[i]["rollout/prefix_hit_rate"].get<double>(), 0.0);
  }
  ASSERT_EQ(p.size(), 3u);
  ASSERT_EQ(s.size(), 3u);
  double preemptions = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    for (const char* key : {"reward/mean", "response/length_mean", "response/truncated_share",
                            "judgment/format_valid_rate"})
      EXPECT_EQ(p[i][key].get<double>(), s[i][key].get<double>()) << key << " at step " << i + 1;
    for (const char* key : {"loss/pg", "loss/kl", "mismatch/logp_abs_diff"})
      EXPECT_NEAR(p[i][key].get<double>(), s[i][key].get<double>(), 1e-4)
          << key << " at step " << i + 1;
    EXPECT_GT(p[i]["rollout/prefix_hit_rate"].get<double>(), 0.3) << "step " << i + 1;  // ~0.5 here
    EXPECT_LE(p[i]["rollout/prefix_hit_rate"].get<double>(), 1.0);
    EXPECT_LT(p[i]["mismatch/logp_abs_diff"].get<double>(),
              1e-4);  // the sampler's log-probs are right
    preemptions += p[i]["rollout/preemptions"].get<double>();
    EXPECT_FALSE(s[i].contains("rollout/prefix_hit_rate"));
  }
  EXPECT_GT(preemptions, 0);
}

}  // namespace
}  // namespace principia
