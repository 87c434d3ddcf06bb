#include "model/model_config.h"

#include <sstream>

#include "core/error.h"
#include "core/jsonl.h"

namespace principia::model {
namespace {

using ojson = nlohmann::ordered_json;

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw Error(SourceLocation{where, 0, 0}, key, what);
}

bool has(const ojson& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

int64_t get_int(const ojson& j, const char* key, const std::string& where, int64_t fallback,
                bool required) {
  if (!has(j, key)) {
    if (required) fail(where, key, "missing (required for this model)");
    return fallback;
  }
  const ojson& v = j[key];
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(int64_t(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  fail(where, key, "expected an integer, got " + v.dump());
}

double get_double(const ojson& j, const char* key, const std::string& where, double fallback) {
  if (!has(j, key)) return fallback;
  if (!j[key].is_number()) fail(where, key, "expected a number, got " + j[key].dump());
  return j[key].get<double>();
}

bool get_bool(const ojson& j, const char* key, const std::string& where, bool fallback) {
  if (!has(j, key)) return fallback;
  if (!j[key].is_boolean()) fail(where, key, "expected true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

// rope_scaling (transformers < 5) or rope_parameters (>= 5): the types transformers computes
// for these families without per-layer or per-position tables.
RopeScaling parse_rope(const ojson& rope, const ojson& config, int64_t max_positions,
                       const std::string& where, const std::string& key) {
  RopeScaling r;
  if (rope.is_null()) return r;
  if (!rope.is_object()) fail(where, key, "expected an object or null");
  for (const char* k : {"type", "rope_type"})  // rope_type wins when both are there
    if (rope.contains(k) && rope[k].is_string()) r.type = rope[k].get<std::string>();
  const std::string w = where + ": " + key;
  if (r.type == "default") return r;
  if (r.type != "linear" && r.type != "dynamic" && r.type != "llama3" && r.type != "yarn")
    fail(where, key,
         "rope type '" + r.type +
             "' is not supported (supported: default, linear, dynamic, llama3, yarn)");
  if (get_double(rope, "partial_rotary_factor", w, 1.0) != 1.0)
    fail(where, key + ".partial_rotary_factor", "only 1.0 (RoPE on the whole head) is supported");
  r.source = rope;
  // transformers: a top-level original_max_position_embeddings wins, else max_position_embeddings.
  r.original_max_position_embeddings = get_int(config, "original_max_position_embeddings", where,
                                               get_int(rope, "original_max_position_embeddings", w,
                                                       max_positions, false),
                                               false);
  if (r.type == "yarn") {
    r.factor = get_double(rope, "factor", w,
                          double(max_positions) / double(r.original_max_position_embeddings));
    r.attention_factor = get_double(rope, "attention_factor", w, 0.0);
    r.beta_fast = get_double(rope, "beta_fast", w, 32.0);
    r.beta_slow = get_double(rope, "beta_slow", w, 1.0);
    r.mscale = get_double(rope, "mscale", w, 0.0);
    r.mscale_all_dim = get_double(rope, "mscale_all_dim", w, 0.0);
    r.truncate = get_bool(rope, "truncate", w, true);
  } else {
    if (!has(rope, "factor")) fail(where, key + ".factor", "missing (required for " + r.type + ")");
    r.factor = get_double(rope, "factor", w, 1.0);
  }
  if (r.type == "llama3") {
    for (const char* k : {"low_freq_factor", "high_freq_factor"})
      if (!has(rope, k)) fail(where, key + "." + k, "missing (required for llama3)");
    r.low_freq_factor = get_double(rope, "low_freq_factor", w, 1.0);
    r.high_freq_factor = get_double(rope, "high_freq_factor", w, 4.0);
    if (!(r.high_freq_factor > r.low_freq_factor))
      fail(where, key + ".high_freq_factor", "must be greater than low_freq_factor");
  }
  if (!(r.factor > 0)) fail(where, key + ".factor", "must be positive");
  if (r.original_max_position_embeddings <= 0)
    fail(where, key + ".original_max_position_embeddings", "must be positive");
  return r;
}

}  // namespace

const char* arch_model_type(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen3: return "qwen3";
    case Arch::kQwen2: return "qwen2";
  }
  return "?";
}

int64_t TransformerConfig::num_parameters() const {
  int64_t n = vocab_size * hidden_size;  // embeddings
  if (!tie_word_embeddings) n += vocab_size * hidden_size;
  n += hidden_size;  // final norm
  for (const auto& name : hf_weight_names(*this)) {
    if (name.rfind("model.layers.0.", 0) != 0) continue;
    int64_t p = 1;
    for (int64_t d : hf_weight_shape(*this, name)) p *= d;
    n += p * num_layers;
  }
  return n;
}

void TransformerConfig::validate(const std::string& where) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) fail(where, key, "must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_layers);
  positive("num_attention_heads", num_heads);
  positive("num_key_value_heads", num_kv_heads);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", max_position_embeddings);
  if (num_heads % num_kv_heads != 0)
    fail(where, "num_key_value_heads",
         "num_attention_heads (" + std::to_string(num_heads) + ") is not a multiple of " +
             std::to_string(num_kv_heads));
  if (head_dim % 2 != 0) fail(where, "head_dim", "must be even for RoPE");
  if (!(rope_theta > 0)) fail(where, "rope_theta", "must be positive");
  if (!(rms_norm_eps > 0)) fail(where, "rms_norm_eps", "must be positive");
  if (dtype != "float32" && dtype != "bfloat16" && dtype != "float16")
    fail(where, "torch_dtype", "unsupported dtype '" + dtype + "'");
  for (int64_t id : eos_token_ids)
    if (id < 0 || id >= vocab_size) fail(where, "eos_token_id", "out of vocabulary range");
  if (bos_token_id >= vocab_size) fail(where, "bos_token_id", "out of vocabulary range");
}

TransformerConfig parse_hf_config(const ojson& j, const std::string& where) {
  if (!j.is_object()) fail(where, "", "config.json must be a JSON object");
  TransformerConfig c;
  if (!has(j, "model_type") || !j["model_type"].is_string())
    fail(where, "model_type", "missing (expected \"llama\", \"qwen2\" or \"qwen3\")");
  std::string type = j["model_type"].get<std::string>();
  if (type == "llama") {
    c.arch = Arch::kLlama;
  } else if (type == "qwen3") {
    c.arch = Arch::kQwen3;
  } else if (type == "qwen2") {
    c.arch = Arch::kQwen2;
  } else {
    fail(where, "model_type",
         "model type '" + type + "' is not supported (supported: llama, qwen2, qwen3)");
  }
  c.vocab_size = get_int(j, "vocab_size", where, 0, true);
  c.hidden_size = get_int(j, "hidden_size", where, 0, true);
  c.intermediate_size = get_int(j, "intermediate_size", where, 0, true);
  c.num_layers = get_int(j, "num_hidden_layers", where, 0, true);
  c.num_heads = get_int(j, "num_attention_heads", where, 0, true);
  c.num_kv_heads = get_int(j, "num_key_value_heads", where, c.num_heads, false);
  if (c.num_heads <= 0) fail(where, "num_attention_heads", "must be positive");
  c.head_dim = get_int(j, "head_dim", where, c.hidden_size / c.num_heads, false);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", where, 2048, false);
  c.rms_norm_eps = get_double(j, "rms_norm_eps", where, 1e-6);
  c.rope_theta = get_double(j, "rope_theta", where, 10000.0);
  if (has(j, "rope_scaling"))
    c.rope_scaling = parse_rope(j["rope_scaling"], j, c.max_position_embeddings, where, "rope_scaling");
  if (has(j, "rope_parameters")) {  // transformers >= 5 spelling
    RopeScaling r =
        parse_rope(j["rope_parameters"], j, c.max_position_embeddings, where, "rope_parameters");
    if (r.type != "default" || c.rope_scaling.type == "default") c.rope_scaling = std::move(r);
    c.rope_theta = get_double(j["rope_parameters"], "rope_theta", where + ": rope_parameters",
                              c.rope_theta);
  }
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", where, false);
  // Qwen2's biases are fixed by the architecture (q/k/v yes, o and MLP no), whatever the keys say.
  c.attention_bias = c.arch != Arch::kQwen2 && get_bool(j, "attention_bias", where, false);
  c.mlp_bias = c.arch != Arch::kQwen2 && get_bool(j, "mlp_bias", where, false);
  if (c.arch == Arch::kQwen3 && c.mlp_bias) fail(where, "mlp_bias", "qwen3 has no MLP bias");
  if (has(j, "hidden_act") &&
      !(j["hidden_act"].is_string() && j["hidden_act"].get<std::string>() == "silu"))
    fail(where, "hidden_act", "only \"silu\" (SwiGLU) is supported, got " + j["hidden_act"].dump());
  if (get_bool(j, "use_sliding_window", where, false))
    fail(where, "use_sliding_window", "sliding-window attention is not supported");
  if (has(j, "layer_types") && j["layer_types"].is_array())
    for (const auto& t : j["layer_types"])
      if (!(t.is_string() && t.get<std::string>() == "full_attention"))
        fail(where, "layer_types", "only full_attention layers are supported, got " + t.dump());
  c.bos_token_id = get_int(j, "bos_token_id", where, -1, false);
  c.pad_token_id = get_int(j, "pad_token_id", where, -1, false);
  if (has(j, "eos_token_id")) {
    const ojson& e = j["eos_token_id"];
    if (e.is_array()) {
      for (size_t i = 0; i < e.size(); ++i) {
        if (!e[i].is_number_integer())
          fail(where, "eos_token_id[" + std::to_string(i) + "]", "expected an integer");
        c.eos_token_ids.push_back(e[i].get<int64_t>());
      }
    } else {
      c.eos_token_ids.push_back(get_int(j, "eos_token_id", where, -1, true));
    }
  }
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (has(j, key)) {
      if (!j[key].is_string()) fail(where, key, "expected a string");
      c.dtype = j[key].get<std::string>();
      break;
    }
  }
  c.source = j;
  c.validate(where);
  return c;
}

TransformerConfig read_hf_config(const std::string& path) {
  return parse_hf_config(read_json_file(path), path);
}

ojson to_hf_config(const TransformerConfig& c) {
  ojson j = c.source.is_object() ? c.source : ojson::object();
  j["architectures"] = {c.arch == Arch::kLlama   ? "LlamaForCausalLM"
                        : c.arch == Arch::kQwen2 ? "Qwen2ForCausalLM"
                                                 : "Qwen3ForCausalLM"};
  j["model_type"] = arch_model_type(c.arch);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  if (c.rope_scaling.type == "default") {
    if (j.contains("rope_parameters"))
      j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
  } else {
    ojson rope = c.rope_scaling.source.is_object() ? c.rope_scaling.source : ojson::object();
    rope.erase("type");
    rope["rope_type"] = c.rope_scaling.type;
    if (j.contains("rope_parameters")) {
      rope["rope_theta"] = c.rope_theta;
      j["rope_parameters"] = rope;
    } else {
      rope.erase("rope_theta");
      j["rope_scaling"] = rope;
    }
  }
  j["hidden_act"] = "silu";
  if (c.arch != Arch::kQwen2) j["attention_bias"] = c.attention_bias;
  if (c.arch == Arch::kLlama) j["mlp_bias"] = c.mlp_bias;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = c.bos_token_id >= 0 ? ojson(c.bos_token_id) : ojson(nullptr);
  if (c.eos_token_ids.empty()) {
    j["eos_token_id"] = nullptr;
  } else if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else {
    j["eos_token_id"] = c.eos_token_ids;
  }
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  j["torch_dtype"] = c.dtype;
  if (j.contains("dtype")) j["dtype"] = c.dtype;
  if (c.arch != Arch::kLlama && !j.contains("use_sliding_window")) j["use_sliding_window"] = false;
  return j;
}

ojson to_hf_generation_config(const TransformerConfig& c) {
  ojson j = ojson::object();
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  return j;
}

TransformerConfig from_model_config(const config::ModelConfig& m, int64_t tokenizer_vocab_size) {
  TransformerConfig c;
  if (m.arch == "llama") {
    c.arch = Arch::kLlama;
  } else if (m.arch == "qwen3") {
    c.arch = Arch::kQwen3;
  } else {
    throw Error(SourceLocation{}, "model.arch",
                "unknown architecture '" + m.arch + "' (expected qwen3 or llama)");
  }
  c.vocab_size = m.vocab_size > 0 ? m.vocab_size : tokenizer_vocab_size;
  c.hidden_size = m.hidden_size;
  c.intermediate_size = m.intermediate_size;
  c.num_layers = m.num_layers;
  c.num_heads = m.num_heads;
  c.num_kv_heads = m.num_kv_heads;
  c.head_dim = m.head_dim;
  c.max_position_embeddings = m.max_position_embeddings;
  c.rope_theta = m.rope_theta;
  c.rms_norm_eps = m.rms_norm_eps;
  c.tie_word_embeddings = m.tie_word_embeddings;
  c.dtype = config::enum_name(m.dtype);
  c.validate("model");
  return c;
}

std::vector<std::string> hf_weight_names(const TransformerConfig& c) {
  std::vector<std::string> names{"model.embed_tokens.weight"};
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      names.push_back(p + "self_attn." + proj + ".weight");
      const bool o = proj[0] == 'o';
      if (o ? c.attention_bias : c.qkv_bias()) names.push_back(p + "self_attn." + proj + ".bias");
    }
    if (c.qk_norm()) {
      names.push_back(p + "self_attn.q_norm.weight");
      names.push_back(p + "self_attn.k_norm.weight");
    }
    for (const char* proj : {"gate_proj", "up_proj", "down_proj"}) {
      names.push_back(p + "mlp." + proj + ".weight");
      if (c.mlp_bias) names.push_back(p + "mlp." + proj + ".bias");
    }
    names.push_back(p + "input_layernorm.weight");
    names.push_back(p + "post_attention_layernorm.weight");
  }
  names.push_back("model.norm.weight");
  if (!c.tie_word_embeddings) names.push_back("lm_head.weight");
  return names;
}

