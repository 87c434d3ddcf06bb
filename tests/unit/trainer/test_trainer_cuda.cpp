// trainer/ on a CUDA device (ctest label `cuda`; launch/gpu_check.sh runs them on a GPU
// machine): the NCCL process group at world size 1, the fused AdamW kernel against the
// per-parameter loop, and GRPO updates on a fixed batch of rollouts lowering the loss. Each test skips with a message where this LibTorch has no CUDA or sees no GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "model/generation.h"
#include "model/pretrained.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "tests/common/test_data.h"
#include "trainer/core_algos.h"
#include "trainer/dist.h"
#include "trainer/optimizer.h"
#include "tests/unit/trainer/world_of_one.h"

namespace principia::trainer {
namespace {

#define REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (or a CPU LibTorch)"

TEST(CudaDist, NcclGroupOfOneRunsEveryCollective) {
  REQUIRE_CUDA();
  auto d = testing::world_of_one(config::Backend::kNccl);
  EXPECT_EQ(d->backend_name(), "nccl");
  testing::check_collectives_at_world_size_1(*d, torch::Device("cuda:0"));
  // Host tensors are staged through the GPU and come back in place.
  testing::check_collectives_at_world_size_1(*d, torch::kCPU, /*with_reducer=*/false);
}

TEST(CudaDist, AutoPicksNcclWhereAGpuIsVisible) {
  REQUIRE_CUDA();
  EXPECT_EQ(testing::world_of_one(config::Backend::kAuto)->backend_name(), "nccl");
}

// Runs `steps` AdamW updates with the same seeded gradients; returns every parameter (fp32).
std::vector<torch::Tensor> adamw_run(const torch::Device& device, torch::Dtype dtype, bool fused, int steps) {
  torch::manual_seed(7);
  std::vector<NamedParam> params;
  const std::vector<std::vector<int64_t>> shapes{{64, 33}, {33}, {1000}, {7, 3, 5}};
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto t = torch::randn(shapes[i]).to(device, dtype).requires_grad_();
    params.push_back({"p" + std::to_string(i), t, /*weight_decay=*/i % 2 == 0});
  }
  AdamWOptions o;
  o.weight_decay = 0.1;
  o.fused = fused;
  AdamW opt(params, o);
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < params.size(); ++i) {
      if (s == 1 && i == 3) continue;  // a parameter without a gradient this step: its t lags
      params[i].tensor.mutable_grad() = torch::randn(shapes[i]).to(device, dtype);
    }
    opt.step(1e-2 * (1 + s));
    opt.zero_grad();
  }
  std::vector<torch::Tensor> out;
  auto state = opt.state_dict();
  for (const auto& p : params) {
    out.push_back(p.tensor.detach().to(torch::kCPU, torch::kFloat));
    for (const char* k : {".exp_avg", ".exp_avg_sq", ".master"})
      if (state.count(p.name + k)) out.push_back(state.at(p.name + k).to(torch::kCPU));
  }
  return out;
}

TEST(CudaAdamW, FusedKernelGivesTheLoopsUpdate) {
  REQUIRE_CUDA();
  const torch::Device cuda("cuda:0");
  auto cpu = adamw_run(torch::kCPU, torch::kFloat, false, 5);
  auto loop = adamw_run(cuda, torch::kFloat, false, 5);
  auto fused = adamw_run(cuda, torch::kFloat, true, 5);
  ASSERT_EQ(cpu.size(), fused.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_TRUE(torch::allclose(loop[i], cpu[i], 1e-5, 1e-6)) << "CUDA loop vs CPU, tensor " << i;
    EXPECT_TRUE(torch::allclose(fused[i], cpu[i], 1e-5, 1e-6)) << "fused vs CPU, tensor " << i;
  }
}

TEST(CudaAdamW, FusedKernelKeepsFp32MastersForBf16) {
  REQUIRE_CUDA();
  const torch::Device cuda("cuda:0");
  auto loop = adamw_run(cuda, torch::kBFloat16, false, 5);
  auto fused = adamw_run(cuda, torch::kBFloat16, true, 5);
  ASSERT_EQ(loop.size(), fused.size());
  ASSERT_EQ(loop.size(), 16u) << "each bf16 parameter: itself, exp_avg, exp_avg_sq, master";
  for (size_t i = 0; i < loop.size(); ++i) {
    if (i % 4 == 0) {  // the bf16 parameter: its master's rounding, which may differ by an ulp
      EXPECT_TRUE(torch::allclose(fused[i], loop[i], 1e-2, 1e-2)) << "parameter " << i / 4;
    } else {
      EXPECT_TRUE(torch::allclose(fused[i], loop[i], 1e-5, 1e-6)) << "state tensor " << i;
    }
  }
}

