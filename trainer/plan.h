// `principia plan`: parameter count, memory per rank and tokens per step for a config,
// computed from the shapes alone (nothing is allocated). No LibTorch.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace principia::trainer {

// Parameters of a Qwen3 / Llama decoder (no biases), with
//   H hidden, I intermediate, L layers, q = num_heads·head_dim, kv = num_kv_heads·head_dim, V vocab:
//   embedding       V·H
//   per layer       attention  H·q (q_proj) + 2·H·kv (k_proj, v_proj) + q·H (o_proj)
//                   mlp        3·H·I (gate_proj, up_proj, down_proj)
//                   norms      2·H (input, post-attention) + 2·head_dim (q_norm, k_norm: qwen3 only)
//   final norm      H
//   lm_head         V·H when the embeddings are untied, else 0
struct ParamCount {
  int64_t embedding = 0, attention_per_layer = 0, mlp_per_layer = 0, norms_per_layer = 0;
  int64_t per_layer = 0, layers = 0, final_norm = 0, lm_head = 0, total = 0;
};
// vocab_size: the model's vocabulary (model.vocab_size, or the tokenizer's when that is 0).
ParamCount count_parameters(const config::ModelConfig& model, int64_t vocab_size);

// Bytes per rank. P = parameters, b = bytes of model.dtype (4 / 2), W = world size,
// S = W with ZeRO-1, -2 or -3 (optimizer state and fp32 masters sharded), else 1.
//   weights        P·b
//   grads          P·b; ZeRO-2: P·b / W (the owned sums) + 3 gradient buckets (dist.bucket_mb:
//                  the bucket being filled and two in flight), at most P·b
//   master_weights P·4 / S        only when dtype is not float32 (fp32 copy the optimizer updates)
//   optimizer      P·8 / S        AdamW exp_avg + exp_avg_sq in fp32
//   reference      P·b            only when algorithm.kl_coef > 0 (a frozen copy of the policy)
//   kv_cache       L · 2 · kv_heads · head_dim · (prompt + new tokens) · S · b, with S the rows of
//                  one generate() call: ⌈B·G / W⌉, or fewer where rollout.generation_batch or
//                  rollout.kv_cache_gib bound it (prompt = data.max_prompt_tokens, new =
//                  rollout.max_new_tokens)
//   activations    per micro-batch of T = algorithm.micro_batch_tokens tokens:
//                    stored per token per layer a = 4H + 3q + 3kv + 4I elements (norm inputs and
//                    outputs, q/k/v before and after RoPE/norm, attention output, the MLP's
//                    gate, up, act(gate), act(gate)·up); logits and their gradient in fp32:
//                    without checkpointing  T·L·a·b + 2·T·V·4
//                    with checkpointing     T·(L·H + a)·b + 2·T·V·4  (layer inputs + one layer)
// ZeRO-3 (S = W; optim.zero_stage: 3): the weights and the reference are sharded too, P·b / W
// each, and the phases add what is gathered (E = embedding + lm_head + final norm, the outer
// group; l = one layer's parameters):
//   gathered       update: the outer group and two layers (the one computing and the next,
//                  prefetched) in full, (E + 2·l)·b; rollout: every weight, P·b, gathered once
//                  for the phase (the reference's log-probs gather it alike, without KV cache)
//   grads          P·b / W (the shards' sums) + the outer group's full gradients, alive for all
//                  of backward (the head's arrive first, the embedding's last), and one layer's,
//                  each with the flat copy reduce-scattered: 2·(E + l)·b
// The two phases of a step, and the peak:
//   rollout        weights + master_weights + optimizer + reference + kv_cache (gradients are
//                  freed after each update) + gathered (ZeRO-3)
//   update         weights + grads + master_weights + optimizer + reference + the activations
//                  the config selects (model.gradient_checkpointing) + gathered (ZeRO-3)
//   total          max(rollout, update): the peak per rank; peak_phase names which
struct MemoryPlan {
  double weights = 0, grads = 0, master_weights = 0, optimizer = 0, reference = 0;
  double kv_cache = 0, activations = 0, activations_checkpointed = 0;
  double gathered_rollout = 0, gathered_update = 0;  // ZeRO-3 only
  double rollout = 0, update = 0, total = 0;
  const char* peak_phase = "update";
};

struct TokensPlan {
  int64_t sequences_per_step = 0;        // B·G
  int64_t max_tokens_per_sequence = 0;   // prompt + new
  int64_t rollout_tokens_per_step = 0;   // B·G·(prompt + new), an upper bound
  int64_t update_tokens_per_step = 0;    // × ppo_epochs
  int64_t sequences_per_rank = 0;        // ⌈B·G / W⌉
  int64_t sequences_per_generate = 0;    // min(sequences_per_rank, rollout.generation_batch if set)
};

struct Plan {
  int64_t world_size = 1;
  int64_t vocab_size = 0;
  ParamCount params;
  MemoryPlan memory;
  TokensPlan tokens;
};

// Bytes of KV cache one token takes: 2 (K and V) · layers · kv_heads · head_dim · dtype bytes.
double kv_bytes_per_token(int64_t num_layers, int64_t num_kv_heads, int64_t head_dim, double dtype_bytes);

// Rows decoding together of `rows` waiting: all of them, or fewer where rollout.max_num_seqs
// (paged engine) or rollout.generation_batch (static) or the rollout.kv_cache_gib budget (at
// `kv_bytes_per_row` a row, prefix sharing not counted) bound it. Throws principia::Error naming
// rollout.kv_cache_gib when not even one row fits.
int64_t generation_rows(const config::RolloutConfig& rollout, int64_t rows, double kv_bytes_per_row);

// Throws principia::Error when vocab_size or world_size is < 1.
Plan make_plan(const config::Config& cfg, int64_t world_size, int64_t vocab_size);

// A human-readable report (parameters in millions/billions, memory in GiB). With
// gpu_memory_gib > 0 it ends with a warning line when the peak exceeds that much.
std::string format_plan(const Plan& plan, const config::Config& cfg, double gpu_memory_gib = 0);

}  // namespace principia::trainer
