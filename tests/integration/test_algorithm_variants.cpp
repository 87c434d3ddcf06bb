// Every algorithm option through a real run: 2 GRPO steps of the tiny demo model per variant
// (advantage estimators, policy losses, KL in the loss and in the reward with each estimator,
// the four loss aggregations, an entropy bonus, PPO epochs x mini-batches, dynamic sampling,
// truncation masking, truncated importance sampling), in process with StepHooks observing the
// step. For each variant: the metrics are finite, each micro-batch's loss is what the
// registries' pure functions give on that micro-batch (advantages recomputed from the rewards,
// normalisers recounted from the masks), the sampler's log-probs agree with the trainer's, and
// the weights moved. Then every configs/ablations/*.yaml runs 2 steps.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "model/transformer.h"
#include "tests/common/test_data.h"
#include "tests/integration/tiny_run.h"
#include "trainer/core_algos.h"
#include "trainer/grpo_step.h"
#include "trainer/train_run.h"

namespace principia::trainer {
namespace {
namespace fs = std::filesystem;
using principia::testing::read_metrics;

std::string configs_dir() {
  return std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs";
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The tiny demo, 2 GRPO steps, eval on one item; 4 items a step so mini-batches of 2 divide it.
// A short SFT at a high rate makes the model open its <think> block on some samples and not on
// others, so the format reward varies within groups and the advantages are not all zero.
// Without weight decay the weights move only through gradients.
std::vector<std::string> tiny_overrides(const fs::path& run_dir, const std::string& extra) {
  auto o = split(std::string(principia::testing::kTinyDemoOverrides) +
                 " trainer.sft_steps=20 trainer.sft_lr=5e-3 optim.weight_decay=0 "
                 "trainer.max_steps=2 checkpoint.every=0 eval.max_items=1"
                 " rollout.batch_size=4 optim.lr=1e-3 log.tensorboard=false " +
                 extra);
  o.push_back("run.output_dir=" + run_dir.string());
  return o;
}

struct Variant {
  std::string name;
  std::string overrides;                      // space-separated key=value
  std::vector<std::string> with_spaces = {};  // overrides whose values hold spaces
};

std::ostream& operator<<(std::ostream& os, const Variant& v) {
  return os << v.name;
}

// What the hooks saw during one run.
struct Observed {
  std::vector<torch::Tensor> start_weights;
  double max_weight_change = 0;
  int64_t micro_batches = 0;
  double max_loss_error = 0;           // |step's loss − reference| over micro-batches
  double max_advantage_error = 0;      // step's advantages against the registry on its rewards
  double max_row_advantage_error = 0;  // micro-batch advantages against the batch's, by row
  double max_old_logp_error = 0;       // first epoch, first mini-batch: old == current
  double max_truncation_mask_error = 0;
  double max_abs_advantage = 0;  // over the rows of the loss: the step had signal
  std::map<std::pair<int64_t, int64_t>, double> mask_tokens;  // (step, mini-batch) -> Σ loss mask
  std::map<std::pair<int64_t, int64_t>, double> norm_tokens;  // the step's normaliser
  bool shaped_equals_rewards_at_step0 = false, shaped_differs_later = false;
};

StepHooks observe(const config::Config& cfg, Observed* seen) {
  const auto& alg = cfg.algorithm;
  auto flat_adv = std::make_shared<torch::Tensor>();
  StepHooks h;
  h.step_begin = [seen](int64_t step, model::Transformer& policy) {
    if (step != 0) return;
    for (const auto& p : policy.parameters()) seen->start_weights.push_back(p.detach().clone());
  };
  h.advantages = [&alg, seen, flat_adv](int64_t step, const at::Tensor& rewards,
                                        const at::Tensor& shaped, const Advantages& adv) {
    Advantages want = compute_advantages(shaped, advantage_estimator(alg.advantage), alg.adv_eps);
    seen->max_advantage_error =
        std::max(seen->max_advantage_error, (want.values - adv.values).abs().max().item<double>());
    const bool same = torch::equal(shaped, rewards.to(shaped.scalar_type()));
    if (step == 0)
      seen->shaped_equals_rewards_at_step0 = same;
    else
      seen->shaped_differs_later |= !same;
    *flat_adv = adv.values.flatten();
  };
  h.micro_batch_loss = [&cfg, &alg, seen, flat_adv](int64_t step, const MicroBatchView& v,
                                                    at::Tensor& loss) {
    ++seen->micro_batches;
    // The loss, rebuilt from the registries' pure functions.
    PolicyLoss pl = policy_loss_spec(alg.policy_loss)
                        .fn(v.logp, v.old_logp, v.advantages, v.loss_mask, ClipOptions::from(alg));
    at::Tensor token_loss = pl.pg * truncated_is_weights(v.old_logp, v.sampler_logp, v.loss_mask,
                                                         alg.tis.level, alg.tis.cap);
    at::Tensor want = aggregate_loss(token_loss, v.loss_mask, alg.loss_agg, v.norm);
    if (alg.kl_coef > 0 && !alg.kl_in_reward)
      want = want + alg.kl_coef * aggregate_loss(kl_penalty(v.logp, v.ref_logp, alg.kl_estimator),
                                                 v.loss_mask, alg.loss_agg, v.norm);
    if (alg.entropy_coef > 0)
      want = want - alg.entropy_coef * aggregate_loss(v.entropy, v.loss_mask, alg.loss_agg, v.norm);
    const double got = loss.item<double>(), ref = want.item<double>();
    seen->max_loss_error =
        std::max(seen->max_loss_error, std::abs(got - ref) / std::max(1.0, std::abs(ref)));
    // Each row's advantage is its sequence's in the batch.
    std::vector<int64_t> rows(v.rows.begin(), v.rows.end());
    at::Tensor batch_adv =
        flat_adv->index_select(0, torch::tensor(rows)).to(v.advantages.scalar_type());
    seen->max_abs_advantage =
        std::max(seen->max_abs_advantage, v.advantages.abs().max().item<double>());
    seen->max_row_advantage_error = std::max(seen->max_row_advantage_error,
                                             (batch_adv - v.advantages).abs().max().item<double>());
    if (v.epoch == 0 && v.mini_batch == 0)
      seen->max_old_logp_error = std::max(
          seen->max_old_logp_error, ((v.old_logp - v.logp) * v.mask).abs().max().item<double>());
    // Rows left out of the loss are exactly the truncated ones: those that ran to max_new_tokens.
    const at::Tensor length = v.mask.sum(1);
    const at::Tensor full = length.eq(double(cfg.rollout.max_new_tokens));
    const at::Tensor left_out = v.loss_mask.sum(1).eq(0).logical_and(length.gt(0));
    const at::Tensor want_left_out = cfg.algorithm.mask_truncated ? full : torch::zeros_like(full);
    seen->max_truncation_mask_error += left_out.ne(want_left_out).sum().item<double>();
    seen->mask_tokens[{step, v.mini_batch}] += v.loss_mask.sum().item<double>();
    seen->norm_tokens[{step, v.mini_batch}] = v.norm.tokens;
  };
  h.step_end = [seen](int64_t step, model::Transformer& policy, const StepMetrics&) {
    if (step != 1) return;
    auto params = policy.parameters();
    for (size_t i = 0; i < params.size(); ++i)
      seen->max_weight_change =
          std::max(seen->max_weight_change,
                   (params[i].detach() - seen->start_weights[i]).abs().max().item<double>());
  };
  return h;
}

class AlgorithmVariant : public ::testing::TestWithParam<Variant> {};

TEST_P(AlgorithmVariant, TwoStepsComputeTheVariantsLossAndMoveTheWeights) {
  const Variant& variant = GetParam();
  const fs::path run_dir = principia::testing::temp_dir("variant-" + variant.name);
  auto overrides = tiny_overrides(run_dir, variant.overrides);
  overrides.insert(overrides.end(), variant.with_spaces.begin(), variant.with_spaces.end());
  const config::Config cfg = config::load(configs_dir() + "/demo.yaml", overrides);
  Observed seen;
  const StepHooks hooks = observe(cfg, &seen);
  RunOptions options;
  options.hooks = &hooks;
  ASSERT_EQ(run(cfg, options), 0);

  auto rows = read_metrics(run_dir);
  ASSERT_EQ(rows.size(), 2u);
  const bool any_update =
      rows[0]["optim/skipped_updates"] == 0 && !rows[0]["optim/grad_norm"].is_null();
  for (const auto& row : rows)
    for (const auto& [key, value] : row.items()) {
      // Without any completion left in the loss (mask_truncated on a model that never stops)
      // there is no update, hence no gradient norm.
      if (key == "optim/grad_norm" && cfg.algorithm.mask_truncated && value.is_null()) continue;
      EXPECT_TRUE(value.is_number()) << variant.name << ": " << key << " = " << value.dump();
    }
  // The sampler's log-probs are the trainer's (same weights, same temperature, no top-k/p).
  for (const auto& row : rows)
    EXPECT_LT(row["mismatch/logp_abs_diff"].get<double>(), 1e-3) << variant.name;

  EXPECT_GT(seen.micro_batches, 0);
  EXPECT_GT(seen.max_abs_advantage, 0)
      << variant.name << ": no advantage signal, the checks below would be empty";
  EXPECT_LT(seen.max_loss_error, 1e-5) << variant.name;
  EXPECT_LT(seen.max_advantage_error, 1e-6) << variant.name;
  EXPECT_LT(seen.max_row_advantage_error, 1e-6) << variant.name;
  EXPECT_LT(seen.max_old_logp_error, 1e-5) << variant.name;
  EXPECT_EQ(seen.max_truncation_mask_error, 0) << variant.name;
  for (const auto& [key, tokens] : seen.mask_tokens)
    EXPECT_EQ(tokens, seen.norm_tokens[key])
        << variant.name << ": step " << key.first << " mini-batch " << key.second;
  if (cfg.algorithm.kl_in_reward) {
    EXPECT_TRUE(seen.shaped_equals_rewards_at_step0)
        << "the policy is the reference at step 1: no KL";
    EXPECT_TRUE(seen.shaped_differs_later) << "after an update the KL shapes the reward";
  } else {
    EXPECT_TRUE(seen.shaped_equals_rewards_at_step0);
    EXPECT_FALSE(seen.shaped_differs_later);
  }
  // Mini-batches seen over the 2 steps: epochs x (4 items / mini_batch).
  const int64_t minis = cfg.algorithm.mini_batch > 0 ? 4 / cfg.algorithm.mini_batch : 1;
  if (!cfg.algorithm.mask_truncated)
    EXPECT_EQ(int64_t(seen.norm_tokens.size()), 2 * cfg.algorithm.ppo_epochs * minis)
        << variant.name;
  if (rows[0].contains("reward/overlong")) {  // most completions of the tiny model run to the limit
    for (const auto& row : rows) {
      EXPECT_LT(row["reward/overlong"].get<double>(), -0.5);
      EXPECT_GE(row["reward/overlong"].get<double>(), -1.0);
      EXPECT_GE(row["reward/consistency"].get<double>(), 0.0);
    }
  }
  if (rows[0].contains("dynamic_sampling/rounds")) {
    EXPECT_GE(rows[0]["dynamic_sampling/rounds"].get<double>(), 1);
    for (const auto& row : rows) {
      const double kept = row["dynamic_sampling/groups_kept"],
                   filled = row["dynamic_sampling/groups_filled"];
      EXPECT_EQ(kept + filled, 4);
      EXPECT_EQ(row["dynamic_sampling/groups_seen"].get<double>(),
                4 * row["dynamic_sampling/rounds"].get<double>());
      // Only groups whose format reward varies were kept: none without signal unless filled.
      if (filled == 0) EXPECT_EQ(row["advantage/zero_variance_groups"].get<double>(), 0);
    }
  }
  if (any_update || !cfg.algorithm.mask_truncated) {
    EXPECT_GT(seen.max_weight_change, 0) << variant.name << ": the weights did not move";
  } else {  // nothing was in the loss: the weights must not have moved either
    EXPECT_EQ(rows[0]["response/masked_truncated_share"].get<double>(), 1.0);
    EXPECT_EQ(seen.max_weight_change, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Options, AlgorithmVariant,
    ::testing::Values(
        Variant{"advantage_grpo", "algorithm.advantage=grpo"},
        Variant{"advantage_drgrpo", "algorithm.advantage=drgrpo"},
        Variant{"advantage_batch_std", "algorithm.advantage=batch_std"},
        Variant{"loss_clipped_dual_clip", "algorithm.policy_loss=clipped algorithm.dual_clip=3"},
        Variant{"loss_gspo", "algorithm.policy_loss=gspo algorithm.loss_agg=seq-mean-token-mean"},
        Variant{"kl_in_loss_k1", "algorithm.kl_coef=0.05 algorithm.kl_estimator=k1"},
        Variant{"kl_in_loss_k2", "algorithm.kl_coef=0.05 algorithm.kl_estimator=k2"},
        Variant{"kl_in_loss_k3", "algorithm.kl_coef=0.05 algorithm.kl_estimator=k3"},
        Variant{"kl_in_reward_k1",
                "algorithm.kl_coef=0.05 algorithm.kl_in_reward=true algorithm.kl_estimator=k1"},
        Variant{"kl_in_reward_k2",
                "algorithm.kl_coef=0.05 algorithm.kl_in_reward=true algorithm.kl_estimator=k2"},
        Variant{"kl_in_reward_k3",
                "algorithm.kl_coef=0.05 algorithm.kl_in_reward=true algorithm.kl_estimator=k3"},
        Variant{"agg_token_mean", "algorithm.loss_agg=token-mean"},
        Variant{"agg_seq_mean_token_mean", "algorithm.loss_agg=seq-mean-token-mean"},
        Variant{"agg_seq_mean_token_sum", "algorithm.loss_agg=seq-mean-token-sum"},
        Variant{"agg_seq_mean_token_sum_norm", "algorithm.loss_agg=seq-mean-token-sum-norm"},
        Variant{"entropy_bonus", "algorithm.entropy_coef=0.01"},
        Variant{"ppo_epochs_2_mini_batches_2", "algorithm.ppo_epochs=2 algorithm.mini_batch=2"},
        Variant{"dynamic_sampling",
                "algorithm.dynamic_sampling.enabled=true algorithm.dynamic_sampling.max_rounds=2 "
                "algorithm.dynamic_sampling.component=format"},
        Variant{"mask_truncated", "algorithm.mask_truncated=true"},
        Variant{"tis_token",
                "algorithm.tis.level=token algorithm.tis.cap=2 algorithm.ppo_epochs=2"},
        Variant{"tis_sequence",
                "algorithm.tis.level=sequence algorithm.tis.cap=2 algorithm.ppo_epochs=2"},
        Variant{"reward_overlong_and_consistency",
                "",
                {"reward.components+={name: overlong, weight: 0.2, params: {buffer: 4}}",
                 "reward.components+={name: consistency, weight: 0.2}"}}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

// Every ablation config the repository ships loads and trains 2 steps.
TEST(AblationConfigs, EachLoadsAndRunsTwoSteps) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(configs_dir() + "/ablations"))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 4u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const fs::path run_dir = principia::testing::temp_dir("ablation-" + file.stem().string());
    const config::Config cfg = config::load(file.string(), tiny_overrides(run_dir, ""));
    ASSERT_EQ(run(cfg, RunOptions{}), 0);
    auto rows = read_metrics(run_dir);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_TRUE(rows[1]["loss/total"].is_number());
  }
}

// Names the registries do not know, and options the chosen loss ignores, stop the run at once.
TEST(AlgorithmConfig, UnknownNamesAndIgnoredKeysAreConfigErrors) {
  const fs::path run_dir = principia::testing::temp_dir("variant-bad");
  auto expect_error = [&](const std::string& extra, const std::string& key,
                          const std::string& words) {
    const config::Config cfg =
        config::load(configs_dir() + "/demo.yaml", tiny_overrides(run_dir, extra));
    try {
      run(cfg, RunOptions{});
      ADD_FAILURE() << extra << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_error("algorithm.policy_loss=ppo2", "algorithm.policy_loss", "known: clipped, gspo");
  expect_error("algorithm.advantage=rloo", "algorithm.advantage", "known: grpo, drgrpo, batch_std");
  expect_error("algorithm.policy_loss=gspo algorithm.dual_clip=3", "algorithm.dual_clip",
               "no dual clip");
  expect_error("algorithm.dynamic_sampling.enabled=true algorithm.dynamic_sampling.component=ndcg",
               "algorithm.dynamic_sampling.component", "not in reward.components");
}

}  // namespace
}  // namespace principia::trainer
