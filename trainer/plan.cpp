#include "trainer/plan.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/error.h"

namespace principia::trainer {
namespace {

double dtype_bytes(config::DType d) { return d == config::DType::kFloat32 ? 4.0 : 2.0; }

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%9.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

std::string count(int64_t n) {
  char buf[48];
  if (n >= 1'000'000'000)
    std::snprintf(buf, sizeof(buf), "%lld (%.2fB)", static_cast<long long>(n), double(n) / 1e9);
  else
    std::snprintf(buf, sizeof(buf), "%lld (%.2fM)", static_cast<long long>(n), double(n) / 1e6);
  return buf;
}

}  // namespace

double kv_bytes_per_token(int64_t num_layers, int64_t num_kv_heads, int64_t head_dim, double dtype_bytes) {
  return 2.0 * double(num_layers) * double(num_kv_heads) * double(head_dim) * dtype_bytes;
}

int64_t generation_rows(const config::RolloutConfig& rollout, int64_t rows, double kv_bytes_per_row) {
  int64_t n = rows;
  if (rollout.engine == config::RolloutEngine::kPaged) n = std::min(n, rollout.max_num_seqs);
  else if (rollout.generation_batch > 0) n = std::min(n, rollout.generation_batch);
  if (rollout.kv_cache_gib > 0) {
    const double budget = rollout.kv_cache_gib * 1024.0 * 1024.0 * 1024.0;
    const auto fit = int64_t(budget / kv_bytes_per_row);
    if (fit < 1) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f GiB", kv_bytes_per_row / (1024.0 * 1024.0 * 1024.0));
      throw Error("rollout.kv_cache_gib: " + std::to_string(rollout.kv_cache_gib) +
                  " GiB does not hold the KV cache of one sequence (" + buf +
                  " at the longest prompt + rollout.max_new_tokens); raise it or shorten the sequences");
    }
    n = std::min(n, fit);
  }
  return std::max<int64_t>(1, n);
}

ParamCount count_parameters(const config::ModelConfig& m, int64_t vocab_size) {
  if (vocab_size < 1) throw Error("plan: vocabulary size must be >= 1 (set model.vocab_size)");
  const int64_t H = m.hidden_size, I = m.intermediate_size;
  const int64_t q = m.num_heads * m.head_dim, kv = m.num_kv_heads * m.head_dim;
  ParamCount p;
  p.embedding = vocab_size * H;
  p.attention_per_layer = H * q + 2 * H * kv + q * H;
  p.mlp_per_layer = 3 * H * I;
  p.norms_per_layer = 2 * H + (m.arch == "qwen3" ? 2 * m.head_dim : 0);
  p.per_layer = p.attention_per_layer + p.mlp_per_layer + p.norms_per_layer;
  p.layers = m.num_layers * p.per_layer;
  p.final_norm = H;
  p.lm_head = m.tie_word_embeddings ? 0 : vocab_size * H;
  p.total = p.embedding + p.layers + p.final_norm + p.lm_head;
  return p;
}

Plan make_plan(const config::Config& cfg, int64_t world_size, int64_t vocab_size) {
  if (world_size < 1) throw Error("plan: world size must be >= 1");
  Plan plan;
  plan.world_size = world_size;
  plan.vocab_size = vocab_size;
  plan.params = count_parameters(cfg.model, vocab_size);

  const auto& m = cfg.model;
  const double P = double(plan.params.total);
  const double b = dtype_bytes(m.dtype);
  const double shards = cfg.optim.zero_stage >= 1 ? double(world_size) : 1.0;
  const double H = double(m.hidden_size), I = double(m.intermediate_size), L = double(m.num_layers);
  const double q = double(m.num_heads * m.head_dim), kv = double(m.num_kv_heads * m.head_dim);

  TokensPlan& t = plan.tokens;
  t.sequences_per_step = cfg.rollout.batch_size * cfg.rollout.group_size;
  t.max_tokens_per_sequence = cfg.data.max_prompt_tokens + cfg.rollout.max_new_tokens;
  t.rollout_tokens_per_step = t.sequences_per_step * t.max_tokens_per_sequence;
  t.update_tokens_per_step = t.rollout_tokens_per_step * cfg.algorithm.ppo_epochs;
  t.sequences_per_rank = (t.sequences_per_step + world_size - 1) / world_size;
  const double kv_per_token = kv_bytes_per_token(m.num_layers, m.num_kv_heads, m.head_dim, b);
  t.sequences_per_generate =
      generation_rows(cfg.rollout, t.sequences_per_rank, kv_per_token * double(t.max_tokens_per_sequence));

  MemoryPlan& mem = plan.memory;
  mem.weights = P * b;
  mem.grads = P * b;
  if (cfg.optim.zero_stage >= 2 && world_size > 1)
    mem.grads = std::min(P * b, P * b / double(world_size) + 3.0 * double(cfg.dist.bucket_mb << 20));
  mem.master_weights = m.dtype == config::DType::kFloat32 ? 0.0 : P * 4.0 / shards;
  mem.optimizer = P * 8.0 / shards;
  mem.reference = cfg.algorithm.kl_coef > 0 ? P * b : 0.0;
  if (cfg.optim.zero_stage >= 3) {
    const auto& pc = plan.params;
    const double outer = double(pc.embedding + pc.lm_head + pc.final_norm), layer = double(pc.per_layer);
    mem.weights = P * b / double(world_size);
    mem.reference /= double(world_size);
    mem.grads = P * b / double(world_size) + 2.0 * (outer + layer) * b;
    mem.gathered_update = (outer + 2.0 * layer) * b;
    mem.gathered_rollout = P * b;
  }
  mem.kv_cache = kv_per_token * double(t.max_tokens_per_sequence) * double(t.sequences_per_generate);
  if (cfg.rollout.engine == config::RolloutEngine::kPaged && cfg.rollout.kv_cache_gib > 0)
    mem.kv_cache = cfg.rollout.kv_cache_gib * 1024.0 * 1024.0 * 1024.0;  // the pool is allocated whole
  const double T = double(cfg.algorithm.micro_batch_tokens);
  const double a = 4 * H + 3 * q + 3 * kv + 4 * I;
  const double logits = 2.0 * T * double(vocab_size) * 4.0;
  mem.activations = T * L * a * b + logits;
  mem.activations_checkpointed = T * (L * H + a) * b + logits;
  const double act = m.gradient_checkpointing ? mem.activations_checkpointed : mem.activations;
  const double resident = mem.weights + mem.master_weights + mem.optimizer + mem.reference;
  mem.rollout = resident + mem.kv_cache + mem.gathered_rollout;
  mem.update = resident + mem.grads + act + mem.gathered_update;
  mem.peak_phase = mem.rollout > mem.update ? "rollout" : "update";
  mem.total = std::max(mem.rollout, mem.update);
  return plan;
}

std::string format_plan(const Plan& plan, const config::Config& cfg, double gpu_memory_gib) {
  const auto& p = plan.params;
  const auto& mem = plan.memory;
  const auto& t = plan.tokens;
  std::ostringstream os;
  os << "model: " << cfg.model.arch << ", " << cfg.model.num_layers << " layers, hidden "
     << cfg.model.hidden_size << ", vocab " << plan.vocab_size << ", "
     << config::enum_name(cfg.model.dtype) << "\n";
  os << "parameters:    " << count(p.total) << "\n"
     << "  embedding    " << count(p.embedding) << "\n"
     << "  layers       " << count(p.layers) << "  (" << count(p.per_layer) << " each)\n"
     << "  lm_head      " << count(p.lm_head) << (cfg.model.tie_word_embeddings ? "  (tied)" : "")
     << "\n";
  os << "memory per rank (world " << plan.world_size << ", ZeRO-" << cfg.optim.zero_stage << "):\n"
     << "  weights                      " << gib(mem.weights) << "\n"
     << "  gradients                    " << gib(mem.grads) << "\n"
     << "  fp32 master weights          " << gib(mem.master_weights) << "\n"
     << "  optimizer (AdamW)            " << gib(mem.optimizer) << "\n"
     << "  reference model              " << gib(mem.reference) << "\n"
     << "  KV cache (rollout)           " << gib(mem.kv_cache) << "\n"
     << "  activations                  " << gib(mem.activations) << "\n"
     << "  activations (checkpointing)  " << gib(mem.activations_checkpointed) << "\n"
     << (cfg.optim.zero_stage >= 3 ? "  gathered weights (rollout)   " + gib(mem.gathered_rollout) + "\n" +
                                          "  gathered weights (update)    " + gib(mem.gathered_update) + "\n"
                                    : std::string())
     << "  rollout phase (no gradients) " << gib(mem.rollout) << "\n"
     << "  update phase                 " << gib(mem.update) << "  (gradient_checkpointing="
     << (cfg.model.gradient_checkpointing ? "true" : "false") << ")\n"
     << "  peak                         " << gib(mem.total) << "  (" << mem.peak_phase << ")\n";
  os << "tokens per step: " << t.sequences_per_step << " sequences (" << cfg.rollout.batch_size
     << " items x " << cfg.rollout.group_size << "), up to " << t.max_tokens_per_sequence
     << " tokens each: " << t.rollout_tokens_per_step << " rollout, " << t.update_tokens_per_step
     << " update (" << cfg.algorithm.ppo_epochs << " epoch(s)); " << t.sequences_per_rank
     << " sequences per rank, generated " << t.sequences_per_generate
     << " at a time (rollout.generation_batch, rollout.kv_cache_gib)\n";
  if (gpu_memory_gib > 0 && mem.total > gpu_memory_gib * 1024.0 * 1024.0 * 1024.0) {
    const bool rollout = mem.total == mem.rollout;
    os << "warning: the peak per rank (" << gib(mem.total) << ", " << mem.peak_phase << " phase) exceeds "
       << gpu_memory_gib << " GiB (--gpu-memory-gib); largest items: weights " << gib(mem.weights)
       << (cfg.optim.zero_stage >= 3 ? ", gathered weights " + gib(rollout ? mem.gathered_rollout : mem.gathered_update)
                                     : std::string())
       << ", reference " << gib(mem.reference) << ", "
       << (rollout ? "KV cache " + gib(mem.kv_cache)
                   : "activations " + gib(cfg.model.gradient_checkpointing ? mem.activations_checkpointed
                                                                            : mem.activations))
       << "\n";
  }
  return os.str();
}

}  // namespace principia::trainer
