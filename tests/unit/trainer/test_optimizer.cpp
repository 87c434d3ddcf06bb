// AdamW against torch::optim::AdamW, the LR schedule by hand, gradient clipping by hand.
#include "trainer/optimizer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace principia::trainer {
namespace {

std::vector<NamedParam> make_params(uint64_t seed) {
  torch::manual_seed(seed);
  return {{"a.weight", torch::randn({4, 3}).requires_grad_(true), true},
          {"a.bias", torch::randn({3}).requires_grad_(true), true},
          {"b", torch::randn({2, 2, 2}).requires_grad_(true), true}};
}

// Deterministic gradients for step k; parameter 2 gets none on step 1 (skipped, like torch).
void set_grads(const std::vector<at::Tensor>& ps, int k) {
  torch::manual_seed(100 + k);
  for (size_t i = 0; i < ps.size(); ++i) {
    at::Tensor g = torch::randn(ps[i].sizes());
    if (i == 2 && k == 1) {
      ps[i].mutable_grad().reset();
    } else {
      ps[i].mutable_grad() = g;
    }
  }
}

TEST(AdamW, MatchesTorchAdamW) {
  auto mine = make_params(1);
  auto ref = make_params(1);
  std::vector<at::Tensor> ref_tensors, mine_tensors;
  for (auto& p : ref) ref_tensors.push_back(p.tensor);
  for (auto& p : mine) mine_tensors.push_back(p.tensor);
  const double lr = 1e-2;
  torch::optim::AdamW torch_opt(ref_tensors, torch::optim::AdamWOptions(lr)
                                                 .betas({0.9, 0.95})
                                                 .eps(1e-8)
                                                 .weight_decay(0.1));
  AdamW opt(mine, {0.9, 0.95, 1e-8, 0.1});
  for (int k = 0; k < 6; ++k) {
    set_grads(ref_tensors, k);
    set_grads(mine_tensors, k);
    torch_opt.step();
    opt.step(lr);
    for (size_t i = 0; i < mine.size(); ++i)
      EXPECT_TRUE(torch::allclose(mine_tensors[i], ref_tensors[i], 1e-6, 1e-7))
          << "step " << k << " param " << mine[i].name << "\n"
          << (mine_tensors[i] - ref_tensors[i]).abs().max().item<double>();
  }
  // Something actually moved (the comparison is not between two untouched tensors).
  EXPECT_FALSE(torch::allclose(mine_tensors[0], make_params(1)[0].tensor));
  EXPECT_EQ(opt.state_dict().at("b.step").item<int64_t>(), 5);  // skipped once
  EXPECT_EQ(opt.state_dict().at("a.bias.step").item<int64_t>(), 6);
}

TEST(AdamW, FirstStepByHand) {
  // t = 1, g = 2, p = 1, lr 0.1, wd 0.5, β = (0.9, 0.999), eps 0:
  //   p ← 1·(1 − 0.1·0.5) = 0.95;  m = 0.1·2 = 0.2;  v = 0.001·4 = 0.004
  //   m̂ = 0.2/0.1 = 2;  √v / √(1 − 0.999) = √0.004/√0.001 = 2
  //   p ← 0.95 − 0.1 · 2/2 = 0.85.  With weight_decay off for this parameter: 1 − 0.1 = 0.9
  auto p = torch::ones({1}).requires_grad_(true);
  auto q = torch::ones({1}).requires_grad_(true);
  AdamW opt({{"p", p, true}, {"q", q, false}}, {0.9, 0.999, 0.0, 0.5});
  p.mutable_grad() = torch::full({1}, 2.0f);
  q.mutable_grad() = torch::full({1}, 2.0f);
  opt.step(0.1);
  EXPECT_NEAR(p.item<double>(), 0.85, 1e-6);
  EXPECT_NEAR(q.item<double>(), 0.9, 1e-6);
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
}

TEST(AdamW, Bf16ParameterKeepsAnFp32Master) {
  // p = 1 in bf16 (ulp 2⁻⁷ ≈ 0.0078). AdamW with constant g moves p by ≈ lr per step:
  // 10 steps of lr 1e-4 -> master ≈ 1 − 1e-3 = 0.999, too small a change for bf16 to show
  // (0.999 rounds to 1.0), but the master keeps it; 100 more steps reach ≈ 0.989 -> 0.98828125.
  auto p = torch::ones({1}, torch::kBFloat16).requires_grad_(true);
  AdamW opt({{"p", p, false}}, {0.9, 0.999, 1e-8, 0.0});
  for (int k = 0; k < 10; ++k) {
    p.mutable_grad() = torch::ones({1}, torch::kBFloat16);
    opt.step(1e-4);
  }
  const at::Tensor master = opt.state_dict().at("p.master");
  EXPECT_EQ(master.scalar_type(), torch::kFloat);
  EXPECT_NEAR(master.item<double>(), 0.999, 1e-6);
  EXPECT_EQ(p.item<double>(), 1.0);
  for (int k = 0; k < 100; ++k) {
    p.mutable_grad() = torch::ones({1}, torch::kBFloat16);
    opt.step(1e-4);
  }
  EXPECT_NEAR(opt.state_dict().at("p.master").item<double>(), 0.989, 1e-5);
  EXPECT_EQ(p.item<double>(), double(at::BFloat16(0.989f)));
}

TEST(AdamW, StateRoundTripContinuesBitwise) {
  auto a = make_params(3);
  AdamW opt_a(a, {});
  std::vector<at::Tensor> ta;
  for (auto& p : a) ta.push_back(p.tensor);
  for (int k = 0; k < 3; ++k) {
    set_grads(ta, k);
    opt_a.step(1e-3);
  }
  // A second optimizer over copies of the parameters, restored from a snapshot of the state.
  std::vector<NamedParam> b;
  std::vector<at::Tensor> tb;
  for (auto& p : a) {
    b.push_back({p.name, p.tensor.detach().clone().requires_grad_(true), p.weight_decay});
    tb.push_back(b.back().tensor);
  }
  std::map<std::string, at::Tensor> snapshot;
  for (auto& [k, v] : opt_a.state_dict()) snapshot[k] = v.clone();
  AdamW opt_b(b, {});
  opt_b.load_state_dict(snapshot);
  for (int k = 3; k < 6; ++k) {
    set_grads(ta, k);
    set_grads(tb, k);
    opt_a.step(1e-3);
    opt_b.step(1e-3);
  }
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i])) << a[i].name;
}

