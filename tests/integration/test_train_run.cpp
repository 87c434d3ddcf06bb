// The whole training pipeline through the binary, on a model small enough for seconds on a CPU:
// synthetic data -> SentencePiece tokenizer -> SFT -> GRPO -> checkpoints -> eval -> HF export,
// and a resumed run that must end bit-identical to the uninterrupted one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/files.h"
#include "core/sha256.h"
#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"

namespace principia {
namespace {
namespace fs = std::filesystem;
using principia::testing::demo_config;
using principia::testing::principia_binary;
using principia::testing::read_metrics;
using principia::testing::run_command;

const std::string kTinyOverrides =
    std::string(principia::testing::kTinyDemoOverrides) + " checkpoint.keep_last=5 log.every=1";

std::string train(const fs::path& run_dir, const std::string& extra, int* rc) {
  std::string out;
  *rc = run_command(principia_binary() + " train " + demo_config() +
                        " run.output_dir=" + run_dir.string() + kTinyOverrides + extra,
                    &out);
  return out;
}

std::string model_digest(const fs::path& checkpoint) {
  return sha256_hex(read_file((checkpoint / "model" / "model.safetensors").string()));
}

TEST(TrainRun, EndToEndWritesMetricsCheckpointsEvalAndExport) {
  const fs::path run = principia::testing::temp_dir("train-e2e");
  int rc = 0;
  const std::string out = train(run, " eval.write_judgments=true", &rc);
  ASSERT_EQ(rc, 0) << out;

  const auto rows = read_metrics(run);
  ASSERT_EQ(rows.size(), 4u) << out;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["step"], int(i + 1));
    for (const char* key :
         {"reward/mean", "reward/format", "reward/weighted_pair", "judgment/format_valid_rate",
          "loss/total", "loss/kl", "optim/lr", "optim/grad_norm", "advantage/zero_variance_groups",
          "policy/entropy", "memory/peak_rss_gib", "time/rollout_s", "response/truncated_share"})
      EXPECT_TRUE(rows[i].contains(key)) << key << " missing at step " << i + 1;
    EXPECT_TRUE(std::isfinite(rows[i]["loss/total"].get<double>()));
  }

  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step-000002" / "MANIFEST"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "step-000004" / "optimizer.safetensors"));
  bool has_events = false;
  for (const auto& e : fs::directory_iterator(run / "tb"))
    has_events |= e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_TRUE(has_events);
  for (const char* name : {"step-base.json", "step-sft.json", "step-4.json", "step-4.md"})
    EXPECT_TRUE(fs::exists(run / "eval" / name)) << name;
  const auto eval = nlohmann::json::parse(read_file((run / "eval" / "step-4.json").string()));
  EXPECT_EQ(eval["items"], 6);
  ASSERT_EQ(eval["samples"].size(), 6u);  // the first judgments verbatim (all 6 here)
  EXPECT_TRUE(eval["samples"][0]["output"].is_string());
  EXPECT_EQ(eval["samples"][0]["mapping"].size(), 3u);
  {  // eval.write_judgments: every judgment, the first the same as the first sample
    std::ifstream in(run / "eval" / "step-4.judgments.jsonl");
    std::vector<nlohmann::json> all;
    for (std::string line; std::getline(in, line);) all.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all[0]["output"], eval["samples"][0]["output"]);
    EXPECT_EQ(all[0]["sample"], 0);
    EXPECT_TRUE(all[0]["format_valid"].is_boolean());
    EXPECT_TRUE(all[0]["components"]["weighted_pair"].is_number());
  }
  for (const char* name :
       {"config.json", "generation_config.json", "model.safetensors", "tokenizer.model"})
    EXPECT_TRUE(fs::exists(run / "export" / name)) << name;
  // The reference model (kl_coef > 0) is the post-SFT policy, kept beside the run.
  EXPECT_TRUE(fs::exists(run / "reference" / "model.safetensors"));

  // `eval` of the export, with the demo config (tokenizer.train: true), reads the model with the
  // tokenizer it was trained with (none is trained) and reproduces the run's final eval.
  const fs::path again = principia::testing::temp_dir("train-e2e-eval-export");
  std::string eval_out;
  rc = run_command(principia_binary() + " eval " + demo_config() +
                       " run.output_dir=" + again.string() + kTinyOverrides +
                       " model.path=" + (run / "export").string() +
                       " eval.data=" + (run / "data" / "eval.jsonl").string(),
                   &eval_out);
  ASSERT_EQ(rc, 0) << eval_out;
  EXPECT_FALSE(fs::exists(again / "tokenizer")) << "eval trained a tokenizer for a trained model";
  const auto reread = nlohmann::json::parse(read_file((again / "eval" / "eval.json").string()));
  EXPECT_EQ(reread["reward"]["weighted_pair"], eval["reward"]["weighted_pair"]);
  EXPECT_EQ(reread["samples"][0]["output"], eval["samples"][0]["output"]);

  // Sampled eval honours rollout.top_k: sampling among the single most likely token is greedy.
  const fs::path top1 = principia::testing::temp_dir("train-e2e-eval-top-k");
  rc = run_command(principia_binary() + " eval " + demo_config() + " run.output_dir=" +
                       top1.string() + kTinyOverrides + " model.path=" + (run / "export").string() +
                       " eval.data=" + (run / "data" / "eval.jsonl").string() +
                       " eval.greedy=false rollout.top_k=1",
                   &eval_out);
  ASSERT_EQ(rc, 0) << eval_out;
  const auto sampled = nlohmann::json::parse(read_file((top1 / "eval" / "eval.json").string()));
  ASSERT_EQ(sampled["samples"].size(), eval["samples"].size());
  for (size_t i = 0; i < eval["samples"].size(); ++i)
    EXPECT_EQ(sampled["samples"][i]["output"], eval["samples"][i]["output"]) << i;
}

