// Real weights: Karpathy's stories260K (Llama, GQA, tied) from ../shared/data/models/stories260k.
// expected.json was computed independently (llama2.c run.c reproduces the greedy path; logits
// and NLL in float64), so matching it checks RoPE, GQA, RMSNorm and the tied head together.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "model/generation.h"
#include "model/paged_generation.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "tests/common/test_data.h"
#include "tests/unit/model/judge_like_requests.h"

namespace principia::model {
namespace {
using ::principia::testing::shared_data;
using torch::Tensor;

struct Stories {
  std::shared_ptr<Transformer> model;
  nlohmann::json expected;
  std::vector<int64_t> greedy;
};

Stories load(const std::string& dtype = "float32") {
  Stories s;
  LoadOptions o;
  o.dtype = dtype;
  s.model = load_pretrained(shared_data("models/stories260k"), o);
  s.expected = nlohmann::json::parse(read_file(shared_data("models/stories260k/expected.json")));
  s.greedy = s.expected["greedy_ids"].get<std::vector<int64_t>>();
  return s;
}

TEST(Stories260k, GreedyFromBosReproducesExpectedIdsExactly) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 200;
  auto g = generate(*s.model, {{{1}, 0}}, o)[0];
  EXPECT_EQ(g.ids, s.greedy);
  EXPECT_EQ(g.finish, FinishReason::kLength);
}

TEST(Stories260k, FirstStepTop5LogitsAndTeacherForcedNll) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  torch::NoGradGuard ng;
  Tensor logits = s.model->forward(torch::tensor(std::vector<int64_t>{1}).unsqueeze(0))[0][0];
  auto [vals, idx] = logits.topk(5);
  const auto& top5 = s.expected["first_step_top5"];
  ASSERT_EQ(top5.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(idx[i].item<int64_t>(), top5[i][0].get<int64_t>());
    EXPECT_NEAR(vals[i].item<double>(), top5[i][1].get<double>(), 1e-3);
  }
  std::vector<int64_t> inputs{1};
  inputs.insert(inputs.end(), s.greedy.begin(), s.greedy.end() - 1);
  Tensor in = torch::tensor(inputs).unsqueeze(0);
  Tensor targets = torch::tensor(s.greedy).unsqueeze(0);
  Tensor h = s.model->hidden_states(in);
  auto lp = token_logprobs(h, s.model->head_weight(), targets, /*chunk=*/64);
  double nll = -lp.logprobs.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(nll, s.expected["teacher_forced_mean_nll"].get<double>(), 1e-4);
}

// Prompts of different lengths (prefixes of the greedy story) in one batch give the same
// continuations as one at a time, greedy and seeded sampling alike.
TEST(Stories260k, BatchedGenerationEqualsOneByOne) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  std::vector<GenerationRequest> reqs;
  for (int n : {1, 5, 17, 40}) {
    std::vector<int64_t> p{1};
    p.insert(p.end(), s.greedy.begin(), s.greedy.begin() + n - 1);
    reqs.push_back({p, static_cast<uint64_t>(100 + n)});
  }
  for (bool greedy : {true, false}) {
    SamplingOptions o;
    o.greedy = greedy;
    o.temperature = 0.8;
    o.top_p = 0.9;
    o.max_new_tokens = 60;
    auto batch = generate(*s.model, reqs, o);
    for (size_t r = 0; r < reqs.size(); ++r) {
      auto one = generate(*s.model, {reqs[r]}, o)[0];
      EXPECT_EQ(batch[r].ids, one.ids) << "row " << r << (greedy ? " greedy" : " sampled");
      for (size_t i = 0; i < std::min(one.logprobs.size(), batch[r].logprobs.size()); ++i)
        EXPECT_NEAR(batch[r].logprobs[i], one.logprobs[i], 1e-4);
    }
    if (greedy) {  // continuing a prefix of the greedy path stays on it
      for (size_t r = 0; r < reqs.size(); ++r) {
        size_t off = reqs[r].prompt.size() - 1;
        std::vector<int64_t> want(s.greedy.begin() + off,
                                  s.greedy.begin() + std::min<size_t>(off + 60, s.greedy.size()));
        std::vector<int64_t> got(batch[r].ids.begin(), batch[r].ids.begin() + want.size());
        EXPECT_EQ(got, want) << "row " << r;
      }
    }
  }
}

