// safetensors reader/writer, config.json parsing, HF directories and export. No tensors needed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "model/hf_checkpoint.h"
#include "model/model_config.h"
#include "model/safetensors.h"
#include "tests/common/test_data.h"

namespace principia::model {
namespace {
namespace fs = std::filesystem;
using ::principia::testing::shared_data;
using ::principia::testing::temp_dir;

// A file with an arbitrary header and data section: the corrupt cases are built byte by byte.
std::string write_raw(const fs::path& path, const std::string& header, const std::string& data,
                      int64_t header_len_override = -1) {
  uint64_t n = header_len_override >= 0 ? uint64_t(header_len_override) : header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((n >> (8 * i)) & 0xff);
  bytes += header + data;
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  return path.string();
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, WriteThenReadRoundTrips) {
  auto dir = temp_dir("st_roundtrip");
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b{0x3f80, 0x4000};
  std::string path = (dir / "x.safetensors").string();
  write_safetensors(path, {{"a", StDType::kF32, {2, 3}, a.data(), 24},
                           {"b.weight", StDType::kBF16, {2}, b.data(), 4}});
  // Header padded to 8 and __metadata__ present, as transformers writes it.
  std::string raw = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_NE(raw.find("\"__metadata__\":{\"format\":\"pt\"}"), std::string::npos);

  SafetensorsFile f(path);
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const TensorView& t = f.at("a");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.dtype, StDType::kF32);
  EXPECT_EQ(std::memcmp(t.data, a.data(), 24), 0);
  EXPECT_EQ(f.at("b.weight").nbytes, 4u);
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_THROW(f.at("nope"), Error);
}

struct CorruptCase {
  const char* name;
  std::string header;
  std::string data;
  int64_t header_len;
  const char* expect;   // substring of the message
  const char* tensor;   // tensor the message must name ("" = none)
};

TEST(Safetensors, CorruptFilesGiveClearErrorsNamingFileAndTensor) {
  auto dir = temp_dir("st_corrupt");
  const std::string ok8(8, 'x');
  std::vector<CorruptCase> cases = {
      {"bad_header_length_huge", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", ok8,
       int64_t(1) << 40, "bad header length", ""},
      {"bad_header_length_past_end", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       ok8, 4000, "bad header length", ""},
      {"truncated_data", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", ok8, -1,
       "truncated", "w"},
      {"overlapping_offsets",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       std::string(12, 'x'), -1, "overlap", "b"},
      {"gap_between_tensors",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       std::string(12, 'x'), -1, "contiguous", "b"},
      {"unknown_dtype", R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", ok8, -1,
       "unknown dtype 'F33'", "w"},
      {"shape_bytes_mismatch", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok8,
       -1, "needs 12 bytes", "w"},
      {"wrong_dtype_size", R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", ok8, -1,
       "needs 16 bytes", "w"},
      {"invalid_json", R"({"w":{"dtype":"F32",)", ok8, -1, "not valid JSON", ""},
      {"trailing_bytes", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", ok8, -1,
       "trailing", ""},
      {"negative_dim", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok8, -1,
       "negative", "w"},
      {"reversed_offsets", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", ok8, -1,
       "begin", "w"},
  };
  for (const auto& c : cases) {
    std::string path = write_raw(dir / (std::string(c.name) + ".safetensors"), c.header, c.data,
                                 c.header_len);
    std::string msg = error_of(path);
    SCOPED_TRACE(c.name);
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    if (*c.tensor) EXPECT_NE(msg.find("'" + std::string(c.tensor) + "'"), std::string::npos) << msg;
  }
  // Shorter than the 8-byte length prefix.
  std::ofstream(dir / "tiny.safetensors") << "abc";
  EXPECT_NE(error_of((dir / "tiny.safetensors").string()).find("truncated"), std::string::npos);
  EXPECT_NE(error_of((dir / "missing.safetensors").string()).find("cannot open"), std::string::npos);
}

TEST(Safetensors, TruncatingARealFileIsDetected) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  auto dir = temp_dir("st_truncated_real");
  std::string bytes = read_file(shared_data("models/stories260k/model.safetensors"));
  std::string path = (dir / "model.safetensors").string();
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() - 100));
  std::string msg = error_of(path);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

// ---- config.json ----

nlohmann::ordered_json qwen3_json() {
  return nlohmann::ordered_json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 100,
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_theta": 5000.0, "rope_type": "default"},
    "tie_word_embeddings": false, "eos_token_id": [7, 8], "bos_token_id": null,
    "dtype": "bfloat16", "custom_key": 42})");
}

TEST(ModelConfig, ParsesStories260kLlama) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  TransformerConfig c = read_hf_config(shared_data("models/stories260k/config.json"));
  EXPECT_EQ(c.arch, Arch::kLlama);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.qk_norm());
}

