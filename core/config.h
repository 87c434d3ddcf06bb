// principia's configuration: typed structs, one per YAML section (DESIGN.md §Configuration).
// Every struct lists its fields once, in visit(); the YAML binder, the validator's error
// messages and the resolved-config writer all walk that same list.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace principia::config {

// ---- enums (the YAML spelling is the one in kNames) ----
enum class DType { kFloat32, kBFloat16, kFloat16 };
enum class TisLevel { kNone, kToken, kSequence };
enum class RolloutEngine { kPaged, kStatic };
enum class KlEstimator { kK1, kK2, kK3 };
enum class LossAgg { kTokenMean, kSeqMeanTokenMean, kSeqMeanTokenSum, kSeqMeanTokenSumNorm };
enum class Schedule { kConstant, kCosine, kLinear };
enum class Backend { kAuto, kNccl, kGloo };
enum class SynthEvalPrinciples { kHeldOut, kTrained, kAll };

template <class E> struct EnumNames;
template <> struct EnumNames<DType> {
  static constexpr std::array<const char*, 3> kNames{"float32", "bfloat16", "float16"};
};
template <> struct EnumNames<TisLevel> {
  static constexpr std::array<const char*, 3> kNames{"none", "token", "sequence"};
};
template <> struct EnumNames<RolloutEngine> {
  static constexpr std::array<const char*, 2> kNames{"paged", "static"};
};
template <> struct EnumNames<KlEstimator> {
  static constexpr std::array<const char*, 3> kNames{"k1", "k2", "k3"};
};
template <> struct EnumNames<LossAgg> {
  static constexpr std::array<const char*, 4> kNames{
      "token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"};
};
template <> struct EnumNames<Schedule> {
  static constexpr std::array<const char*, 3> kNames{"constant", "cosine", "linear"};
};
template <> struct EnumNames<Backend> {
  static constexpr std::array<const char*, 3> kNames{"auto", "nccl", "gloo"};
};
template <> struct EnumNames<SynthEvalPrinciples> {
  static constexpr std::array<const char*, 3> kNames{"held_out", "trained", "all"};
};
template <class E> const char* enum_name(E e) { return EnumNames<E>::kNames[static_cast<size_t>(e)]; }

// Bounds for numeric fields; the binder reports a value outside them with the key path.
struct Range {
  double min = -1e300, max = 1e300;
  bool min_exclusive = false;
};
inline Range at_least(double v) { return {v, 1e300, false}; }
inline Range positive() { return {0, 1e300, true}; }
inline Range between(double lo, double hi) { return {lo, hi, false}; }

// ---- sections ----
struct RunConfig {
  std::string name = "principia";
  std::string output_dir = "runs/${run.name}";
  int64_t seed = 0;
  // cpu | cuda (this rank's GPU: cuda:LOCAL_RANK) | cuda:N | auto (cuda when one is visible)
  std::string device = "cpu";
  template <class V> void visit(V& v) {
    v("name", name);
    v("output_dir", output_dir);
    v("seed", seed, at_least(0));
    v("device", device);
  }
};

// Either `path` (a Hugging Face directory) or an init shape for a model trained from scratch.
struct ModelConfig {
  std::string path;                   // HF dir; empty = initialise from the shape below
  std::string arch = "qwen3";         // qwen3 | llama (for init from shape)
  int64_t vocab_size = 0;             // 0 = the tokenizer's vocabulary size
  int64_t hidden_size = 256;
  int64_t intermediate_size = 768;
  int64_t num_layers = 4;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 64;
  int64_t max_position_embeddings = 4096;
  double rope_theta = 1000000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = true;
  double init_std = 0.02;
  DType dtype = DType::kFloat32;
  bool gradient_checkpointing = false;
  template <class V> void visit(V& v) {
    v("path", path);
    v("arch", arch);
    v("vocab_size", vocab_size, at_least(0));
    v("hidden_size", hidden_size, at_least(1));
    v("intermediate_size", intermediate_size, at_least(1));
    v("num_layers", num_layers, at_least(1));
    v("num_heads", num_heads, at_least(1));
    v("num_kv_heads", num_kv_heads, at_least(1));
    v("head_dim", head_dim, at_least(1));
    v("max_position_embeddings", max_position_embeddings, at_least(1));
    v("rope_theta", rope_theta, positive());
    v("rms_norm_eps", rms_norm_eps, positive());
    v("tie_word_embeddings", tie_word_embeddings);
    v("init_std", init_std, positive());
    v("dtype", dtype);
    v("gradient_checkpointing", gradient_checkpointing);
  }
};