// The static-shape decode step (what a CUDA graph captures: whole-cache attention under a mask,
// the slot a device tensor) gives the eager path's tokens and log-probs, on a padded batch,
// greedy and sampled; greedy from BOS stays on the expected path.
TEST(Stories260k, StaticDecodeStepEqualsEager) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  std::vector<GenerationRequest> reqs;
  for (int n : {1, 9, 30}) {
    std::vector<int64_t> p{1};
    p.insert(p.end(), s.greedy.begin(), s.greedy.begin() + n - 1);
    reqs.push_back({p, static_cast<uint64_t>(7 + n)});
  }
  for (bool greedy : {true, false}) {
    SamplingOptions o;
    o.greedy = greedy;
    o.temperature = 0.9;
    o.top_k = 50;
    o.max_new_tokens = 48;
    o.decode_mode = DecodeMode::kEager;
    auto eager = generate(*s.model, reqs, o);
    o.decode_mode = DecodeMode::kStatic;
    auto fixed = generate(*s.model, reqs, o);
    for (size_t r = 0; r < reqs.size(); ++r) {
      EXPECT_EQ(fixed[r].ids, eager[r].ids) << "row " << r << (greedy ? " greedy" : " sampled");
      ASSERT_EQ(fixed[r].logprobs.size(), eager[r].logprobs.size());
      for (size_t i = 0; i < eager[r].logprobs.size(); ++i)
        EXPECT_NEAR(fixed[r].logprobs[i], eager[r].logprobs[i], 1e-4) << "row " << r << " step " << i;
    }
  }
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 200;
  o.decode_mode = DecodeMode::kStatic;
  EXPECT_EQ(generate(*s.model, {{{1}, 0}}, o)[0].ids, s.greedy);
  o.decode_mode = DecodeMode::kGraph;  // needs CUDA: refused on the CPU with a clear error
  EXPECT_THROW(generate(*s.model, {{{1}, 0}}, o), Error);
}

// The host checks for stops every `sync_every` steps (16 on CUDA); the result must not depend
// on it: EOS, stop sequences and a caller's stop_check that end rows at different steps inside
// chunks, on a padded sampled batch, decoded eagerly and with the static step.
TEST(Stories260k, StopChecksEveryKStepsEqualEveryStep) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  std::vector<GenerationRequest> reqs;
  for (int n : {1, 4, 11, 2, 20}) {
    std::vector<int64_t> p{1};
    p.insert(p.end(), s.greedy.begin(), s.greedy.begin() + n - 1);
    reqs.push_back({p, static_cast<uint64_t>(40 + n)});
  }
  SamplingOptions o;
  o.temperature = 1.0;
  o.max_new_tokens = 50;
  o.eos_ids = {s.greedy[7]};                           // a common token: some rows end on it
  o.stop_sequences = {{s.greedy[2], s.greedy[3]}};     // and some on this pair
  o.stop_check = [](size_t row, const std::vector<int64_t>& g) { return g.size() == 13 + 7 * row; };
  o.decode_mode = DecodeMode::kEager;
  o.sync_every = 1;
  auto want = generate(*s.model, reqs, o);
  std::set<FinishReason> reasons;
  for (const auto& g : want) reasons.insert(g.finish);
  EXPECT_GE(reasons.size(), 2u) << "the rows should stop for different reasons";
  for (DecodeMode mode : {DecodeMode::kEager, DecodeMode::kStatic}) {
    for (int64_t every : {4, 7, 64}) {
      o.decode_mode = mode;
      o.sync_every = every;
      auto got = generate(*s.model, reqs, o);
      for (size_t r = 0; r < reqs.size(); ++r) {
        EXPECT_EQ(got[r].ids, want[r].ids) << "row " << r << ", every " << every;
        EXPECT_EQ(got[r].finish, want[r].finish) << "row " << r << ", every " << every;
        ASSERT_EQ(got[r].logprobs.size(), want[r].logprobs.size());
        for (size_t i = 0; i < want[r].logprobs.size(); ++i) EXPECT_NEAR(got[r].logprobs[i], want[r].logprobs[i], 1e-4);
      }
    }
  }
}