TEST(ModelConfig, ParsesTransformers5Qwen3AndRoundTrips) {
  TransformerConfig c = parse_hf_config(qwen3_json(), "cfg.json");
  EXPECT_EQ(c.arch, Arch::kQwen3);
  EXPECT_DOUBLE_EQ(c.rope_theta, 5000.0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.dtype, "bfloat16");
  auto j = to_hf_config(c);
  EXPECT_EQ(j["custom_key"], 42);  // unknown keys survive
  TransformerConfig back = parse_hf_config(j, "again.json");
  EXPECT_EQ(back.num_kv_heads, 2);
  EXPECT_EQ(back.head_dim, 16);
  EXPECT_DOUBLE_EQ(back.rope_theta, 5000.0);
  EXPECT_EQ(back.eos_token_ids, (std::vector<int64_t>{7, 8}));
  // 2 layers x (q 64x32 + k,v 32x32 + o 32x64 + norms 16+16 + mlp 3x64x32 + 2x32) + ...
  int64_t layer = 64 * 32 + 2 * 32 * 32 + 32 * 64 + 16 + 16 + 3 * 64 * 32 + 2 * 32;
  EXPECT_EQ(c.num_parameters(), 2 * 100 * 32 + 32 + 2 * layer);
  EXPECT_EQ(hf_weight_names(c).size(), 1 + 2 * 11 + 1 + 1u);
}

std::string config_error(nlohmann::ordered_json j) {
  try {
    parse_hf_config(j, "/some/dir/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, UnsupportedConfigsNameFileAndKey) {
  auto j = qwen3_json();
  j["model_type"] = "mistral";
  EXPECT_NE(config_error(j).find("/some/dir/config.json"), std::string::npos);
  EXPECT_NE(config_error(j).find("'mistral' is not supported"), std::string::npos);
  j = qwen3_json();
  j["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 8.0}};
  EXPECT_NE(config_error(j).find("rope_scaling"), std::string::npos);
  EXPECT_NE(config_error(j).find("'longrope' is not supported"), std::string::npos);
  j = qwen3_json();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};  // no low/high_freq_factor
  EXPECT_NE(config_error(j).find("rope_scaling.low_freq_factor: missing"), std::string::npos);
  j = qwen3_json();
  j["layer_types"] = {"full_attention", "sliding_attention"};
  EXPECT_NE(config_error(j).find("layer_types"), std::string::npos);
  j = qwen3_json();
  j["num_key_value_heads"] = 3;
  EXPECT_NE(config_error(j).find("num_key_value_heads"), std::string::npos);
  j = qwen3_json();
  j.erase("hidden_size");
  EXPECT_NE(config_error(j).find("hidden_size: missing"), std::string::npos);
  j = qwen3_json();
  j["hidden_act"] = "gelu";
  EXPECT_NE(config_error(j).find("hidden_act"), std::string::npos);
  j = qwen3_json();
  j["vocab_size"] = "many";
  EXPECT_NE(config_error(j).find("vocab_size: expected an integer"), std::string::npos);
}

TEST(ModelConfig, Qwen2HasQkvBiasesAndNoQkNorm) {
  auto j = qwen3_json();
  j["model_type"] = "qwen2";
  j["attention_bias"] = true;  // ignored: Qwen2's biases are fixed by the architecture
  TransformerConfig c = parse_hf_config(j, "cfg.json");
  EXPECT_EQ(c.arch, Arch::kQwen2);
  EXPECT_TRUE(c.qkv_bias());
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.qk_norm());
  const auto names = hf_weight_names(c);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  EXPECT_TRUE(has("model.layers.1.self_attn.q_proj.bias"));
  EXPECT_TRUE(has("model.layers.1.self_attn.v_proj.bias"));
  EXPECT_FALSE(has("model.layers.1.self_attn.o_proj.bias"));
  EXPECT_FALSE(has("model.layers.1.self_attn.q_norm.weight"));
  EXPECT_EQ(hf_weight_shape(c, "model.layers.0.self_attn.k_proj.bias"), (std::vector<int64_t>{32}));
  auto out = to_hf_config(c);
  EXPECT_EQ(out["architectures"][0], "Qwen2ForCausalLM");
  EXPECT_EQ(out["model_type"], "qwen2");
}

TEST(ModelConfig, RopeScalingParsesAndRoundTrips) {
  auto j = qwen3_json();
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64},
                          {"rope_theta", 5000.0}};
  TransformerConfig c = parse_hf_config(j, "cfg.json");
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(c.rope_theta, 5000.0);
  auto out = to_hf_config(c);
  EXPECT_EQ(out["rope_parameters"], j["rope_parameters"]);
  EXPECT_EQ(parse_hf_config(out, "again").rope_scaling.type, "llama3");
  // transformers < 5 spelling: "rope_scaling" with "type"; yarn's factor defaults to the ratio.
  j = qwen3_json();
  j.erase("rope_parameters");
  j["max_position_embeddings"] = 4096;
  j["rope_scaling"] = {{"type", "yarn"}, {"original_max_position_embeddings", 1024}};
  c = parse_hf_config(j, "cfg.json");
  EXPECT_EQ(c.rope_scaling.type, "yarn");
  EXPECT_EQ(c.rope_scaling.factor, 4.0);
  out = to_hf_config(c);
  EXPECT_EQ(out["rope_scaling"]["rope_type"], "yarn");
  EXPECT_FALSE(out["rope_scaling"].contains("type"));
  j["rope_scaling"] = {{"type", "linear"}};
  EXPECT_NE(config_error(j).find("rope_scaling.factor: missing"), std::string::npos);
}

