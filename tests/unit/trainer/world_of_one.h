// Every Dist collective through a real process group of one rank (DistEnv::group_at_world_size_1):
// the CPU tests run it over Gloo, the `cuda` tests over NCCL. With one rank each collective's
// result is known (a sum, max or gather of one contribution), so the checks are exact.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "trainer/dist.h"

namespace principia::trainer::testing {

inline std::unique_ptr<Dist> world_of_one(config::Backend backend) {
  DistEnv env;
  env.group_at_world_size_1 = true;
  env.master_port = 20000 + int(::getpid() % 20000);  // one store per test process
  config::DistConfig cfg;
  cfg.backend = backend;
  cfg.timeout_s = 60;
  return Dist::create(cfg, env);
}

// `device`: where the tensors live (host tensors under NCCL are staged through the GPU).
// `with_reducer`: also the gradient reducer (its parameters must be where the backend works:
// NCCL takes no host gradients).
inline void check_collectives_at_world_size_1(Dist& d, const torch::Device& device, bool with_reducer = true) {
  ASSERT_TRUE(d.grouped());
  const auto f32 = torch::TensorOptions(torch::kFloat).device(device);
  auto t = torch::tensor({1.5f, -2.0f, 3.0f}, f32);
  d.all_reduce(t);
  EXPECT_TRUE(torch::equal(t.cpu(), torch::tensor({1.5f, -2.0f, 3.0f})));
  d.all_reduce(t, ReduceOp::kMax);
  EXPECT_TRUE(torch::equal(t.cpu(), torch::tensor({1.5f, -2.0f, 3.0f})));
  auto host = torch::tensor({4.0, 5.0}, torch::kFloat64);
  d.all_reduce(host, ReduceOp::kMin);
  EXPECT_TRUE(torch::equal(host, torch::tensor({4.0, 5.0}, torch::kFloat64)));
  EXPECT_EQ(d.all_reduce(std::vector<double>{0.25, 7.0}, ReduceOp::kSum), (std::vector<double>{0.25, 7.0}));
  std::vector<torch::Tensor> b{torch::arange(6, f32).view({2, 3})};
  d.broadcast(b, 0);
  EXPECT_TRUE(torch::equal(b[0].cpu(), torch::arange(6, torch::kFloat).view({2, 3})));
  auto g = d.all_gather(torch::arange(4, f32));
  EXPECT_EQ(g.device(), device);
  EXPECT_TRUE(torch::equal(g.cpu(), torch::arange(4, torch::kFloat)));
  d.barrier();
  bool ran = false;
  d.on_rank0("a test's work", [&] { ran = true; });
  EXPECT_TRUE(ran);
  if (!with_reducer) return;

  // The bucketed gradient reducer: hooks during backward, buckets of 16 bytes (several).
  torch::manual_seed(0);
  auto w = torch::randn({3, 5}, f32).requires_grad_();
  auto v = torch::randn({5}, f32).requires_grad_();
  auto frozen_grad_free = torch::randn({2}, f32).requires_grad_();  // gets no gradient
  auto reducer = d.grad_reducer({w, v, frozen_grad_free}, 16);
  reducer->arm();
  (torch::matmul(w, v).pow(2).sum()).backward();
  reducer->finish();
  auto x = w.detach().clone().requires_grad_(), y = v.detach().clone().requires_grad_();
  (torch::matmul(x, y).pow(2).sum()).backward();
  EXPECT_TRUE(torch::allclose(w.grad().cpu(), x.grad().cpu()));
  EXPECT_TRUE(torch::allclose(v.grad().cpu(), y.grad().cpu()));
  EXPECT_FALSE(frozen_grad_free.grad().defined());
}

}  // namespace principia::trainer::testing