TEST(AdamW, ShardedFromConstructionAllocatesOnlyOwnedStateAndStepsAsShardedLater) {
  auto a = make_params(5);
  auto b = make_params(5);
  for (auto* ps : {&a, &b})
    for (auto& p : *ps) p.tensor = p.tensor.to(torch::kBFloat16).detach().requires_grad_(true);
  const std::vector<int> owners{1, 0, 1};  // this is rank 1: it owns a.weight and b
  AdamW born(a, {}, /*rank=*/1, owners);
  AdamW later(b, {});
  later.shard(1, owners);
  // Nothing was allocated for the parameter rank 0 owns: its keys are absent, the owned ones
  // carry moments and a master.
  auto sd = born.state_dict();
  EXPECT_EQ(sd.count("a.bias.exp_avg"), 0u);
  EXPECT_EQ(sd.count("a.bias.master"), 0u);
  EXPECT_EQ(sd.count("a.weight.master"), 1u);
  EXPECT_EQ(sd.count("b.exp_avg_sq"), 1u);
  EXPECT_EQ(sd.size(), 2u * 4);
  std::vector<at::Tensor> ta, tb;
  for (auto& p : a) ta.push_back(p.tensor);
  for (auto& p : b) tb.push_back(p.tensor);
  for (int k = 0; k < 3; ++k) {
    set_grads(ta, k);
    set_grads(tb, k);
    for (auto* ts : {&ta, &tb})
      for (auto& t : *ts)
        if (t.grad().defined()) t.mutable_grad() = t.grad().to(torch::kBFloat16);
    born.step(1e-2);
    later.step(1e-2);
  }
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i])) << a[i].name;
  EXPECT_TRUE(torch::equal(ta[1], make_params(5)[1].tensor.to(torch::kBFloat16)));  // not ours: untouched
  EXPECT_EQ(AdamW::param_of_key("model.layers.0.mlp.up_proj.weight.exp_avg_sq"), "model.layers.0.mlp.up_proj.weight");
  EXPECT_THROW(AdamW(make_params(5), {}, 0, {0, 1}), Error);  // one owner per parameter
}

TEST(AdamW, LoadRejectsMismatchedState) {
  AdamW opt(make_params(4), {});
  auto state = opt.state_dict();
  state["a.bias.exp_avg"] = torch::zeros({5});
  try {
    opt.load_state_dict(state);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.bias.exp_avg"), std::string::npos) << e.what();
  }
  state.erase("b.exp_avg_sq");
  EXPECT_THROW(opt.load_state_dict(state), Error);
  EXPECT_THROW(AdamW({{"x", torch::zeros({1})}, {"x", torch::zeros({1})}}, {}), Error);
}