struct TokenizerConfig {
  std::string path;            // a tokenizer file or directory; empty = model.path
  bool train = false;          // train a SentencePiece model on the training data first
  int64_t train_vocab_size = 512;
  std::string train_model_type = "bpe";  // bpe | unigram
  template <class V> void visit(V& v) {
    v("path", path);
    v("train", train);
    v("train_vocab_size", train_vocab_size, at_least(16));
    v("train_model_type", train_model_type);
  }
};

struct PromptConfig {
  std::string template_name = "rewardanything-v1";  // YAML key: template
  std::string chat_template = "qwen3";              // qwen3 | llama3 | plain
  bool include_principle = true;                    // false: ablation without the principle
  std::string system_prompt_file;                   // override the template's system message
  std::string user_template;                        // custom template with {principle} ...
  template <class V> void visit(V& v) {
    v("template", template_name);
    v("chat_template", chat_template);
    v("include_principle", include_principle);
    v("system_prompt_file", system_prompt_file);
    v("user_template", user_template);
  }
};

struct SynthConfig {
  int64_t train_items = 2000;
  int64_t eval_items = 200;
  int64_t candidates = 4;
  // Eval items under the held-out principles (generalisation to new principles), under the
  // trained ones (new items: indices after the training items), or under all.
  SynthEvalPrinciples eval_principles = SynthEvalPrinciples::kHeldOut;
  // Share of training items whose SFT target comes from a lenient teacher (scores below 3 raised
  // to 3) instead of the gold; GRPO's reward stays on the gold. 0 = SFT on the gold.
  double lenient_teacher_rate = 0.0;
  template <class V> void visit(V& v) {
    v("train_items", train_items, at_least(1));
    v("eval_items", eval_items, at_least(1));
    v("candidates", candidates, between(2, 5));  // distinct levels of five
    v("eval_principles", eval_principles);
    v("lenient_teacher_rate", lenient_teacher_rate, between(0, 1));
  }
};

struct DataConfig {
  std::string train;           // .jsonl or .h5 (required for train/sft)
  std::string eval;            // optional
  bool synth = false;          // generate the synthetic task into the run dir
  SynthConfig synth_config;    // YAML key: synth_options
  int64_t max_prompt_tokens = 4096;
  bool skip_bad = false;
  int64_t prefetch = 2;
  template <class V> void visit(V& v) {
    v("train", train);
    v("eval", eval);
    v("synth", synth);
    v("synth_options", synth_config);
    v("max_prompt_tokens", max_prompt_tokens, at_least(1));
    v("skip_bad", skip_bad);
    v("prefetch", prefetch, at_least(0));
  }
};

struct RolloutConfig {
  int64_t group_size = 8;         // G samples per item
  int64_t batch_size = 32;        // items per step (global, across ranks)
  int64_t max_new_tokens = 1024;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;              // 0 = off
  // paged (model/paged_generation.h): continuous batching over a paged KV cache with prefix
  // sharing; static: one left-padded batch per generate() call (model/generation.h), every row
  // decoding until the longest stops. The same samples either way (each has its own seed).
  RolloutEngine engine = RolloutEngine::kPaged;
  int64_t max_num_seqs = 64;       // paged: sequences decoding together
  int64_t block_size = 16;         // paged: tokens per KV block
  bool prefix_caching = true;      // paged: sequences sharing a prompt prefix share its blocks
  // static: sequences per generate() call on a rank (0 = all of the rank's B·G/W at once).
  // Bounds the KV cache (and the CUDA graph) at this many rows.
  int64_t generation_batch = 0;
  // Byte budget of the rollout's KV cache per rank, in GiB (0 = none). paged: the block pool
  // (0 = room for max_num_seqs sequences at the longest prompt plus max_new_tokens); when it is
  // full the youngest sequence is preempted and recomputed later. static: a generate() call
  // takes only as many rows as fit at that length (with generation_batch, the smaller bound).
  double kv_cache_gib = 0;
  template <class V> void visit(V& v) {
    v("group_size", group_size, at_least(1));
    v("batch_size", batch_size, at_least(1));
    v("max_new_tokens", max_new_tokens, at_least(1));
    v("temperature", temperature, positive());
    v("top_p", top_p, Range{0, 1, true});
    v("top_k", top_k, at_least(0));
    v("engine", engine);
    v("max_num_seqs", max_num_seqs, at_least(1));
    v("block_size", block_size, at_least(1));
    v("prefix_caching", prefix_caching);
    v("generation_batch", generation_batch, at_least(0));
    v("kv_cache_gib", kv_cache_gib, at_least(0));
  }
};

