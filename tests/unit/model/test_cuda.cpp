// The model on a CUDA device (ctest label `cuda`; launch/gpu_check.sh runs them on a GPU
// machine). Each test skips with a message where this LibTorch has no CUDA or sees no GPU.
// Real weights (stories260k): the GPU must give the CPU's greedy path and log-probs, bf16 must
// stay close, and training steps (AdamW with fp32 masters for bf16) must match the CPU's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "model/generation.h"
#include "model/pretrained.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "tests/common/test_data.h"

namespace principia::model {
namespace {
using ::principia::testing::shared_data;

#define REQUIRE_CUDA()                                                                     \
  do {                                                                                     \
    PRINCIPIA_REQUIRE_SHARED_DATA();                                                       \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (or a CPU LibTorch)"; \
  } while (0)

std::shared_ptr<Transformer> stories(const std::string& device, const std::string& dtype = "float32") {
  LoadOptions o;
  o.device = device;
  o.dtype = dtype;
  return load_pretrained(shared_data("models/stories260k"), o);
}

std::vector<int64_t> expected_greedy() {
  auto j = nlohmann::json::parse(read_file(shared_data("models/stories260k/expected.json")));
  return j["greedy_ids"].get<std::vector<int64_t>>();
}

TEST(Cuda, GreedyPathEqualsExpectedIds) {
  REQUIRE_CUDA();
  auto m = stories("cuda");
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 200;
  auto g = generate(*m, {{{1}, 0}}, o)[0];
  EXPECT_EQ(g.ids, expected_greedy());
}

TEST(Cuda, TeacherForcedLogprobsEqualCpu) {
  REQUIRE_CUDA();
  auto greedy = expected_greedy();
  std::vector<int64_t> inputs{1};
  inputs.insert(inputs.end(), greedy.begin(), greedy.end() - 1);
  torch::NoGradGuard ng;
  auto logprobs = [&](Transformer& m, torch::Device d) {
    auto in = torch::tensor(inputs).unsqueeze(0).to(d);
    auto targets = torch::tensor(greedy).unsqueeze(0).to(d);
    return token_logprobs(m.hidden_states(in), m.head_weight(), targets, 64).logprobs.to(torch::kCPU);
  };
  auto cpu = logprobs(*stories("cpu"), torch::kCPU);
  auto gpu = logprobs(*stories("cuda"), torch::Device("cuda"));
  EXPECT_LT((cpu - gpu).abs().max().item<double>(), 1e-4);
  auto bf16 = logprobs(*stories("cuda", "bfloat16"), torch::Device("cuda")).to(torch::kFloat);
  EXPECT_LT((cpu - bf16).abs().mean().item<double>(), 0.1) << "bf16 drifted far from fp32";
}

TEST(Cuda, BatchedSeededSamplingIsReproducible) {
  REQUIRE_CUDA();
  auto m = stories("cuda");
  std::vector<GenerationRequest> reqs;
  for (uint64_t s = 0; s < 8; ++s) reqs.push_back({{1}, 1000 + s});
  SamplingOptions o;
  o.max_new_tokens = 64;
  o.temperature = 1.0;
  o.top_p = 0.9;
  auto a = generate(*m, reqs, o);
  auto b = generate(*m, reqs, o);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(a[i].ids, b[i].ids) << "row " << i;
}

// The decode step captured as a CUDA graph and replayed gives the eager path's tokens: greedy
// from BOS the expected ids, and a padded, seeded, sampled batch the same ids as eager decoding.
TEST(Cuda, GraphDecodeEqualsEagerDecode) {
  REQUIRE_CUDA();
  auto m = stories("cuda");
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 200;
  o.decode_mode = DecodeMode::kGraph;
  EXPECT_EQ(generate(*m, {{{1}, 0}}, o)[0].ids, expected_greedy());
  auto greedy = expected_greedy();
  std::vector<GenerationRequest> reqs;
  for (int n : {1, 6, 25, 2, 13, 40, 3, 9}) {
    std::vector<int64_t> p{1};
    p.insert(p.end(), greedy.begin(), greedy.begin() + n - 1);
    reqs.push_back({p, static_cast<uint64_t>(500 + n)});
  }
  o.greedy = false;
  o.temperature = 1.0;
  o.top_p = 0.95;
  o.max_new_tokens = 96;
  auto graph = generate(*m, reqs, o);
  o.decode_mode = DecodeMode::kEager;
  auto eager = generate(*m, reqs, o);
  for (size_t r = 0; r < reqs.size(); ++r) {
    EXPECT_EQ(graph[r].ids, eager[r].ids) << "row " << r;
    for (size_t i = 0; i < std::min(graph[r].logprobs.size(), eager[r].logprobs.size()); ++i)
      EXPECT_NEAR(graph[r].logprobs[i], eager[r].logprobs[i], 1e-3) << "row " << r << " step " << i;
  }
}

TEST(Cuda, BackwardGivesTheCpuGradients) {
  REQUIRE_CUDA();
  auto greedy = expected_greedy();
  auto grads = [&](Transformer& m, torch::Device d) {
    std::vector<int64_t> ids{1};
    ids.insert(ids.end(), greedy.begin(), greedy.begin() + 63);
    auto t = torch::tensor(ids).unsqueeze(0).to(d);
    auto h = m.hidden_states(t.narrow(1, 0, 63));
    auto loss = -token_logprobs(h, m.head_weight(), t.narrow(1, 1, 63), 64).logprobs.mean();
    m.zero_grad();
    loss.backward();
    std::vector<torch::Tensor> out;
    for (auto& p : m.parameters()) out.push_back(p.grad().to(torch::kCPU));
    return out;
  };
  auto c = grads(*stories("cpu"), torch::kCPU);
  auto g = grads(*stories("cuda"), torch::Device("cuda"));
  ASSERT_EQ(c.size(), g.size());
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_LT((c[i] - g[i]).abs().max().item<double>(), 1e-4 + 1e-3 * c[i].abs().max().item<double>()) << i;
}

}  // namespace
}  // namespace principia::model