TEST(AdamWOptions, FromConfig) {
  config::OptimConfig o;
  o.betas = {0.8, 0.95};
  o.weight_decay = 0.1;
  auto a = AdamWOptions::from(o);
  EXPECT_EQ(a.beta1, 0.8);
  EXPECT_EQ(a.beta2, 0.95);
  EXPECT_EQ(a.weight_decay, 0.1);
  o.betas = {0.9};
  EXPECT_THROW(AdamWOptions::from(o), Error);
  o.betas = {0.9, 1.0};
  EXPECT_THROW(AdamWOptions::from(o), Error);
}

TEST(LrSchedule, WarmupThenCosineLinearConstant) {
  config::OptimConfig o;
  o.warmup_steps = 2;
  o.min_lr_ratio = 0.1;
  o.schedule = config::Schedule::kCosine;
  // warmup: (0 + 1)/2 = 0.5, (1 + 1)/2 = 1
  EXPECT_DOUBLE_EQ(lr_at(o, 1.0, 0, 6), 0.5);
  EXPECT_DOUBLE_EQ(lr_at(o, 1.0, 1, 6), 1.0);
  // cosine over total 6 − warmup 2 = 4 steps, p = (step − 2)/4:
  // step 2: p 0 -> 1;  step 4: p ½ -> 0.1 + 0.9·½(1 + cos π/2) = 0.55;  step 6: 0.1; beyond: 0.1
  EXPECT_DOUBLE_EQ(lr_at(o, 1.0, 2, 6), 1.0);
  EXPECT_NEAR(lr_at(o, 1.0, 4, 6), 0.55, 1e-12);
  EXPECT_NEAR(lr_at(o, 1.0, 6, 6), 0.1, 1e-12);
  EXPECT_NEAR(lr_at(o, 1.0, 60, 6), 0.1, 1e-12);
  // linear step 3: p ¼ -> 0.1 + 0.9·¾ = 0.775
  o.schedule = config::Schedule::kLinear;
  EXPECT_NEAR(lr_at(o, 2.0, 3, 6), 2 * 0.775, 1e-12);
  o.schedule = config::Schedule::kConstant;
  EXPECT_DOUBLE_EQ(lr_at(o, 2.0, 5, 6), 2.0);
  o.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(lr_at(o, 2.0, 0, 6), 2.0);
}

TEST(ClipGradNorm, ScalesByGlobalNorm) {
  // grads (3, 4) and (12): global norm √(9 + 16 + 144) = 13; max 6.5 -> scale 6.5/(13 + 1e-6)
  auto p = torch::zeros({2}).requires_grad_(true);
  auto q = torch::zeros({1}).requires_grad_(true);
  auto r = torch::zeros({1}).requires_grad_(true);  // no grad: ignored
  std::vector<NamedParam> ps{{"p", p}, {"q", q}, {"r", r}};
  p.mutable_grad() = torch::tensor({3.0f, 4.0f});
  q.mutable_grad() = torch::tensor({12.0f});
  GradNorm n = clip_grad_norm(ps, 6.5);
  EXPECT_NEAR(n.norm, 13.0, 1e-5);
  EXPECT_TRUE(n.finite);
  EXPECT_TRUE(n.clipped);
  const double s = 6.5 / (13 + 1e-6);
  EXPECT_NEAR(p.grad()[0].item<double>(), 3 * s, 1e-5);
  EXPECT_NEAR(q.grad()[0].item<double>(), 12 * s, 1e-5);
  // below the bound, or max_norm 0 (off): untouched, norm still reported
  GradNorm again = clip_grad_norm(ps, 100.0);
  EXPECT_NEAR(again.norm, 6.5, 1e-4);
  EXPECT_FALSE(again.clipped);
  EXPECT_FALSE(clip_grad_norm(ps, 0.0).clipped);
}

TEST(ClipGradNorm, DetectsNonFinite) {
  auto p = torch::zeros({2}).requires_grad_(true);
  std::vector<NamedParam> ps{{"p", p}};
  p.mutable_grad() = torch::tensor({1.0f, std::nanf("")});
  GradNorm n = clip_grad_norm(ps, 1.0);
  EXPECT_FALSE(n.finite);
  EXPECT_FALSE(n.clipped);
  EXPECT_EQ(p.grad()[0].item<float>(), 1.0f);  // left untouched
  p.mutable_grad() = torch::tensor({1.0f, INFINITY});
  EXPECT_FALSE(clip_grad_norm(ps, 1.0).finite);
}

}  // namespace
}  // namespace principia::trainer