// One reward component: {name, weight, params}. params stay JSON: each component validates
// its own (rewards/registry), naming `reward.components[i].params.<key>`.
struct RewardComponentConfig {
  std::string name;
  double weight = 1.0;
  nlohmann::json params = nlohmann::json::object();
  SourceLocation where;  // of the list entry, for error messages
  template <class V> void visit(V& v) {
    v.required("name", name);
    v("weight", weight, at_least(0));
    v("params", params);
  }
};

struct RewardConfig {
  std::vector<RewardComponentConfig> components;  // default: format 0.15 + weighted_pair 0.85
  // true: a judgment that is not format-valid (the format_valid_rate test) gets 0 from every
  // component but `format`, so an invalid ranking costs the accuracy reward too.
  bool require_valid_format = false;
  template <class V> void visit(V& v) {
    v("components", components);
    v("require_valid_format", require_valid_format);
  }
};

// Truncated importance sampling: weights the policy loss by min(π_old / π_sampler, cap), per
// token or per sequence (the length-normalised ratio), so tokens the sampler and the trainer
// disagree on do not steer the update. Sampler log-probs come with every rollout either way;
// the mismatch metrics are logged whatever the level.
struct TisConfig {
  TisLevel level = TisLevel::kNone;
  double cap = 2.0;
  template <class V> void visit(V& v) {
    v("level", level);
    v("cap", cap, Range{1, 1e300, false});
  }
};

// DAPO's dynamic sampling: a group whose raw `component` reward (before weighting, KL or any
// other shaping) is the same for every sample carries no signal; it is dropped and more items
// are rolled out, up to max_rounds rollouts in all, until the batch has batch_size groups.
struct DynamicSamplingConfig {
  bool enabled = false;
  int64_t max_rounds = 3;
  std::string component = "weighted_pair";  // a name in reward.components
  template <class V> void visit(V& v) {
    v("enabled", enabled);
    v("max_rounds", max_rounds, at_least(1));
    v("component", component);
  }
};

struct AlgorithmConfig {
  // Names in trainer/core_algos' registries, checked when a run starts.
  std::string advantage = "grpo";       // grpo | drgrpo | batch_std
  std::string policy_loss = "clipped";  // clipped (PPO, dual clip) | gspo
  double adv_eps = 1e-6;
  double clip_low = 0.2;    // ε_low
  double clip_high = 0.2;   // ε_high (e.g. 0.28 for clip-higher)
  double dual_clip = 0.0;   // c > 1 enables dual clip for A < 0; 0 = off
  double kl_coef = 0.001;   // β; 0 skips the reference model
  KlEstimator kl_estimator = KlEstimator::kK3;
  bool kl_in_reward = false;
  double entropy_coef = 0.0;
  LossAgg loss_agg = LossAgg::kTokenMean;
  int64_t ppo_epochs = 1;
  int64_t mini_batch = 0;           // items per mini-batch; 0 = whole batch
  int64_t micro_batch_tokens = 16384;
  bool mask_truncated = false;      // completions cut at max_new_tokens leave the loss
  TisConfig tis;
  DynamicSamplingConfig dynamic_sampling;
  template <class V> void visit(V& v) {
    v("advantage", advantage);
    v("policy_loss", policy_loss);
    v("adv_eps", adv_eps, positive());
    v("clip_low", clip_low, between(0, 1));
    v("clip_high", clip_high, at_least(0));
    v("dual_clip", dual_clip, at_least(0));
    v("kl_coef", kl_coef, at_least(0));
    v("kl_estimator", kl_estimator);
    v("kl_in_reward", kl_in_reward);
    v("entropy_coef", entropy_coef, at_least(0));
    v("loss_agg", loss_agg);
    v("ppo_epochs", ppo_epochs, at_least(1));
    v("mini_batch", mini_batch, at_least(0));
    v("micro_batch_tokens", micro_batch_tokens, at_least(1));
    v("mask_truncated", mask_truncated);
    v("tis", tis);
    v("dynamic_sampling", dynamic_sampling);
  }
};

struct OptimConfig {
  double lr = 1e-6;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  Schedule schedule = Schedule::kConstant;
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;  // cosine/linear decay floor as a share of lr
  double grad_clip = 1.0;     // 0 = off
  int64_t zero_stage = 0;     // 0 replicated, 1 optimizer state sharded, 2 + gradients, 3 + weights
  template <class V> void visit(V& v) {
    v("lr", lr, positive());
    v("betas", betas);
    v("eps", eps, positive());
    v("weight_decay", weight_decay, at_least(0));
    v("schedule", schedule);
    v("warmup_steps", warmup_steps, at_least(0));
    v("min_lr_ratio", min_lr_ratio, between(0, 1));
    v("grad_clip", grad_clip, at_least(0));
    v("zero_stage", zero_stage, between(0, 3));
  }
};