// The GRPO update on the GPU, in bf16 with fp32 masters: rollouts of stories260k sampled with
// the CUDA-graph decoder, group advantages of fixed rewards, then three clipped-surrogate
// updates (fused AdamW) on that fixed batch. The surrogate starts at −mean(A) = 0 (ratio 1)
// and must go down: the update moves probability toward the better-rewarded samples.
void grpo_updates_lower_the_loss(const std::string& device, const std::string& dtype) {
  model::LoadOptions lo;
  lo.device = device;
  lo.dtype = dtype;
  auto policy = model::load_pretrained(::principia::testing::shared_data("models/stories260k"), lo);
  const int64_t groups = 4, G = 4, P = 4, N = 32;
  std::vector<model::GenerationRequest> reqs;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < G; ++i) reqs.push_back({{1, 100 + g, 200 + g, 300 + g}, uint64_t(g * G + i)});
  model::SamplingOptions so;
  so.max_new_tokens = N;
  so.use_config_eos = false;  // every rollout has N tokens: no padding needed below
  auto rollouts = model::generate(*policy, reqs, so);
  std::vector<int64_t> flat;
  for (size_t r = 0; r < reqs.size(); ++r) {
    ASSERT_EQ(int64_t(rollouts[r].ids.size()), N);
    flat.insert(flat.end(), reqs[r].prompt.begin(), reqs[r].prompt.end());
    flat.insert(flat.end(), rollouts[r].ids.begin(), rollouts[r].ids.end());
  }
  const torch::Device cuda(device);
  auto ids = torch::tensor(flat).view({groups * G, P + N}).to(cuda);
  auto inputs = ids.narrow(1, 0, P + N - 1), targets = ids.narrow(1, 1, P + N - 1);
  auto mask = (torch::arange(P + N - 1, torch::TensorOptions(torch::kLong).device(cuda)) >= P - 1)
                  .to(torch::kFloat)
                  .unsqueeze(0)
                  .expand({groups * G, P + N - 1});
  torch::manual_seed(3);
  auto rewards = torch::rand({groups, G}, torch::kFloat64);
  auto adv = compute_advantages(rewards, advantage_estimator("grpo"), 1e-6).values.reshape({-1}).to(cuda, torch::kFloat);
  auto logp_of = [&] {
    return model::token_logprobs(policy->hidden_states(inputs), policy->head_weight(), targets, 64).logprobs;
  };
  torch::Tensor old_logp;
  {
    torch::NoGradGuard ng;
    old_logp = logp_of().to(torch::kFloat);
  }
  std::vector<NamedParam> params;
  for (const auto& p : policy->named_parameters()) params.push_back(NamedParam{p.key(), p.value(), true});
  AdamWOptions ao;
  ao.weight_decay = 0.0;
  AdamW opt(params, ao);
  policy->train();
  LossNorm norm = count_tokens(mask);
  std::vector<double> losses;
  for (int step = 0; step < 4; ++step) {
    auto pl = policy_loss(logp_of().to(torch::kFloat), old_logp, adv, mask, ClipOptions{});
    auto loss = aggregate_loss(pl.pg, mask, config::LossAgg::kTokenMean, norm);
    losses.push_back(loss.item<double>());
    if (step == 3) break;
    opt.zero_grad();
    loss.backward();
    opt.step(2e-3);
  }
  EXPECT_NEAR(losses[0], 0.0, 2e-2) << "ratio 1 at the start: the surrogate is -mean(A) = 0";
  EXPECT_LT(losses[3], losses[0] - 1e-2) << losses[0] << " -> " << losses[1] << " -> " << losses[2] << " -> "
                                         << losses[3];
}

TEST(CudaGrpo, UpdatesOnAFixedBatchLowerTheLoss) {
  REQUIRE_CUDA();
  PRINCIPIA_REQUIRE_SHARED_DATA();
  grpo_updates_lower_the_loss("cuda:0", "bfloat16");
}

// The same on the CPU in fp32 (runs everywhere: the check above is not only GPU-tested).
TEST(CudaGrpo, UpdatesOnAFixedBatchLowerTheLossOnTheCpuToo) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  grpo_updates_lower_the_loss("cpu", "float32");
}

}  // namespace
}  // namespace principia::trainer