TEST(TrainRun, KlInTheRewardIsReportedAsAPenaltyNotALoss) {
  const fs::path run = principia::testing::temp_dir("train-kl-in-reward");
  int rc = 0;
  const std::string out = train(
      run, " algorithm.kl_in_reward=true trainer.max_steps=3 checkpoint.every=0 optim.lr=1e-3",
      &rc);
  ASSERT_EQ(rc, 0) << out;
  const auto rows = read_metrics(run);
  ASSERT_EQ(rows.size(), 3u) << out;
  for (const auto& r : rows) {
    EXPECT_FALSE(r.contains("loss/kl")) << r.dump();  // the KL is not in the loss
    ASSERT_TRUE(r.contains("reward/kl_penalty") && r.contains("kl/token_mean")) << r.dump();
    // mean β·Σ_t kl per sequence = β · (KL per token) · (response tokens per sequence)
    const double per_seq =
        0.01 * r["kl/token_mean"].get<double>() * r["response/length_mean"].get<double>();
    EXPECT_NEAR(r["reward/kl_penalty"].get<double>(), per_seq, 1e-6 + 1e-4 * std::abs(per_seq))
        << r.dump();
  }
  // Once an update has moved the policy from the reference, the KL (k3, never negative) is not
  // zero. (The first step has no update here: every group's rewards are equal.)
  EXPECT_EQ(rows[0]["kl/token_mean"].get<double>(), 0.0) << rows[0].dump();
  EXPECT_GT(rows[2]["kl/token_mean"].get<double>(), 0.0) << rows[2].dump();
}

TEST(TrainRun, DataSkipBadSkipsBadTrainingRecords) {
  const fs::path run = principia::testing::temp_dir("train-skip-bad");
  const fs::path train_file = run / "train.jsonl";
  std::string out;
  fs::create_directories(run);
  ASSERT_EQ(
      run_command(principia_binary() + " data synth --n 40 --seed 7 --out " + train_file.string(),
                  &out),
      0)
      << out;
  std::ofstream(train_file, std::ios::app) << "{\"id\": \"broken\", \"principle\": 3}\n";
  const std::string args =
      principia_binary() + " train " + demo_config() + kTinyOverrides +
      " data.synth=false eval.every=0 trainer.max_steps=1 checkpoint.every=0 data.train=" +
      train_file.string();
  int rc = run_command(args + " run.output_dir=" + (run / "strict").string(), &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("train.jsonl:41"), std::string::npos) << out;
  EXPECT_NE(out.find("data.skip_bad"), std::string::npos) << out;  // the message names the way out
  rc = run_command(args + " data.skip_bad=true run.output_dir=" + (run / "lenient").string(), &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read_metrics(run / "lenient").size(), 1u) << out;
}