TEST(ModelConfig, FromYamlModelSection) {
  config::ModelConfig m;
  m.arch = "llama";
  m.vocab_size = 0;
  TransformerConfig c = from_model_config(m, 512);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.arch, Arch::kLlama);
  m.arch = "gpt2";
  EXPECT_THROW(from_model_config(m, 512), Error);
}

// ---- HF directories and export ----

TEST(HfCheckpoint, ExportShardsAndReloadsByteIdentical) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  auto out = temp_dir("export_sharded");
  const std::string src = shared_data("models/stories260k");
  ExportOptions o;
  o.max_shard_bytes = parse_byte_size("300KB");
  ExportReport r = export_hf(src, out.string(), o);
  EXPECT_GE(r.num_shards, 3);
  EXPECT_TRUE(fs::exists(out / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(out / "config.json"));
  EXPECT_TRUE(fs::exists(out / "generation_config.json"));
  EXPECT_TRUE(fs::exists(out / "vocab.json"));  // the tokenizer travels with the weights
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().extension() == ".safetensors") EXPECT_LE(fs::file_size(e.path()), 300'000u + 4096);
  HfCheckpoint a(src), b(out.string());
  ASSERT_EQ(a.names(), b.names());
  for (const auto& n : a.names()) {
    const auto &x = a.tensor(n), &y = b.tensor(n);
    ASSERT_EQ(x.nbytes, y.nbytes) << n;
    EXPECT_EQ(std::memcmp(x.data, y.data, x.nbytes), 0) << n;
  }
  auto gen = nlohmann::json::parse(read_file((out / "generation_config.json").string()));
  EXPECT_EQ(gen["bos_token_id"], 1);
  EXPECT_EQ(gen["eos_token_id"], 2);

  // A training checkpoint folder holding the model in model/ is accepted too, and a bf16 export
  // halves the bytes.
  auto ckpt = temp_dir("export_ckpt_layout");
  fs::create_directories(ckpt / "model");
  for (const auto& e : fs::directory_iterator(out)) fs::copy(e.path(), ckpt / "model" / e.path().filename());
  auto out2 = temp_dir("export_bf16");
  ExportOptions o2;
  o2.dtype = "bfloat16";
  ExportReport r2 = export_hf(ckpt.string(), out2.string(), o2);
  EXPECT_EQ(r2.num_shards, 1);
  EXPECT_EQ(r2.total_bytes * 2, r.total_bytes);
  HfCheckpoint c(out2.string());
  EXPECT_EQ(c.config().dtype, "bfloat16");
  EXPECT_EQ(c.tensor("model.norm.weight").dtype, StDType::kBF16);
}

TEST(HfCheckpoint, MissingAndUnexpectedWeightsAreListed) {
  PRINCIPIA_REQUIRE_SHARED_DATA();
  auto dir = temp_dir("ckpt_missing");
  const std::string src = shared_data("models/stories260k");
  fs::copy(src + "/config.json", dir / "config.json");
  HfCheckpoint full(src);
  std::vector<TensorBytes> tensors;
  for (const auto& n : full.names()) {
    if (n == "model.layers.3.mlp.up_proj.weight") continue;
    const auto& t = full.tensor(n);
    tensors.push_back({n, t.dtype, t.shape, t.data, t.nbytes});
  }
  float extra = 1;
  tensors.push_back({"model.layers.9.extra.weight", StDType::kF32, {1}, &extra, 4});
  write_safetensors((dir / "model.safetensors").string(), tensors);
  try {
    HfCheckpoint bad(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("missing weights: model.layers.3.mlp.up_proj.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected weights: model.layers.9.extra.weight"), std::string::npos) << m;
    EXPECT_NE(m.find(dir.string()), std::string::npos) << m;
  }
  EXPECT_THROW(HfCheckpoint((dir / "nowhere").string()), Error);
  EXPECT_THROW(parse_byte_size("5 parsecs"), Error);
  EXPECT_EQ(parse_byte_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_byte_size("2MiB"), 2u * 1024 * 1024);
}

}  // namespace
}  // namespace principia::model
