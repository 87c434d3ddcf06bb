// The transformer's internal consistency on small random models: KV cache vs recomputation,
// padding, bf16 vs fp32, chunked log-probs and their gradients, activation checkpointing,
// save/load by HF name, and sampling (seeds, batching, top-k/top-p, stops).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.h"
#include "model/generation.h"
#include "model/hf_checkpoint.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "tests/common/test_data.h"
#include "tests/unit/model/small_config.h"

namespace principia::model {
namespace {
using testing::small_config;
using torch::Tensor;

// init_std 0.3: logits far enough apart that argmax is not decided by rounding.
std::shared_ptr<Transformer> make_model(Arch arch = Arch::kQwen3, bool tied = false,
                                        uint64_t seed = 0) {
  torch::manual_seed(seed);
  auto m = std::make_shared<Transformer>(small_config(arch, tied), 0.3);
  m->eval();
  return m;
}

double max_diff(const Tensor& a, const Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(Transformer, ParameterNamesAreHuggingFaceNames) {
  for (bool tied : {false, true}) {
    auto m = make_model(Arch::kQwen3, tied);
    std::vector<std::string> names;
    for (auto& p : m->named_parameters()) names.push_back(p.key());
    auto expected = hf_weight_names(m->config());
    std::sort(names.begin(), names.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(names, expected);
    int64_t count = 0;
    for (auto& p : m->parameters()) count += p.numel();
    EXPECT_EQ(count, m->config().num_parameters());
  }
  auto llama = make_model(Arch::kLlama, false);
  for (auto& p : llama->named_parameters()) EXPECT_EQ(p.key().find("q_norm"), std::string::npos);
}

TEST(Transformer, KVCacheDecodingEqualsFullRecomputation) {
  torch::NoGradGuard g;
  for (Arch arch : {Arch::kQwen3, Arch::kLlama}) {
    auto m = make_model(arch);
    Tensor ids = torch::randint(0, 97, {2, 12}, torch::kLong);
    Tensor full = m->forward(ids);
    KVCache cache = m->make_cache(2, 16);
    ForwardArgs a;
    a.cache = &cache;
    Tensor pre = m->forward(ids.narrow(1, 0, 5), a);  // prefill 5
    EXPECT_LT(max_diff(pre, full.narrow(1, 0, 5)), 1e-4);
    Tensor chunk = m->forward(ids.narrow(1, 5, 3), a);  // a 3-token chunk on top of the cache
    EXPECT_LT(max_diff(chunk, full.narrow(1, 5, 3)), 1e-4);
    for (int64_t t = 8; t < 12; ++t) {  // then one token at a time
      Tensor step = m->forward(ids.narrow(1, t, 1), a);
      EXPECT_LT(max_diff(step, full.narrow(1, t, 1)), 1e-4) << "position " << t;
    }
    EXPECT_EQ(cache.length, 12);
    EXPECT_THROW(m->forward(ids.narrow(1, 0, 5), a), Error);  // cache full
  }
}

TEST(Transformer, LeftPaddedBatchEqualsSeparateRows) {
  torch::NoGradGuard g;
  auto m = make_model();
  Tensor a = torch::randint(0, 97, {1, 9}, torch::kLong);
  Tensor b = torch::randint(0, 97, {1, 5}, torch::kLong);
  Tensor batch = torch::zeros({2, 9}, torch::kLong);
  batch[0] = a[0];
  batch[1].narrow(0, 4, 5).copy_(b[0]);
  Tensor mask = torch::ones({2, 9}, torch::kBool);
  mask[1].narrow(0, 0, 4).fill_(false);
  Tensor pos = torch::arange(9).unsqueeze(0).repeat({2, 1});
  pos[1] = (pos[1] - 4).clamp_min(0);
  ForwardArgs args;
  args.attention_mask = mask;
  args.position_ids = pos;
  Tensor out = m->forward(batch, args);
  EXPECT_FALSE(out.isnan().any().item<bool>());
  EXPECT_LT(max_diff(out[0], m->forward(a)[0]), 1e-5);
  EXPECT_LT(max_diff(out[1].narrow(0, 4, 5), m->forward(b)[0]), 1e-5);
}

// bf16 weights and activations (RMSNorm statistics and softmax in fp32) against fp32: the
// log-probs agree to within 0.5 nats at most (low-probability tail), 0.05 on average, on this
// model (init std 0.3, 3 layers). Stated here because bf16 has ~3 significant digits.
TEST(Transformer, BFloat16IsCloseToFloat32) {
  torch::NoGradGuard g;
  auto m = make_model();
  Tensor ids = torch::randint(0, 97, {2, 16}, torch::kLong);
  Tensor ref = torch::log_softmax(m->forward(ids), -1);
  m->to(torch::kBFloat16);
  EXPECT_EQ(m->dtype(), torch::kBFloat16);
  Tensor low = torch::log_softmax(m->forward(ids).to(torch::kFloat32), -1);
  Tensor diff = (low - ref).abs();
  EXPECT_LT(diff.max().item<double>(), 0.5);
  EXPECT_LT(diff.mean().item<double>(), 0.05);
  EXPECT_GT(diff.max().item<double>(), 0.0);  // it really ran in bf16
}

TEST(TokenLogprobs, MatchesFullLogSoftmaxAndItsGradients) {
  torch::manual_seed(1);
  for (double temperature : {1.0, 0.7}) {
    Tensor h = torch::randn({3, 7, 16}, torch::requires_grad());
    Tensor w = torch::randn({50, 16}, torch::requires_grad());
    Tensor t = torch::randint(0, 50, {3, 7}, torch::kLong);
    Tensor gl = torch::randn({3, 7}), ge = torch::randn({3, 7});

    Tensor z = torch::matmul(h, w.t()) / temperature;
    Tensor logp = torch::log_softmax(z, -1);
    Tensor ref_lp = logp.gather(2, t.unsqueeze(2)).squeeze(2);
    Tensor ref_ent = -(logp.exp() * logp).sum(-1);
    auto ref_grads = torch::autograd::grad({(ref_lp * gl).sum() + (ref_ent * ge).sum()}, {h, w},
                                           {}, /*retain_graph=*/true);

    for (int64_t keep_bytes : {int64_t(0), int64_t(1) << 20}) {  // recompute, then kept logits
      auto out = token_logprobs(h, w, t, /*chunk=*/4, temperature, /*with_entropy=*/true, keep_bytes);
      EXPECT_LT(max_diff(out.logprobs, ref_lp), 1e-5);
      EXPECT_LT(max_diff(out.entropy, ref_ent), 1e-5);
      Tensor loss = (out.logprobs * gl).sum() + (out.entropy * ge).sum();
      auto grads = torch::autograd::grad({loss}, {h, w}, {}, /*retain_graph=*/true);
      EXPECT_LT(max_diff(grads[0], ref_grads[0]), 1e-4);
      EXPECT_LT(max_diff(grads[1], ref_grads[1]), 1e-4);
      // A second backward over a retained graph gets the same gradients: backward must not
      // consume what forward kept.
      auto again = torch::autograd::grad({loss}, {h, w});
      EXPECT_LT(max_diff(again[0], grads[0]), 1e-6);
      EXPECT_LT(max_diff(again[1], grads[1]), 1e-6);
      // Only the entropy in the loss.
      auto ent_only = token_logprobs(h, w, t, 4, temperature, true, keep_bytes);
      auto ge_grads = torch::autograd::grad({(ent_only.entropy * ge).sum()}, {h, w});
      auto ge_ref = torch::autograd::grad({(ref_ent * ge).sum()}, {h, w}, {}, /*retain_graph=*/true);
      EXPECT_LT(max_diff(ge_grads[0], ge_ref[0]), 1e-4);
      EXPECT_LT(max_diff(ge_grads[1], ge_ref[1]), 1e-4);
    }

    // Without entropy, and with only log-probs in the loss.
    auto lp_only = token_logprobs(h, w, t, 5, temperature, false, /*keep_logits_bytes=*/0);
    EXPECT_FALSE(lp_only.entropy.defined());
    auto g2 = torch::autograd::grad({lp_only.logprobs.sum()}, {h});
    auto r2 = torch::autograd::grad({ref_lp.sum()}, {h});
    EXPECT_LT(max_diff(g2[0], r2[0]), 1e-4);
  }
  EXPECT_THROW(token_logprobs(torch::randn({2, 4}), torch::randn({5, 3}), torch::zeros({2}, torch::kLong)),
               Error);
}

TEST(Transformer, GradientCheckpointingGivesTheSameGradients) {
  auto m = make_model(Arch::kQwen3, true);
  m->train();
  Tensor ids = torch::randint(0, 97, {2, 10}, torch::kLong);
  auto loss_and_grads = [&](bool ckpt) {
    m->set_gradient_checkpointing(ckpt);
    m->zero_grad();
    Tensor h = m->hidden_states(ids.narrow(1, 0, 9));
    Tensor loss = -token_logprobs(h, m->head_weight(), ids.narrow(1, 1, 9), 4).logprobs.mean();
    loss.backward();
    std::vector<Tensor> grads;
    for (auto& p : m->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(loss.item<double>(), grads);
  };
  auto [l0, g0] = loss_and_grads(false);
  auto [l1, g1] = loss_and_grads(true);
  EXPECT_NEAR(l0, l1, 1e-6);
  ASSERT_EQ(g0.size(), g1.size());
  for (size_t i = 0; i < g0.size(); ++i) EXPECT_LT(max_diff(g0[i], g1[i]), 1e-6) << i;
}

TEST(Weights, SaveThenLoadGivesTheSameModel) {
  torch::NoGradGuard g;
  for (bool tied : {false, true}) {
    auto m = make_model(Arch::kLlama, tied, 7);
    auto dir = principia::testing::temp_dir(tied ? "save_tied" : "save_untied");
    save_pretrained(*m, dir.string(), /*max_shard_bytes=*/20000);  // forces several shards
    EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
    auto loaded = load_pretrained(dir.string());
    Tensor ids = torch::randint(0, 97, {1, 8}, torch::kLong);
    EXPECT_EQ(max_diff(m->forward(ids), loaded->forward(ids)), 0.0);
    EXPECT_EQ(loaded->config().tie_word_embeddings, tied);
    // bf16 on load: converted from the stored fp32.
    LoadOptions o;
    o.dtype = "bfloat16";
    EXPECT_EQ(load_pretrained(dir.string(), o)->dtype(), torch::kBFloat16);
  }
  EXPECT_THROW(load_pretrained("/nonexistent/model"), Error);
}

TEST(Weights, LoadingAllocatesInTheTargetDtypeWithoutARandomInit) {
  torch::NoGradGuard g;
  auto m = make_model(Arch::kQwen3, false, 11);
  auto dir = principia::testing::temp_dir("load_no_init");
  save_pretrained(*m, dir.string());
  // No random init: the global generator is where it was (an init would draw from it).
  torch::manual_seed(5);
  const Tensor before = torch::randn({4});
  torch::manual_seed(5);
  LoadOptions o;
  o.dtype = "bfloat16";
  auto loaded = load_pretrained(dir.string(), o);
  EXPECT_TRUE(torch::equal(torch::randn({4}), before));
  // Every parameter lives in bf16 and equals the stored fp32 weight rounded once.
  auto want = m->named_parameters();
  for (const auto& p : loaded->named_parameters()) {
    EXPECT_EQ(p.value().scalar_type(), torch::kBFloat16) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), want[p.key()].to(torch::kBFloat16))) << p.key();
  }
}

// ---- generation ----

std::vector<int64_t> random_prompt(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  Tensor t = torch::randint(4, 97, {n}, torch::kLong);
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n};
}

TEST(Generation, SeededSamplingIsReproducibleAndIndependentOfBatch) {
  auto m = make_model();
  SamplingOptions o;
  o.max_new_tokens = 12;
  o.temperature = 0.9;
  o.top_p = 0.95;
  o.top_k = 40;
  o.use_config_eos = false;
  std::vector<GenerationRequest> reqs = {{random_prompt(7, 1), 11}, {random_prompt(3, 2), 12},
                                         {random_prompt(10, 3), 13}};
  auto batch = generate(*m, reqs, o);
  auto again = generate(*m, reqs, o);
  for (size_t r = 0; r < reqs.size(); ++r) {
    auto single = generate(*m, {reqs[r]}, o);
    EXPECT_EQ(batch[r].ids, single[0].ids) << "row " << r;
    EXPECT_EQ(batch[r].ids, again[r].ids);
    ASSERT_EQ(batch[r].logprobs.size(), single[0].logprobs.size());
    for (size_t i = 0; i < batch[r].logprobs.size(); ++i) {
      EXPECT_NEAR(batch[r].logprobs[i], single[0].logprobs[i], 1e-4);
      EXPECT_LE(batch[r].logprobs[i], 0.0f);
    }
    EXPECT_EQ(batch[r].finish, FinishReason::kLength);
    EXPECT_EQ(batch[r].ids.size(), 12u);
  }
  reqs[0].seed = 99;  // another seed, another sample
  EXPECT_NE(generate(*m, {reqs[0]}, o)[0].ids, batch[0].ids);
}

TEST(Generation, GreedyMatchesArgmaxOfFullForwardAndTopK1) {
  auto m = make_model(Arch::kLlama, true);
  auto prompt = random_prompt(6, 5);
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 8;
  o.use_config_eos = false;
  auto g = generate(*m, {{prompt, 0}}, o)[0];
  // Recompute without cache: each greedy token is the argmax given everything before it.
  std::vector<int64_t> seq = prompt;
  torch::NoGradGuard ng;
  for (size_t i = 0; i < g.ids.size(); ++i) {
    Tensor logits = m->forward(torch::tensor(seq).unsqueeze(0))[0][-1];
    EXPECT_EQ(logits.argmax().item<int64_t>(), g.ids[i]);
    EXPECT_NEAR(torch::log_softmax(logits, -1)[g.ids[i]].item<double>(), g.logprobs[i], 1e-4);
    seq.push_back(g.ids[i]);
  }
  SamplingOptions k1;
  k1.top_k = 1;
  k1.max_new_tokens = 8;
  k1.use_config_eos = false;
  auto s = generate(*m, {{prompt, 123}}, k1)[0];
  EXPECT_EQ(s.ids, g.ids);
  for (float lp : s.logprobs) EXPECT_NEAR(lp, 0.0, 1e-6);  // the filtered distribution is one-hot
  SamplingOptions p0 = k1;
  p0.top_k = 0;
  p0.top_p = 1e-6;
  EXPECT_EQ(generate(*m, {{prompt, 5}}, p0)[0].ids, g.ids);
}

TEST(Generation, StopsOnEosStopSequencesAndCallback) {
  auto m = make_model();
  auto prompt = random_prompt(5, 9);
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 10;
  o.use_config_eos = false;
  auto free_run = generate(*m, {{prompt, 0}}, o)[0];
  ASSERT_EQ(free_run.ids.size(), 10u);
  SamplingOptions eos = o;
  eos.eos_ids = {free_run.ids[3]};
  auto e = generate(*m, {{prompt, 0}}, eos)[0];
  EXPECT_EQ(e.finish, FinishReason::kEos);
  size_t first = std::find(free_run.ids.begin(), free_run.ids.end(), free_run.ids[3]) - free_run.ids.begin();
  EXPECT_EQ(e.ids, std::vector<int64_t>(free_run.ids.begin(), free_run.ids.begin() + first + 1));
  SamplingOptions seq = o;
  seq.stop_sequences = {{free_run.ids[5], free_run.ids[6]}};
  auto s = generate(*m, {{prompt, 0}}, seq)[0];
  EXPECT_EQ(s.finish, FinishReason::kStop);
  EXPECT_LE(s.ids.size(), 7u);
  SamplingOptions cb = o;
  cb.stop_check = [](size_t, const std::vector<int64_t>& ids) { return ids.size() == 4; };
  auto c = generate(*m, {{prompt, 0}, {random_prompt(2, 3), 0}}, cb);
  EXPECT_EQ(c[0].ids.size(), 4u);
  EXPECT_EQ(c[1].ids.size(), 4u);
  EXPECT_EQ(c[0].finish, FinishReason::kStop);
  EXPECT_THROW(generate(*m, {{{}, 0}}, o), Error);
  EXPECT_THROW(generate(*m, {{{1000}, 0}}, o), Error);
  SamplingOptions bad;
  bad.temperature = 0;
  EXPECT_THROW(generate(*m, {{prompt, 0}}, bad), Error);
}

}  // namespace
}  // namespace principia::model