TEST(TrainRun, TokenizerTrainingWithoutDataIsAClearError) {
  const fs::path run = principia::testing::temp_dir("train-tokenizer-no-data");
  std::string out;
  const int rc = run_command(principia_binary() + " eval " + demo_config() + " run.output_dir=" +
                                 run.string() + kTinyOverrides + " data.synth=false",
                             &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("tokenizer.train: true needs training data"), std::string::npos) << out;
}

TEST(TrainRun, ResumeEndsBitIdenticalToTheUninterruptedRun) {
  const fs::path a = principia::testing::temp_dir("train-resume-a");
  int rc = 0;
  std::string out = train(a, "", &rc);
  ASSERT_EQ(rc, 0) << out;

  // B: A's run directory as it stood at step 2 (data, tokenizer, reference, checkpoint 2).
  const fs::path b = principia::testing::temp_dir("train-resume-b");
  fs::remove_all(b);
  fs::copy(a, b, fs::copy_options::recursive);
  fs::remove_all(b / "checkpoints" / "step-000004");
  fs::remove_all(b / "export");
  out = train(b, " --resume " + (b / "checkpoints" / "step-000002").string(), &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("resuming from"), std::string::npos) << out;

  // Steps 3-4 changed the weights, and the resumed run changed them identically.
  EXPECT_NE(model_digest(a / "checkpoints" / "step-000002"),
            model_digest(a / "checkpoints" / "step-000004"));
  EXPECT_EQ(model_digest(b / "checkpoints" / "step-000004"),
            model_digest(a / "checkpoints" / "step-000004"));
  const auto ra = read_metrics(a), rb = read_metrics(b);
  ASSERT_EQ(ra.size(), 4u);
  // The resumed run dropped the rows of steps after its checkpoint, then wrote them again.
  ASSERT_EQ(rb.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rb[i]["step"], ra[i]["step"]);
    EXPECT_EQ(rb[i]["reward/mean"], ra[i]["reward/mean"]);
    EXPECT_EQ(rb[i]["loss/total"], ra[i]["loss/total"]);
  }
}

