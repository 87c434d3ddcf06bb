// SFT labels/loss by hand, and the plan calculator against Qwen3-8B and a hand-sized model.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "data/synth.h"
#include "trainer/judge_task.h"
#include "trainer/plan.h"
#include "trainer/sft_loss.h"

namespace principia::trainer {
namespace {

// ---- SFT ----

TEST(SftExample, PromptMaskedTargetKept) {
  SftExample e = build_sft_example({1, 2, 3}, {4, 5});
  EXPECT_EQ(e.input_ids, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(e.labels, (std::vector<int64_t>{-100, -100, -100, 4, 5}));
  EXPECT_FALSE(e.truncated);
  // max_len 4: the target is cut to one token
  SftExample t = build_sft_example({1, 2, 3}, {4, 5}, 4);
  EXPECT_EQ(t.input_ids, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(t.labels, (std::vector<int64_t>{-100, -100, -100, 4}));
  EXPECT_TRUE(t.truncated);
  EXPECT_THROW(build_sft_example({1, 2, 3}, {4, 5}, 3), Error);  // no room for the answer
  EXPECT_THROW(build_sft_example({1, 2, 3}, {}), Error);
}

TEST(SftBatch, PadsWithIgnoreLabels) {
  SftBatch b = collate_sft({build_sft_example({1}, {0, 1}), build_sft_example({1}, {0})}, 9);
  EXPECT_TRUE(torch::equal(b.input_ids, torch::tensor({1L, 0L, 1L, 1L, 0L, 9L}).reshape({2, 3})));
  EXPECT_TRUE(
      torch::equal(b.labels, torch::tensor({-100L, 0L, 1L, -100L, 0L, -100L}).reshape({2, 3})));
  EXPECT_TRUE(torch::equal(b.attention_mask, torch::tensor({1L, 1L, 1L, 1L, 1L, 0L}).reshape({2, 3})));
  // after the shift: row 0 predicts 0, 1; row 1 predicts 0 -> 3 tokens
  EXPECT_EQ(count_sft_tokens(b.labels), 3);
}

TEST(SftAnswer, GoldByDefaultTeacherScoresWhenTheRecordCarriesThem) {
  data::Record r;
  r.id = "item-7";
  r.responses = {{"a", "x"}, {"b", "y"}, {"c", "z"}};
  r.scores = {1, 5, 2};
  prompt::RenderedPrompt shown;
  shown.mapping = {{"model-1", "c"}, {"model-2", "a"}, {"model-3", "b"}};
  EXPECT_EQ(sft_answer_json(r, shown),
            R"({"scores": {"model-1": 2, "model-2": 1, "model-3": 5}, )"
            R"("best-to-worst": ["model-3", "model-1", "model-2"]})");
  // A lenient teacher: a and c tie at 3 (ranked in shown order); the gold is untouched.
  r.meta = ordered_json::object();
  r.meta["teacher_scores"] = {{"a", 3}, {"b", 5}, {"c", 3}};
  EXPECT_EQ(sft_answer_json(r, shown),
            R"({"scores": {"model-1": 3, "model-2": 3, "model-3": 5}, )"
            R"("best-to-worst": ["model-3", "model-1", "model-2"]})");
  EXPECT_EQ(r.scores, (std::vector<double>{1, 5, 2}));
  // Malformed teacher scores name the record and the key.
  auto message = [&](ordered_json t) {
    r.meta["teacher_scores"] = std::move(t);
    try {
      sft_answer_json(r, shown);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto has = [](const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  };
  EXPECT_TRUE(has(message({{"a", 3}, {"b", 5}}), "item-7: meta.teacher_scores must map each of the 3"));
  EXPECT_TRUE(has(message({{"a", 3}, {"b", 5}, {"d", 1}}), "no score for response \"c\""));
  EXPECT_TRUE(has(message({{"a", 3}, {"b", "5"}, {"c", 1}}), "meta.teacher_scores.b must be a finite number"));
  EXPECT_TRUE(has(message(ordered_json::array({3, 5, 1})), "must map"));
}

TEST(SftLoss, HandComputed) {
  // V = 2, every position's logits (0, ln 3): p(0) = 1/4, p(1) = 3/4.
  // rows: (prompt 1 | target 0 1), (prompt 1 1 | target 1), (prompt 1 | target 0, padded)
  // loss tokens: row 0: −ln ¼ = 1.3862944, −ln ¾ = 0.2876821; row 1: 0.2876821; row 2: 1.3862944
  // Σ = 3.3479529 over 4 tokens = 0.8369882
  SftBatch b = collate_sft({build_sft_example({1}, {0, 1}), build_sft_example({1, 1}, {1}),
                            build_sft_example({1}, {0})},
                           0);
  auto logits = torch::zeros({3, 3, 2}, torch::kDouble);
  logits.select(2, 1).fill_(std::log(3.0));
  logits.requires_grad_(true);
  const int64_t n = count_sft_tokens(b.labels);
  ASSERT_EQ(n, 4);
  auto loss = sft_loss(logits, b.labels, double(n));
  EXPECT_NEAR(loss.item<double>(), 0.8369882167858357, 1e-6);
  // micro-batches (rows 0..1 and 2) with the global count add up to the whole
  auto l01 = sft_loss(logits.slice(0, 0, 2), b.labels.slice(0, 0, 2), double(n));
  auto l2 = sft_loss(logits.slice(0, 2, 3), b.labels.slice(0, 2, 3), double(n));
  EXPECT_NEAR(l01.item<double>() + l2.item<double>(), loss.item<double>(), 1e-6);
  // the last position and prompt/padding positions get no gradient
  loss.backward();
  EXPECT_EQ(logits.grad()[0][2].abs().sum().item<double>(), 0.0);  // last position
  EXPECT_EQ(logits.grad()[1][0].abs().sum().item<double>(), 0.0);  // predicts a prompt token
  EXPECT_EQ(logits.grad()[2][1].abs().sum().item<double>(), 0.0);  // predicts padding
  EXPECT_GT(logits.grad()[0][0].abs().sum().item<double>(), 0.0);
  EXPECT_THROW(sft_loss(logits, b.labels.slice(1, 0, 2), 4), Error);
  EXPECT_THROW(sft_loss(logits, b.labels, 0), Error);
}

// ---- plan ----

config::ModelConfig qwen3_8b() {
  config::ModelConfig m;
  m.arch = "qwen3";
  m.hidden_size = 4096;
  m.intermediate_size = 12288;
  m.num_layers = 36;
  m.num_heads = 32;
  m.num_kv_heads = 8;
  m.head_dim = 128;
  m.tie_word_embeddings = false;
  m.dtype = config::DType::kBFloat16;
  return m;
}

TEST(Plan, Qwen3_8BParameterCount) {
  // embedding 151936·4096 = 622,329,856
  // per layer: q 4096·4096 = 16,777,216; k, v 4096·1024 = 4,194,304 each; o 16,777,216
  //            -> attention 41,943,040; mlp 3·4096·12288 = 150,994,944;
  //            norms 2·4096 + 2·128 = 8,448 -> 192,946,432; × 36 = 6,946,071,552
  // total = 622,329,856 (embed) + 6,946,071,552 + 4,096 (final norm) + 622,329,856 (lm_head)
  //       = 8,190,735,360 (Qwen3-8B: 8.19B)
  ParamCount p = count_parameters(qwen3_8b(), 151936);
  EXPECT_EQ(p.embedding, 622329856);
  EXPECT_EQ(p.attention_per_layer, 41943040);
  EXPECT_EQ(p.mlp_per_layer, 150994944);
  EXPECT_EQ(p.norms_per_layer, 8448);
  EXPECT_EQ(p.per_layer, 192946432);
  EXPECT_EQ(p.lm_head, 622329856);
  EXPECT_EQ(p.total, 8190735360);
  // tied embeddings drop the head; llama has no q/k norms
  auto tied = qwen3_8b();
  tied.tie_word_embeddings = true;
  EXPECT_EQ(count_parameters(tied, 151936).total, 8190735360 - 622329856);
  auto llama = qwen3_8b();
  llama.arch = "llama";
  EXPECT_EQ(count_parameters(llama, 151936).per_layer, 192946432 - 256);
  EXPECT_THROW(count_parameters(qwen3_8b(), 0), Error);
}

TEST(Plan, MemoryAndTokensByHand) {
  // H 4, I 8, L 2, 2 heads, 1 kv head, head_dim 2 (q = 4, kv = 2), V 10, tied, qwen3:
  //   embedding 40; attention 4·4 + 2·4·2 + 4·4 = 48; mlp 3·4·8 = 96; norms 2·4 + 2·2 = 12
  //   per layer 156; layers 312; final norm 4; total P = 356
  config::Config cfg;
  auto& m = cfg.model;
  m.hidden_size = 4, m.intermediate_size = 8, m.num_layers = 2, m.num_heads = 2;
  m.num_kv_heads = 1, m.head_dim = 2, m.tie_word_embeddings = true;
  m.dtype = config::DType::kBFloat16;  // b = 2
  cfg.optim.zero_stage = 1;
  cfg.algorithm.kl_coef = 0.001;
  cfg.algorithm.micro_batch_tokens = 5;
  cfg.algorithm.ppo_epochs = 2;
  cfg.data.max_prompt_tokens = 6;
  cfg.rollout.max_new_tokens = 4;
  cfg.rollout.batch_size = 3;
  cfg.rollout.group_size = 2;
  Plan plan = make_plan(cfg, /*world_size=*/2, /*vocab_size=*/10);
  EXPECT_EQ(plan.params.total, 356);
  const auto& mem = plan.memory;
  EXPECT_EQ(mem.weights, 712);          // 356·2
  EXPECT_EQ(mem.grads, 712);            // 356·2
  EXPECT_EQ(mem.master_weights, 712);   // 356·4 / 2 ranks
  EXPECT_EQ(mem.optimizer, 1424);       // 356·8 / 2 ranks
  EXPECT_EQ(mem.reference, 712);        // kl_coef > 0
  // KV: L 2 · 2 · kv 2 · (6 + 4) tokens · ⌈3·2 / 2⌉ = 3 sequences · 2 bytes = 480
  EXPECT_EQ(mem.kv_cache, 480);
  EXPECT_EQ(plan.tokens.sequences_per_generate, 3);
  {  // the paged engine's max_num_seqs, or the static engine's generation_batch, bounds the
     // rows decoding together, so the KV cache
    config::Config paged = cfg;
    paged.rollout.max_num_seqs = 2;
    EXPECT_EQ(make_plan(paged, 2, 10).memory.kv_cache, 320);
    paged.rollout.kv_cache_gib = 1;  // the pool is allocated whole
    EXPECT_EQ(make_plan(paged, 2, 10).memory.kv_cache, double(1 << 30));
    config::Config c2 = cfg;
    c2.rollout.engine = config::RolloutEngine::kStatic;
    c2.rollout.generation_batch = 2;
    Plan p2 = make_plan(c2, 2, 10);
    EXPECT_EQ(p2.tokens.sequences_per_generate, 2);
    EXPECT_EQ(p2.memory.kv_cache, 320);  // 480 · 2/3
    c2.rollout.generation_batch = 50;    // larger than a rank's share: no effect
    EXPECT_EQ(make_plan(c2, 2, 10).memory.kv_cache, 480);
  }
  {  // ZeRO-2: gradients sharded like the optimizer state, plus three buckets in flight, capped
     // at the replicated size
    config::Config c2 = cfg;
    c2.optim.zero_stage = 2;
    EXPECT_EQ(make_plan(c2, 2, 10).memory.grads, 712);  // 356 + 3 MiB of buckets > 712: capped
    c2.model.hidden_size = 4096, c2.model.intermediate_size = 12288, c2.model.num_layers = 4;
    c2.model.num_heads = 32, c2.model.num_kv_heads = 8, c2.model.head_dim = 128;
    const Plan big1 = make_plan([&] { auto c = c2; c.optim.zero_stage = 1; return c; }(), 8, 151936);
    const Plan big2 = make_plan(c2, 8, 151936);
    EXPECT_EQ(big2.memory.grads, big1.memory.grads / 8 + 3.0 * (25 << 20));
    EXPECT_EQ(big2.memory.optimizer, big1.memory.optimizer);
    EXPECT_EQ(big1.memory.total - big2.memory.total, big1.memory.grads - big2.memory.grads);
    EXPECT_EQ(make_plan(c2, 1, 151936).memory.grads, big1.memory.grads);  // one rank: nothing to shard
    // ZeRO-3: weights, reference and gradients sharded; the update holds the outer group (E =
    // embedding + head + final norm) and two layers gathered, the outer group's and one layer's
    // gradients with their flat copies; the rollout gathers every weight once.
    c2.optim.zero_stage = 3;
    const Plan big3 = make_plan(c2, 8, 151936);
    const double P = double(big3.params.total), E = double(big3.params.embedding + big3.params.lm_head + 4096);
    const double l = double(big3.params.per_layer);
    EXPECT_DOUBLE_EQ(big3.memory.weights, P * 2 / 8);
    EXPECT_DOUBLE_EQ(big3.memory.reference, P * 2 / 8);
    EXPECT_DOUBLE_EQ(big3.memory.grads, P * 2 / 8 + 2 * (E + l) * 2);
    EXPECT_DOUBLE_EQ(big3.memory.gathered_update, (E + 2 * l) * 2);
    EXPECT_DOUBLE_EQ(big3.memory.gathered_rollout, P * 2);
    EXPECT_EQ(big3.memory.optimizer, big2.memory.optimizer);
    EXPECT_DOUBLE_EQ(big3.memory.rollout, big3.memory.weights + big3.memory.master_weights + big3.memory.optimizer +
                                              big3.memory.reference + big3.memory.kv_cache + P * 2);
    EXPECT_EQ(big2.memory.gathered_rollout, 0);  // other stages gather nothing
  }
  // a = 4·4 + 3·4 + 3·2 + 4·8 = 66; T = 5: 5·2·66·2 = 1320; logits 2·5·10·4 = 400 -> 1720
  EXPECT_EQ(mem.activations, 1720);
  // checkpointed: 5·(2·4 + 66)·2 = 740 + 400 = 1140
  EXPECT_EQ(mem.activations_checkpointed, 1140);
  // total = 712·4 + 1424 + max(480, 1720) = 5992
  EXPECT_EQ(mem.total, 5992);
  EXPECT_EQ(plan.tokens.sequences_per_step, 6);
  EXPECT_EQ(plan.tokens.max_tokens_per_sequence, 10);
  EXPECT_EQ(plan.tokens.rollout_tokens_per_step, 60);
  EXPECT_EQ(plan.tokens.update_tokens_per_step, 120);
  EXPECT_EQ(plan.tokens.sequences_per_rank, 3);

  // fp32, no ZeRO, no KL, checkpointing: no masters, unsharded optimizer, no reference
  m.dtype = config::DType::kFloat32;
  m.gradient_checkpointing = true;
  cfg.optim.zero_stage = 0;
  cfg.algorithm.kl_coef = 0;
  Plan p2 = make_plan(cfg, 2, 10);
  EXPECT_EQ(p2.memory.master_weights, 0);
  EXPECT_EQ(p2.memory.optimizer, 356 * 8);
  EXPECT_EQ(p2.memory.reference, 0);
  // total = 356·4·2 + 356·8 + max(KV 960, checkpointed 5·74·4 + 400 = 1880)
  EXPECT_EQ(p2.memory.total, 356 * 4 * 2 + 356 * 8 + 1880);
  const std::string text = format_plan(p2, cfg);
  EXPECT_NE(text.find("parameters:"), std::string::npos) << text;
  EXPECT_NE(text.find("KV cache"), std::string::npos) << text;
  EXPECT_THROW(make_plan(cfg, 0, 10), Error);
}

}  // namespace
}  // namespace principia::trainer

namespace principia::trainer {
namespace {

TEST(Plan, GenerationRowsUnderBatchAndKvBudget) {
  config::RolloutConfig r;
  EXPECT_EQ(kv_bytes_per_token(36, 8, 128, 2), 147456.0);  // Qwen3-8B, bf16: 144 KiB a token
  EXPECT_EQ(generation_rows(r, 256, 1000), 64);             // paged: max_num_seqs
  r.generation_batch = 32;                                  // the static engine's bound only
  EXPECT_EQ(generation_rows(r, 256, 1000), 64);
  r.generation_batch = 0;
  r.engine = config::RolloutEngine::kStatic;
  EXPECT_EQ(generation_rows(r, 256, 1000), 256);            // no bound: every row at once
  r.generation_batch = 64;
  EXPECT_EQ(generation_rows(r, 256, 1000), 64);
  EXPECT_EQ(generation_rows(r, 10, 1000), 10);
  r.kv_cache_gib = 1;  // 2^30 bytes hold 4 rows of 2^28 and a bit
  EXPECT_EQ(generation_rows(r, 256, double(1 << 28) + 1), 3);
  EXPECT_EQ(generation_rows(r, 256, double(1 << 28)), 4);
  EXPECT_EQ(generation_rows(r, 256, 1000), 64);  // the batch bound is the smaller here
  try {
    generation_rows(r, 256, 2.0 * (1 << 30));
    FAIL() << "a budget below one row was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rollout.kv_cache_gib"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("2.000 GiB"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace principia::trainer
