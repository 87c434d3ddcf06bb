// The shape of a decoder-only transformer, read from / written to a Hugging Face config.json.
// Supported: LlamaForCausalLM (model_type "llama"), Qwen2ForCausalLM ("qwen2": q/k/v biases) and
// Qwen3ForCausalLM ("qwen3": q/k RMSNorm): RMSNorm, rotate-half RoPE (default, linear, dynamic,
// llama3 and yarn scaling, as transformers' modeling_rope_utils), GQA, SwiGLU, tied or untied
// lm_head.
// No LibTorch here: the CLI and the exporter use it without tensors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"

namespace principia::model {

enum class Arch { kLlama, kQwen3, kQwen2 };
const char* arch_model_type(Arch arch);  // "llama" | "qwen3" | "qwen2"

// rope_scaling / rope_parameters. Frequencies as transformers computes them (transformer.cpp).
struct RopeScaling {
  std::string type = "default";  // default | linear | dynamic | llama3 | yarn
  double factor = 1.0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;          // llama3, yarn
  double attention_factor = 0;                           // yarn; 0 = from factor and mscale
  double beta_fast = 32, beta_slow = 1, mscale = 0, mscale_all_dim = 0;  // yarn
  bool truncate = true;                                                  // yarn
  nlohmann::ordered_json source;  // the config's object, written back as it was
};

struct TransformerConfig {
  Arch arch = Arch::kQwen3;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // config.json may omit it: hidden_size / num_heads
  int64_t max_position_embeddings = 2048;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v/o projections (qwen2: q/k/v always, o never)
  bool mlp_bias = false;        // bias on gate/up/down (Llama only)
  int64_t bos_token_id = -1;    // -1 = none
  std::vector<int64_t> eos_token_ids;
  int64_t pad_token_id = -1;
  std::string dtype = "float32";  // torch_dtype of the stored weights
  // The original config.json (when read from one): its other keys survive a round trip.
  nlohmann::ordered_json source;

  bool qk_norm() const { return arch == Arch::kQwen3; }
  bool qkv_bias() const { return attention_bias || arch == Arch::kQwen2; }
  // Parameters, counting a tied head once.
  int64_t num_parameters() const;
  // Throws principia::Error (prefixed by `where`) when the shape is inconsistent.
  void validate(const std::string& where) const;
};

// Parses a config.json. Unknown model_type, unsupported rope_scaling / activation /
// sliding window -> principia::Error naming the file and key.
TransformerConfig read_hf_config(const std::string& path);
TransformerConfig parse_hf_config(const nlohmann::ordered_json& json, const std::string& where);
// The config.json text for this shape (source keys kept, ours overwrite them).
nlohmann::ordered_json to_hf_config(const TransformerConfig& config);
// generation_config.json: bos/eos/pad ids.
nlohmann::ordered_json to_hf_generation_config(const TransformerConfig& config);

// A model initialised from the YAML `model:` section (no `path`). vocab_size 0 in the YAML
// means `tokenizer_vocab_size`.
TransformerConfig from_model_config(const config::ModelConfig& model, int64_t tokenizer_vocab_size);

// Every weight name a checkpoint of this shape holds, in Hugging Face order and spelling.
std::vector<std::string> hf_weight_names(const TransformerConfig& config);
// Expected shape of one weight (by HF name); throws principia::Error for an unknown name.
std::vector<int64_t> hf_weight_shape(const TransformerConfig& config, const std::string& name);

}  // namespace principia::model