TEST(TrainRun, BadOverrideIsAConfigErrorWithExitCode2) {
  const fs::path run = principia::testing::temp_dir("train-bad");
  std::string out;
  int rc = run_command(principia_binary() + " train " + demo_config() +
                           " run.output_dir=" + run.string() + " rollout.group_size=zero",
                       &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("rollout.group_size"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(run / "checkpoints"));
}

TEST(TrainRun, ExplicitEvalDataWinsOverTheSyntheticEvalSet) {
  const fs::path run = principia::testing::temp_dir("train-eval-data");
  const fs::path eval_file = run / "my-eval.jsonl";
  std::string out;
  ASSERT_EQ(
      run_command(principia_binary() + " data synth --n 3 --seed 7 --out " + eval_file.string(),
                  &out),
      0)
      << out;
  int rc = run_command(principia_binary() + " eval " + demo_config() +
                           " run.output_dir=" + run.string() + kTinyOverrides +
                           " eval.max_items=0 eval.data=" + eval_file.string(),
                       &out);
  ASSERT_EQ(rc, 0) << out;
  const auto eval = nlohmann::json::parse(read_file((run / "eval" / "eval.json").string()));
  EXPECT_EQ(eval["items"], 3) << "the 6 synthetic eval items were used instead";
  EXPECT_EQ(eval["samples"][0]["id"].get<std::string>().rfind("synth-s7-", 0), 0u)
      << eval["samples"][0]["id"];
}

TEST(TrainRun, BadDeviceIsAConfigErrorWithExitCode2) {
  // cuda:99 fails everywhere: no CUDA here, fewer than 100 GPUs on any machine.
  for (const char* device : {"tpu", "cuda:99", "cuda:x"}) {
    const fs::path run = principia::testing::temp_dir("train-bad-device");
    std::string out;
    int rc = run_command(principia_binary() + " train " + demo_config() +
                             " run.output_dir=" + run.string() + " run.device=" + device,
                         &out);
    EXPECT_EQ(rc, 2) << device << ": " << out;
    EXPECT_NE(out.find("run.device"), std::string::npos) << out;
    EXPECT_FALSE(fs::exists(run / "data")) << "refused before any work";
  }
}

TEST(TrainRun, KvCacheBudgetBoundsTheRowsOfAGenerateCall) {
  // The tiny model's KV is 128 bytes a token (fp32, 1 layer, 1 KV head of 16): 0.0001 GiB
  // holds 3 rows of at most 256 + 12 tokens, of the 12 sequences a step samples. The static
  // engine takes 3 rows a call; the paged one's pool holds more sequences than that (they share
  // their prompts' blocks and reserve no room for tokens not generated yet), still not all 12.
  for (const char* engine : {"static", "paged"}) {
    const fs::path run = principia::testing::temp_dir(std::string("train-kv-budget-") + engine);
    int rc = 0;
    std::string out = train(
        run,
        std::string(" rollout.kv_cache_gib=0.0001 trainer.max_steps=2 rollout.engine=") + engine,
        &rc);
    ASSERT_EQ(rc, 0) << out;
    const auto rows = read_metrics(run);
    ASSERT_EQ(rows.size(), 2u) << out;
    for (const auto& r : rows) {
      EXPECT_GE(r["rollout/rows_per_call"].get<double>(), 3) << engine << " " << r.dump();
      EXPECT_LT(r["rollout/rows_per_call"].get<double>(), 12) << engine << " " << r.dump();
    }
  }
  int rc = 0;
  std::string out;
  // A budget that holds no sequence is refused before any training, naming the key.
  out = train(principia::testing::temp_dir("train-kv-none"), " rollout.kv_cache_gib=0.00002", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("rollout.kv_cache_gib"), std::string::npos) << out;
  EXPECT_NE(out.find("does not hold the KV cache of one sequence"), std::string::npos) << out;
  EXPECT_EQ(out.find("sft ["), std::string::npos) << out;
}

TEST(PlanCli, Qwen3_8BConfigWithoutTheModelFolderAndTheDemo) {
  const std::string configs = std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs/";
  std::string out;
  int rc = run_command("QWEN3_8B_DIR=/nonexistent " + principia_binary() + " plan " + configs +
                           "qwen3-8b-grpo.yaml --world-size 8",
                       &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("8190735360"), std::string::npos) << out;  // Qwen3-8B, untied head
  EXPECT_NE(out.find("world 8, ZeRO-2"), std::string::npos) << out;
  auto peak_gib = [](const std::string& text) {
    const size_t at = text.find("  peak ");
    return at == std::string::npos ? 1e9 : std::stod(text.substr(at + 7));
  };
  EXPECT_LE(peak_gib(out), 72.0) << out;  // fits an 80 GB GPU with headroom
  EXPECT_EQ(out.find("warning:"), std::string::npos) << out;
  rc = run_command("QWEN3_1_7B_DIR=/nonexistent " + principia_binary() + " plan " + configs +
                       "qwen3-1.7b-grpo-1gpu.yaml",
                   &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_LE(peak_gib(out), 72.0) << out;
  rc = run_command("QWEN3_14B_DIR=/nonexistent " + principia_binary() + " plan " + configs +
                       "qwen3-14b-grpo.yaml --world-size 16",
                   &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("world 16, ZeRO-3"), std::string::npos) << out;
  EXPECT_LE(peak_gib(out), 72.0) << out;
  EXPECT_EQ(out.find("warning:"), std::string::npos) << out;
  // Qwen3-32B's shape: gathering its weights for the rollout alone overflows, and plan says so.
  rc = run_command(
      "QWEN3_14B_DIR=/nonexistent " + principia_binary() + " plan " + configs +
          "qwen3-14b-grpo.yaml --world-size 16 model.intermediate_size=25600 model.num_layers=64 "
          "model.num_heads=64",
      &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("rollout phase) exceeds 80 GiB"), std::string::npos) << out;
  EXPECT_NE(out.find("gathered weights"), std::string::npos) << out;
  // Without the KV budget and ZeRO-2 the 8B recipe does not fit, and plan says where.
  rc =
      run_command("QWEN3_8B_DIR=/nonexistent " + principia_binary() + " plan " + configs +
                      "qwen3-8b-grpo.yaml --world-size 8 optim.zero_stage=1 rollout.kv_cache_gib=0",
                  &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_GT(peak_gib(out), 80.0) << out;
  EXPECT_NE(out.find("warning: the peak per rank"), std::string::npos) << out;
  EXPECT_NE(out.find("rollout phase) exceeds 80 GiB"), std::string::npos) << out;
  rc = run_command(principia_binary() + " plan " + configs + "demo.yaml", &out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("853376"), std::string::npos) << out;  // demo: 4 layers, hidden 128, vocab 512
}

}  // namespace
}  // namespace principia
