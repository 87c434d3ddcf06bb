// GRPO tensor math against hand-computed values (the arithmetic is in the comments).
#include "trainer/core_algos.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace principia::trainer {
namespace {

using config::KlEstimator;
using config::LossAgg;

at::Tensor d2(std::vector<std::vector<double>> rows) {
  std::vector<at::Tensor> ts;
  for (auto& r : rows) ts.push_back(torch::tensor(r, torch::kDouble));
  return torch::stack(ts);
}
double at2(const at::Tensor& t, int64_t i, int64_t j) { return t[i][j].item<double>(); }

// ---- advantages ----

TEST(Advantages, GrpoUsesUnbiasedGroupStd) {
  // group 0: r = 1, 2, 3: mean 2, unbiased var ((−1)² + 0² + 1²) / (3 − 1) = 1, std 1
  //   A = (−1, 0, 1) / (1 + 1e-6)
  // group 1: all 0.5 -> zero variance -> A = 0, counted
  // group 2: r = 0, 0, 3: mean 1, var (1 + 1 + 4) / 2 = 3, std √3 = 1.7320508; A = (−1, −1, 2) / (√3 + 1e-6)
  auto r = d2({{1, 2, 3}, {0.5, 0.5, 0.5}, {0, 0, 3}});
  Advantages a = compute_advantages(r, advantage_estimator("grpo"), 1e-6);
  EXPECT_EQ(a.groups, 3);
  EXPECT_EQ(a.zero_variance_groups, 1);
  EXPECT_NEAR(at2(a.values, 0, 0), -1 / 1.000001, 1e-12);
  EXPECT_NEAR(at2(a.values, 0, 1), 0.0, 1e-12);
  EXPECT_NEAR(at2(a.values, 0, 2), 1 / 1.000001, 1e-12);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(at2(a.values, 1, j), 0.0);
  const double s3 = std::sqrt(3.0) + 1e-6;
  EXPECT_NEAR(at2(a.values, 2, 0), -1 / s3, 1e-12);
  EXPECT_NEAR(at2(a.values, 2, 2), 2 / s3, 1e-12);
}

TEST(Advantages, GrpoBinaryRewardsG4) {
  // r = 0, 1, 0, 1: mean 0.5, unbiased var 4·0.25/3 = 1/3, std 0.5773503
  // A = ±0.5 / 0.5773503 = ±0.8660254 (eps 0 here to keep the number clean)
  auto r = d2({{0, 1, 0, 1}});
  auto a = compute_advantages(r, advantage_estimator("grpo"), 0.0);
  EXPECT_NEAR(at2(a.values, 0, 0), -0.8660254037844387, 1e-12);
  EXPECT_NEAR(at2(a.values, 0, 1), 0.8660254037844387, 1e-12);
  EXPECT_EQ(a.zero_variance_groups, 0);
}

TEST(Advantages, DrGrpoIsMeanCenteredOnly) {
  // r = 1, 2, 3 -> (−1, 0, 1); r = 0, 1, 0: mean 1/3 -> (−1/3, 2/3, −1/3)
  auto a = compute_advantages(d2({{1, 2, 3}, {0, 1, 0}, {7, 7, 7}}), advantage_estimator("drgrpo"), 1e-6);
  EXPECT_NEAR(at2(a.values, 0, 0), -1.0, 1e-12);
  EXPECT_NEAR(at2(a.values, 0, 2), 1.0, 1e-12);
  EXPECT_NEAR(at2(a.values, 1, 0), -1.0 / 3, 1e-12);
  EXPECT_NEAR(at2(a.values, 1, 1), 2.0 / 3, 1e-12);
  EXPECT_EQ(a.zero_variance_groups, 1);
}

TEST(Advantages, BatchStdUsesStdOfAllRewards) {
  // all six rewards 1, 2, 3, .5, .5, .5: mean 7.5/6 = 1.25
  // squared deviations .0625 + .5625 + 3.0625 + 3·.5625 = 5.375; unbiased var 5.375/5 = 1.075
  // std = 1.0368221; group 0: (−1, 0, 1) / (1.0368221 + 1e-6) = ∓0.9644847; group 1: 0
  auto a = compute_advantages(d2({{1, 2, 3}, {0.5, 0.5, 0.5}}), advantage_estimator("batch_std"), 1e-6);
  EXPECT_NEAR(at2(a.values, 0, 0), -0.9644847141091635, 1e-9);
  EXPECT_NEAR(at2(a.values, 0, 2), 0.9644847141091635, 1e-9);
  EXPECT_EQ(at2(a.values, 1, 0), 0.0);
  EXPECT_EQ(a.zero_variance_groups, 1);
}

TEST(Advantages, ZeroVarianceInFloatIsExactlyZero) {
  // 0.1f three times: the float mean can differ from 0.1f by rounding; A must still be 0.
  auto r = torch::full({2, 3}, 0.1f);
  auto a = compute_advantages(r, advantage_estimator("grpo"), 1e-6);
  EXPECT_EQ(a.zero_variance_groups, 2);
  EXPECT_EQ(a.values.abs().sum().item<double>(), 0.0);
  EXPECT_EQ(a.values.scalar_type(), torch::kFloat);
}

TEST(Advantages, RejectsBadShapes) {
  EXPECT_THROW(compute_advantages(torch::zeros({4}), advantage_estimator("grpo"), 1e-6), Error);
  EXPECT_THROW(compute_advantages(torch::zeros({4, 1}), advantage_estimator("grpo"), 1e-6), Error);
}

TEST(KlInReward, SubtractsBetaTimesSequenceKl) {
  // seq 0: kl .1 + .2 (third token masked) = .3 -> 1 − 0.5·0.3 = 0.85
  // seq 1: kl .4 (others masked)             = .4 -> 0.5 − 0.5·0.4 = 0.3
  auto r = torch::tensor({1.0, 0.5}, torch::kDouble);
  auto kl = d2({{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}});
  auto mask = d2({{1, 1, 0}, {1, 0, 0}});
  auto out = apply_kl_to_rewards(r, kl, mask, 0.5);
  EXPECT_NEAR(out[0].item<double>(), 0.85, 1e-12);
  EXPECT_NEAR(out[1].item<double>(), 0.3, 1e-12);
  // [groups, G] rewards keep their shape (rows of kl in row-major order)
  auto out2 = apply_kl_to_rewards(r.reshape({1, 2}), kl, mask, 0.5);
  EXPECT_EQ(out2.sizes(), (std::vector<int64_t>{1, 2}));
  EXPECT_NEAR(at2(out2, 0, 1), 0.3, 1e-12);
}

// ---- per-token ----

TEST(TokenLogProbs, GatherMinusLogSumExp) {
  // logits (1, 2, 3), id 2: 3 − log(e + e² + e³) = 3 − 3.4076060 = −0.4076060
  auto logits = torch::tensor({1.0f, 2.0f, 3.0f}).reshape({1, 1, 3});
  auto ids = torch::tensor({2L}).reshape({1, 1});
  auto lp = token_log_probs(logits, ids);
  EXPECT_EQ(lp.sizes(), (std::vector<int64_t>{1, 1}));
  EXPECT_NEAR(lp.item<double>(), -0.40760596444438013, 1e-6);
  EXPECT_THROW(token_log_probs(logits, torch::zeros({2, 1}, torch::kLong)), Error);
}

TEST(Entropy, FromLogits) {
  // uniform over 4: ln 4 = 1.3862944; p = (1/4, 3/4) from logits (ln 1, ln 3):
  // −(.25 ln .25 + .75 ln .75) = .3465736 + .2157616 = 0.5623351
  auto logits = torch::tensor({0.0, 0.0, 0.0, 0.0, 0.0, std::log(3.0), -1e9, -1e9}).reshape({2, 4});
  auto h = entropy_from_logits(logits);
  EXPECT_NEAR(h[0].item<double>(), std::log(4.0), 1e-6);
  EXPECT_NEAR(h[1].item<double>(), 0.5623351446188083, 1e-6);
}

TEST(KlPenalty, EachEstimator) {
  // logp = (−1, −2), ref = (−1.5, −1): d = ref − logp = (−0.5, 1)
  auto logp = torch::tensor({-1.0, -2.0}, torch::kDouble);
  auto ref = torch::tensor({-1.5, -1.0}, torch::kDouble);
  // k1 = logp − ref = (0.5, −1)
  auto k1 = kl_penalty(logp, ref, KlEstimator::kK1);
  EXPECT_NEAR(k1[0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(k1[1].item<double>(), -1.0, 1e-12);
  // k2 = ½ d² = (0.125, 0.5)
  auto k2 = kl_penalty(logp, ref, KlEstimator::kK2);
  EXPECT_NEAR(k2[0].item<double>(), 0.125, 1e-12);
  EXPECT_NEAR(k2[1].item<double>(), 0.5, 1e-12);
  // k3 = e^d − d − 1 = (e^−0.5 + 0.5 − 1, e − 2) = (0.1065307, 0.7182818)
  auto k3 = kl_penalty(logp, ref, KlEstimator::kK3);
  EXPECT_NEAR(k3[0].item<double>(), 0.10653065971263342, 1e-12);
  EXPECT_NEAR(k3[1].item<double>(), 0.7182818284590451, 1e-12);
}

TEST(KlPenalty, K3ClampsTheLogRatio) {
  // ref − logp = −100 clamps to −20: e^−20 + 20 − 1 = 19.000000002; +100 -> 20: finite
  auto k3 = kl_penalty(torch::tensor({0.0, -100.0}, torch::kDouble),
                       torch::tensor({-100.0, 0.0}, torch::kDouble), KlEstimator::kK3);
  EXPECT_NEAR(k3[0].item<double>(), 19.000000002061153, 1e-9);
  EXPECT_NEAR(k3[1].item<double>(), std::exp(20.0) - 21.0, 1e-3);
}

TEST(KlPenalty, K3GradientIsOneMinusRatio) {
  // d k3 / d logp = −e^d + 1 with d = ref − logp: logp −1, ref −1.5 -> 1 − e^−0.5 = 0.3934693
  auto logp = torch::tensor({-1.0}, torch::kDouble).requires_grad_(true);
  kl_penalty(logp, torch::tensor({-1.5}, torch::kDouble), KlEstimator::kK3).sum().backward();
  EXPECT_NEAR(logp.grad()[0].item<double>(), 1 - std::exp(-0.5), 1e-12);
}

// ---- policy loss ----

// Two sequences of 4 tokens, ε_low 0.2, ε_high 0.28 (clip range [0.8, 1.28]).
// seq 0: A = +1, ratios 1.5, 0.7, 1.0, 1.1   pg = −min(r, clip(r)):
//   1.5 -> −1.28 (clipped) | 0.7 -> −0.7 (clip(0.7)=0.8 gives −0.8 < −0.7: not clipped) |
//   1.0 -> −1.0 | 1.1 -> −1.1
// seq 1: A = −1, ratios 1.5, 0.7, 3.5, 5.0 (last token masked)   pg = max(r, clip(r)):
//   1.5 -> 1.5 | 0.7 -> 0.8 (clipped) | 3.5 -> 3.5 | 5.0 -> 5.0 (masked)
// clipped (masked tokens only) = 2, tokens = 7, ratio min 0.7 max 3.5 (5.0 is masked)
struct PolicyCase {
  at::Tensor logp, old_logp, adv, mask;
  PolicyCase() {
    auto ratios = d2({{1.5, 0.7, 1.0, 1.1}, {1.5, 0.7, 3.5, 5.0}});
    old_logp = d2({{-1, -2, -3, -4}, {-0.5, -1.5, -2.5, -3.5}});
    logp = (old_logp + ratios.log()).detach().requires_grad_(true);
    adv = torch::tensor({1.0, -1.0}, torch::kDouble);
    mask = d2({{1, 1, 1, 1}, {1, 1, 1, 0}});
  }
};

TEST(PolicyLoss, ClippedSurrogateWithAsymmetricClip) {
  PolicyCase c;
  PolicyLoss pl = policy_loss(c.logp, c.old_logp, c.adv, c.mask, {0.2, 0.28, 0.0});
  const double want[2][4] = {{-1.28, -0.7, -1.0, -1.1}, {1.5, 0.8, 3.5, 5.0}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(at2(pl.pg, i, j), want[i][j], 1e-12) << i << "," << j;
  EXPECT_EQ(pl.clipped.item<double>(), 2.0);
  EXPECT_EQ(pl.dual_clipped.item<double>(), 0.0);
  EXPECT_EQ(pl.tokens.item<double>(), 7.0);
  EXPECT_NEAR(pl.ratio_min.item<double>(), 0.7, 1e-12);
  EXPECT_NEAR(pl.ratio_max.item<double>(), 3.5, 1e-12);
  // Gradient d pg / d logp = −A·ratio on unclipped tokens, 0 on clipped ones:
  // seq 0: 0, −0.7, −1.0, −1.1   seq 1: 1.5, 0, 3.5, 5.0
  pl.pg.sum().backward();
  const double grad[2][4] = {{0, -0.7, -1.0, -1.1}, {1.5, 0, 3.5, 5.0}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(at2(c.logp.grad(), i, j), grad[i][j], 1e-12);
}

TEST(PolicyLoss, DualClipBoundsNegativeAdvantages) {
  // c = 3: for A = −1 the loss is capped at −c·A = 3: 3.5 -> 3.0 (dual clipped), masked 5.0 -> 3.0
  // (not counted: masked). A = +1 tokens and A < 0 tokens under the cap are unchanged.
  PolicyCase c;
  PolicyLoss pl = policy_loss(c.logp, c.old_logp, c.adv, c.mask, {0.2, 0.28, 3.0});
  const double want[2][4] = {{-1.28, -0.7, -1.0, -1.1}, {1.5, 0.8, 3.0, 3.0}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(at2(pl.pg, i, j), want[i][j], 1e-12) << i << "," << j;
  EXPECT_EQ(pl.dual_clipped.item<double>(), 1.0);
  EXPECT_EQ(pl.clipped.item<double>(), 2.0);
  // the capped tokens carry no gradient
  pl.pg.sum().backward();
  EXPECT_EQ(at2(c.logp.grad(), 1, 2), 0.0);
  EXPECT_NEAR(at2(c.logp.grad(), 1, 0), 1.5, 1e-12);
  EXPECT_THROW(policy_loss(c.logp, c.old_logp, c.adv, c.mask, {0.2, 0.2, 0.5}), Error);
}

TEST(PolicyLoss, RatioLogIsClampedAt20) {
  // logp − old_logp = 30 -> ratio e^20 = 4.85165e8; A = +1: pg = −min(e^20, 1.2) = −1.2
  auto logp = d2({{30.0}});
  auto pl = policy_loss(logp, d2({{0.0}}), torch::tensor({1.0}, torch::kDouble), d2({{1}}),
                        {0.2, 0.2, 0.0});
  EXPECT_NEAR(pl.ratio_max.item<double>(), 485165195.4097903, 1e-3);
  EXPECT_NEAR(pl.pg.item<double>(), -1.2, 1e-12);
}

TEST(PolicyLoss, PerTokenAdvantagesAndShapeChecks) {
  PolicyCase c;
  auto adv_tok = c.adv.unsqueeze(1).expand({2, 4}).contiguous();
  auto a = policy_loss(c.logp, c.old_logp, c.adv, c.mask, {0.2, 0.28, 0.0});
  auto b = policy_loss(c.logp, c.old_logp, adv_tok, c.mask, {0.2, 0.28, 0.0});
  EXPECT_TRUE(torch::equal(a.pg, b.pg));
  EXPECT_THROW(policy_loss(c.logp, c.old_logp, torch::zeros({3}), c.mask, {}), Error);
  EXPECT_THROW(policy_loss(c.logp, c.old_logp.narrow(1, 0, 3), c.adv, c.mask, {}), Error);
}

// ---- GSPO ----

TEST(GspoLoss, OneRatioPerSequenceClippedAsAWhole) {
  // seq 0: log-ratios (0.1, 0.3, masked 5.0) -> mean 0.2, s = e^0.2 = 1.2214028; A = +1, ε_high
  //   0.28: unclipped, pg_t = −1.2214028 on every token
  // seq 1: log-ratios (−0.6, −0.2) -> mean −0.4, s = e^−0.4 = 0.6703200; A = +1, ε_low 0.2:
  //   clip(s) = 0.8 > s, so pg = max(−s, −0.8) = −0.67032 (the unclipped branch, no clip)
  // seq 2: the same ratios with A = −1: pg = max(s, 0.8) = 0.8, clipped, no gradient
  auto logp = d2({{0.1, 0.3, 5.0}, {-0.6, -0.2, 0.0}, {-0.6, -0.2, 0.0}}).requires_grad_(true);
  auto old_logp = torch::zeros({3, 3}, torch::kDouble);
  auto mask = d2({{1, 1, 0}, {1, 1, 0}, {1, 1, 0}});
  auto adv = torch::tensor({1.0, 1.0, -1.0}, torch::kDouble);
  PolicyLoss pl = gspo_policy_loss(logp, old_logp, adv, mask, {0.2, 0.28, 0.0});
  const double s0 = std::exp(0.2), s1 = std::exp(-0.4);
  EXPECT_NEAR(at2(pl.pg, 0, 0), -s0, 1e-12);
  EXPECT_NEAR(at2(pl.pg, 0, 1), -s0, 1e-12);
  EXPECT_NEAR(at2(pl.pg, 1, 1), -s1, 1e-12);
  EXPECT_NEAR(at2(pl.pg, 2, 0), 0.8, 1e-12);
  EXPECT_EQ(pl.clipped.item<double>(), 2.0);  // seq 2's two tokens
  EXPECT_NEAR(pl.ratio_min.item<double>(), s1, 1e-12);
  EXPECT_NEAR(pl.ratio_max.item<double>(), s0, 1e-12);
  // Gradient of Σ_t pg_t·mask: each token of an unclipped sequence gets −A·s (value s·∇log π_t),
  // the clipped sequence none.
  (pl.pg * mask).sum().backward();
  EXPECT_NEAR(at2(logp.grad(), 0, 0), -s0, 1e-12);
  EXPECT_NEAR(at2(logp.grad(), 1, 0), -s1, 1e-12);
  EXPECT_EQ(at2(logp.grad(), 2, 0), 0.0);
  EXPECT_EQ(at2(logp.grad(), 0, 2), 0.0);  // masked
}

TEST(GspoLoss, EqualsTheClippedLossOnOneTokenSequences) {
  // One token: the sequence ratio is the token ratio, so GSPO and PPO's surrogate agree.
  auto logp = d2({{0.5}, {-0.4}, {0.1}});
  auto old_logp = d2({{0.0}, {0.0}, {0.0}});
  auto mask = d2({{1}, {1}, {1}});
  auto adv = torch::tensor({1.0, -2.0, 0.5}, torch::kDouble);
  auto a = gspo_policy_loss(logp, old_logp, adv, mask, {0.2, 0.28, 0.0});
  auto b = policy_loss(logp, old_logp, adv, mask, {0.2, 0.28, 0.0});
  EXPECT_TRUE(torch::allclose(a.pg, b.pg, 1e-12, 1e-12));
  EXPECT_EQ(a.clipped.item<double>(), b.clipped.item<double>());
}

// ---- registries ----

TEST(Registries, NamesResolveAndUnknownNamesListTheKnownOnes) {
  EXPECT_EQ(advantage_estimator("drgrpo").fn, &drgrpo_advantages);
  EXPECT_EQ(policy_loss_spec("gspo").fn, &gspo_policy_loss);
  EXPECT_EQ(policy_loss_spec("clipped").fn, &policy_loss);
  try {
    policy_loss_spec("ppo2");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: clipped, gspo"), std::string::npos) << e.what();
  }
  EXPECT_THROW(advantage_estimator("rloo"), Error);
  EXPECT_EQ(advantage_estimators().size(), 3u);
}

// ---- sampler / trainer mismatch, truncated importance sampling ----

TEST(SamplerMismatch, SumsOverMaskedTokens) {
  // d = trainer − sampler = (0.1, −0.2, [masked 3.0]), (0, 0.5, 0)
  auto trainer = d2({{-1.0, -2.2, 1.0}, {-0.5, -0.5, -1.0}});
  auto sampler = d2({{-1.1, -2.0, -2.0}, {-0.5, -1.0, -1.0}});
  auto mask = d2({{1, 1, 0}, {1, 1, 1}});
  MismatchSums m = sampler_mismatch(trainer, sampler, mask);
  const double d[5] = {0.1, -0.2, 0.0, 0.5, 0.0};
  double abs = 0, kl = 0, w = 0, w2 = 0;
  for (double x : d) abs += std::abs(x), kl += std::exp(x) - x - 1, w += std::exp(x), w2 += std::exp(2 * x);
  EXPECT_NEAR(m.abs_diff.item<double>(), abs, 1e-12);
  EXPECT_NEAR(m.kl.item<double>(), kl, 1e-12);
  EXPECT_NEAR(m.w.item<double>(), w, 1e-12);
  EXPECT_NEAR(m.w2.item<double>(), w2, 1e-12);
  EXPECT_EQ(m.tokens.item<double>(), 5.0);
  // identical log-probs: no mismatch, effective sample size 1
  MismatchSums z = sampler_mismatch(sampler, sampler, mask);
  EXPECT_EQ(z.abs_diff.item<double>(), 0.0);
  EXPECT_NEAR(z.w.item<double>() * z.w.item<double>() / (z.tokens.item<double>() * z.w2.item<double>()), 1.0, 1e-12);
}

TEST(TruncatedIs, TokenAndSequenceWeightsAreCapped) {
  // old − sampler = (0.5, 2.0, [masked 9]), cap 2: token weights e^0.5 = 1.6487213, min(e^2, 2) = 2
  // sequence: mean over the two masked tokens 1.25 -> min(e^1.25 = 3.49, 2) = 2 on every token
  auto old_logp = d2({{0.5, 2.0, 9.0}, {-0.3, 0.1, 0.0}});
  auto sampler = torch::zeros({2, 3}, torch::kDouble);
  auto mask = d2({{1, 1, 0}, {1, 1, 1}});
  auto tok = truncated_is_weights(old_logp, sampler, mask, config::TisLevel::kToken, 2.0);
  EXPECT_NEAR(at2(tok, 0, 0), std::exp(0.5), 1e-12);
  EXPECT_EQ(at2(tok, 0, 1), 2.0);
  EXPECT_NEAR(at2(tok, 1, 0), std::exp(-0.3), 1e-12);
  auto seq = truncated_is_weights(old_logp, sampler, mask, config::TisLevel::kSequence, 2.0);
  EXPECT_EQ(at2(seq, 0, 0), 2.0);
  EXPECT_EQ(at2(seq, 0, 2), 2.0);
  // seq 1: mean (−0.3 + 0.1 + 0) / 3 = −0.0666667
  EXPECT_NEAR(at2(seq, 1, 1), std::exp(-0.2 / 3), 1e-12);
  auto none = truncated_is_weights(old_logp, sampler, mask, config::TisLevel::kNone, 2.0);
  EXPECT_TRUE(torch::equal(none, torch::ones_like(none)));
  EXPECT_THROW(truncated_is_weights(old_logp, sampler, mask, config::TisLevel::kToken, 0.5), Error);
}

// ---- aggregation ----

// loss rows (1 2 3 4), (5 6 7 8), (9 9 9 9); mask (1 1 0 0), (1 1 1 1), (0 0 0 0)
// S = (3, 26, 0), n = (2, 4, 0); global tokens 6, sequences with a token 2
struct AggCase {
  at::Tensor loss = d2({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 9, 9, 9}});
  at::Tensor mask = d2({{1, 1, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 0}});
  LossNorm norm() const {
    LossNorm n = count_tokens(mask);
    n.max_response_len = 4;
    return n;
  }
};

TEST(AggregateLoss, CountTokens) {
  AggCase c;
  LossNorm n = count_tokens(c.mask);
  EXPECT_EQ(n.tokens, 6);
  EXPECT_EQ(n.seqs, 2);
}

TEST(AggregateLoss, TokenMean) {
  AggCase c;  // (3 + 26) / 6 = 4.8333333
  EXPECT_NEAR(aggregate_loss(c.loss, c.mask, LossAgg::kTokenMean, c.norm()).item<double>(),
              29.0 / 6, 1e-12);
}
TEST(AggregateLoss, SeqMeanTokenMean) {
  AggCase c;  // (3/2 + 26/4) / 2 = (1.5 + 6.5) / 2 = 4.0; the empty row adds 0
  EXPECT_NEAR(aggregate_loss(c.loss, c.mask, LossAgg::kSeqMeanTokenMean, c.norm()).item<double>(),
              4.0, 1e-12);
}
TEST(AggregateLoss, SeqMeanTokenSum) {
  AggCase c;  // (3 + 26) / 2 = 14.5
  EXPECT_NEAR(aggregate_loss(c.loss, c.mask, LossAgg::kSeqMeanTokenSum, c.norm()).item<double>(),
              14.5, 1e-12);
}
TEST(AggregateLoss, SeqMeanTokenSumNorm) {
  AggCase c;  // (3 + 26) / (2 · L=4) = 3.625
  EXPECT_NEAR(
      aggregate_loss(c.loss, c.mask, LossAgg::kSeqMeanTokenSumNorm, c.norm()).item<double>(),
      3.625, 1e-12);
  LossNorm no_len = count_tokens(c.mask);
  EXPECT_THROW(aggregate_loss(c.loss, c.mask, LossAgg::kSeqMeanTokenSumNorm, no_len), Error);
}

TEST(AggregateLoss, ZeroGlobalCountIsAnError) {
  AggCase c;
  EXPECT_THROW(aggregate_loss(c.loss, c.mask, LossAgg::kTokenMean, LossNorm{}), Error);
}

// The property the trainer relies on: micro-batch contributions, each normalised by the
// mini-batch's global counts, sum to the loss on the whole mini-batch — values and gradients.
TEST(AggregateLoss, MicroBatchesAddUpToTheMiniBatch) {
  torch::manual_seed(7);
  const int64_t B = 7, T = 9;
  auto x = torch::randn({B, T}, torch::kDouble);
  auto lengths = torch::tensor({9, 3, 0, 5, 1, 9, 4});
  auto mask = (torch::arange(T).unsqueeze(0) < lengths.unsqueeze(1)).to(torch::kDouble);
  const std::vector<std::pair<int64_t, int64_t>> micro = {{0, 2}, {2, 5}, {5, 7}};
  for (LossAgg mode : {LossAgg::kTokenMean, LossAgg::kSeqMeanTokenMean,
                       LossAgg::kSeqMeanTokenSum, LossAgg::kSeqMeanTokenSumNorm}) {
    // whole batch
    auto w = x.clone().requires_grad_(true);
    LossNorm whole_norm = count_tokens(mask);
    whole_norm.max_response_len = T;
    auto whole = aggregate_loss(w.pow(2), mask, mode, whole_norm);
    whole.backward();
    // micro-batches: the global norm is the sum of their counts
    LossNorm global;
    for (auto [b, e] : micro) global += count_tokens(mask.slice(0, b, e));
    global.max_response_len = T;
    EXPECT_EQ(global.tokens, whole_norm.tokens);
    EXPECT_EQ(global.seqs, whole_norm.seqs);
    auto v = x.clone().requires_grad_(true);
    double sum = 0;
    for (auto [b, e] : micro) {
      auto part = aggregate_loss(v.slice(0, b, e).pow(2), mask.slice(0, b, e), mode, global);
      part.backward();  // gradients accumulate like micro-batch gradient accumulation
      sum += part.item<double>();
    }
    EXPECT_NEAR(sum, whole.item<double>(), 1e-12) << config::enum_name(mode);
    EXPECT_TRUE(torch::allclose(v.grad(), w.grad(), 1e-12, 1e-14)) << config::enum_name(mode);
  }
}

}  // namespace
}  // namespace principia::trainer