// rollout.generation_batch: the requests in slices of 2 (the last one shorter) give the same
// generations as one call, and a stop_check sees the caller's row numbers.
TEST(Stories260k, GenerateInBatchesEqualsOneCall) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  std::vector<GenerationRequest> reqs;
  for (int n : {1, 6, 3, 14, 9}) {
    std::vector<int64_t> p{1};
    p.insert(p.end(), s.greedy.begin(), s.greedy.begin() + n - 1);
    reqs.push_back({p, static_cast<uint64_t>(70 + n)});
  }
  SamplingOptions o;
  o.max_new_tokens = 30;
  o.stop_check = [](size_t row, const std::vector<int64_t>& g) { return g.size() == 10 + 4 * row; };
  auto whole = generate(*s.model, reqs, o);
  auto sliced = generate_in_batches(*s.model, reqs, o, 2);
  ASSERT_EQ(sliced.size(), whole.size());
  for (size_t r = 0; r < reqs.size(); ++r) {
    EXPECT_EQ(sliced[r].ids, whole[r].ids) << "row " << r;
    EXPECT_EQ(sliced[r].ids.size(), 10 + 4 * r) << "row " << r;
    EXPECT_EQ(sliced[r].finish, FinishReason::kStop);
  }
  EXPECT_THROW(generate_in_batches(*s.model, reqs, o, -1), Error);
}

// The paged engine on real weights: a judge-like request set (a shared system prompt, a part
// shared by an item's samples, each sample's own order of candidates) gives the static batch's
// tokens at max_num_seqs 1, 3 and 64 and from a pool small enough to preempt. Log-probs agree
// within float32 rounding of differently shaped kernels: measured up to 4e-5 here (3e-5 between
// the engine's own runs), so the bar is 1e-4, as for the static batch against single rows.
TEST(Stories260k, PagedEngineEqualsTheStaticBatch) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories s = load();
  auto reqs = testing::judge_like_requests(/*items=*/4, /*samples=*/4, s.model->config().vocab_size, 11);
  for (auto& r : reqs) r.prompt.insert(r.prompt.begin(), 1);  // BOS
  SamplingOptions o;
  o.max_new_tokens = 48;
  o.eos_ids = {s.greedy[5]};  // a common token, so lengths differ
  const auto want = generate(*s.model, reqs, o);
  std::vector<EngineOptions> engines(4);
  engines[0].max_num_seqs = 1;
  engines[1].max_num_seqs = 3;
  engines[2].max_num_seqs = 64;
  engines[3].kv_cache_gib = 3.0 * 6 * kv_block_bytes(*s.model, 16) / double(1ULL << 30);  // ~3 sequences
  std::vector<Generation> first;
  for (size_t e = 0; e < engines.size(); ++e) {
    EngineStats stats;
    const auto got = generate_paged(*s.model, reqs, o, engines[e], &stats);
    if (e == 0) first = got;
    double to_static = 0, to_first = 0;
    for (size_t r = 0; r < reqs.size(); ++r) {
      ASSERT_EQ(got[r].ids, want[r].ids) << "engine " << e << ", row " << r;
      for (size_t i = 0; i < want[r].logprobs.size(); ++i) {
        to_static = std::max(to_static, std::abs(double(got[r].logprobs[i]) - want[r].logprobs[i]));
        to_first = std::max(to_first, std::abs(double(got[r].logprobs[i]) - first[r].logprobs[i]));
      }
    }
    std::printf("engine %zu: max |dlogp| to static %.3g, to max_num_seqs 1 %.3g\n", e, to_static, to_first);
    EXPECT_LE(to_static, 1e-4) << "engine " << e;
    EXPECT_LE(to_first, 1e-4) << "engine " << e;
    EXPECT_GT(stats.prompt_tokens_cached, 0);
    if (e == 3) EXPECT_GT(stats.preemptions, 0);
  }
}

// bf16 is not expected to follow the fp32 greedy path for 200 steps (the smallest top-1/top-2
// gap along it is 0.0042), but its log-probs over 32 positions stay within 0.5 nats of fp32 (0.05
// on average; the worst are in the low-probability tail) and the first
// tokens agree.
TEST(Stories260k, BFloat16StaysCloseToFloat32) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  Stories f = load(), b = load("bfloat16");
  torch::NoGradGuard ng;
  std::vector<int64_t> inputs{1};
  inputs.insert(inputs.end(), f.greedy.begin(), f.greedy.begin() + 31);
  Tensor in = torch::tensor(inputs).unsqueeze(0);
  Tensor lf = torch::log_softmax(f.model->forward(in), -1);
  Tensor lb = torch::log_softmax(b.model->forward(in).to(torch::kFloat32), -1);
  EXPECT_LT((lf - lb).abs().max().item<double>(), 0.5);
  EXPECT_LT((lf - lb).abs().mean().item<double>(), 0.05);
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 8;
  auto g = generate(*b.model, {{{1}, 0}}, o)[0];
  EXPECT_EQ(g.ids, std::vector<int64_t>(f.greedy.begin(), f.greedy.begin() + 8));
}

}  // namespace
}  // namespace principia::model