struct TrainerConfig {
  int64_t max_steps = 100;
  int64_t sft_steps = 0;
  int64_t sft_batch_size = 16;
  double sft_lr = 1e-4;
  int64_t max_bad_steps = 3;
  template <class V> void visit(V& v) {
    v("max_steps", max_steps, at_least(0));
    v("sft_steps", sft_steps, at_least(0));
    v("sft_batch_size", sft_batch_size, at_least(1));
    v("sft_lr", sft_lr, positive());
    v("max_bad_steps", max_bad_steps, at_least(1));
  }
};

struct DistConfig {
  Backend backend = Backend::kAuto;
  int64_t timeout_s = 600;
  int64_t bucket_mb = 25;
  template <class V> void visit(V& v) {
    v("backend", backend);
    v("timeout_s", timeout_s, at_least(1));
    v("bucket_mb", bucket_mb, at_least(1));
  }
};

struct CheckpointConfig {
  int64_t every = 0;  // 0 = only at the end
  int64_t keep_last = 3;
  template <class V> void visit(V& v) {
    v("every", every, at_least(0));
    v("keep_last", keep_last, at_least(1));
  }
};

struct LogConfig {
  int64_t every = 1;
  bool tensorboard = true;
  std::string level = "info";
  template <class V> void visit(V& v) {
    v("every", every, at_least(1));
    v("tensorboard", tensorboard);
    v("level", level);
  }
};

struct EvalConfig {
  int64_t every = 0;          // 0 = only before and after training
  std::string data;           // default: data.eval
  int64_t max_items = 0;      // 0 = all
  int64_t samples = 1;        // n samples per item (1 with greedy)
  bool greedy = true;
  int64_t max_new_tokens = 0; // 0 = rollout.max_new_tokens
  bool write_judgments = false;  // every judgment to RUN/eval/<name>.judgments.jsonl
  // Position bias: each item judged under this many candidate orders (the first the data's);
  // eval reports the rankings' mean pairwise Kendall tau and top-1 agreement. 1 = off.
  int64_t permutations = 1;
  template <class V> void visit(V& v) {
    v("every", every, at_least(0));
    v("data", data);
    v("max_items", max_items, at_least(0));
    v("samples", samples, at_least(1));
    v("greedy", greedy);
    v("max_new_tokens", max_new_tokens, at_least(0));
    v("write_judgments", write_judgments);
    v("permutations", permutations, at_least(1));
  }
};

struct Config {
  RunConfig run;
  ModelConfig model;
  TokenizerConfig tokenizer;
  PromptConfig prompt;
  DataConfig data;
  RolloutConfig rollout;
  RewardConfig reward;
  AlgorithmConfig algorithm;
  OptimConfig optim;
  TrainerConfig trainer;
  DistConfig dist;
  CheckpointConfig checkpoint;
  LogConfig log;
  EvalConfig eval;

  // Where each key path was set ("optim.lr" -> file:line:col); for cross-field errors.
  std::map<std::string, SourceLocation> origins;
  SourceLocation where(const std::string& key_path) const;
  std::string source_file;  // the top-level file

  template <class V> void visit(V& v) {
    v("run", run);
    v("model", model);
    v("tokenizer", tokenizer);
    v("prompt", prompt);
    v("data", data);
    v("rollout", rollout);
    v("reward", reward);
    v("algorithm", algorithm);
    v("optim", optim);
    v("trainer", trainer);
    v("dist", dist);
    v("checkpoint", checkpoint);
    v("log", log);
    v("eval", eval);
  }
};

// Loads a YAML file (with `include:`), applies `key.path=value` / `key.path+=value` overrides,
// resolves `${key.path}` / `${env:VAR}`, binds into Config and validates. Every failure is a
// principia::Error naming the file, line:column and key path.
Config load(const std::string& path, const std::vector<std::string>& overrides = {});

// Cross-field checks for a training run (group_size >= 2, data.train present, ...).
void validate_for_training(const Config& cfg);

// The resolved config as YAML (every field, defaults included).
std::string to_yaml(const Config& cfg);

// A reward file for `principia score --reward R.yaml`: either a top-level reward section
// (`components:`, `require_valid_format:`) or a full config's `reward:` section. Same validation
// and messages as the main loader.
RewardConfig load_reward_config(const std::string& path);

// Default reward components when the config lists none.
std::vector<RewardComponentConfig> default_reward_components();

}  // namespace principia::config