std::vector<int64_t> hf_weight_shape(const TransformerConfig& c, const std::string& name) {
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim,
                f = c.intermediate_size;
  auto ends = [&](const char* suffix) {
    std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  bool bias = ends(".bias");
  auto mat = [&](int64_t out, int64_t in) {
    return bias ? std::vector<int64_t>{out} : std::vector<int64_t>{out, in};
  };
  if (name == "model.embed_tokens.weight" || name == "lm_head.weight") return {c.vocab_size, h};
  if (name == "model.norm.weight") return {h};
  if (name.rfind("model.layers.", 0) == 0) {
    if (ends("q_proj.weight") || ends("q_proj.bias")) return mat(q, h);
    if (ends("k_proj.weight") || ends("k_proj.bias")) return mat(kv, h);
    if (ends("v_proj.weight") || ends("v_proj.bias")) return mat(kv, h);
    if (ends("o_proj.weight") || ends("o_proj.bias")) return mat(h, q);
    if (ends("q_norm.weight") || ends("k_norm.weight")) return {c.head_dim};
    if (ends("gate_proj.weight") || ends("gate_proj.bias")) return mat(f, h);
    if (ends("up_proj.weight") || ends("up_proj.bias")) return mat(f, h);
    if (ends("down_proj.weight") || ends("down_proj.bias")) return mat(h, f);
    if (ends("layernorm.weight")) return {h};
  }
  throw Error("unknown weight name '" + name + "' for a " + arch_model_type(c.arch) + " model");
}

}  // namespace principia::model
