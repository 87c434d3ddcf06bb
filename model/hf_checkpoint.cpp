#include "model/hf_checkpoint.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "core/log.h"
#include "core/text.h"
#include "data/prompt/chat_template.h"
#include "model/tokenizer/sentencepiece_hf_json.h"
#include "model/tokenizer/tokenizer.h"

namespace principia::model {
namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// "a, b, c" for the first few names, then "and N more".
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += ", and " + std::to_string(names.size() - 8) + " more";
  return out;
}

// Non-persistent RoPE tables older checkpoints carry; transformers ignores them too.
bool ignorable(const std::string& name) {
  return name.find("rotary_emb.inv_freq") != std::string::npos;
}

uint16_t f32_to_bf16(float f) {  // round to nearest even, NaN kept quiet
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}


// The chat / prompt templates of the run that wrote a training checkpoint (its
// config.resolved.yaml), unless the options name them.
ServingTemplates export_templates(const std::string& checkpoint_dir, const ExportOptions& options) {
  ServingTemplates t{options.chat_template, options.prompt_template};
  const fs::path resolved = fs::path(checkpoint_dir) / "config.resolved.yaml";
  if ((t.chat_template.empty() || t.prompt_template.empty()) && fs::is_regular_file(resolved)) {
    try {
      const config::Config cfg = config::load(resolved.string());
      if (t.chat_template.empty()) t.chat_template = cfg.prompt.chat_template;
      if (t.prompt_template.empty() && cfg.prompt.user_template.empty())
        t.prompt_template = cfg.prompt.template_name;
    } catch (const Error& e) {
      log::warn("export: ", resolved.string(), " not read (", e.what(),
                "); the export gets no chat template");
    }
  }
  if (!t.chat_template.empty())  // validates the name
    t.chat_template = prompt::chat_template_name(prompt::parse_chat_template(t.chat_template));
  return t;
}

ordered_json added_token_json(const std::string& content) {
  return {{"content", content}, {"lstrip", false}, {"normalized", false},
          {"rstrip", false},    {"single_word", false}, {"special", true}};
}

// The serving side of an export: tokenizer.json for a bare SentencePiece model, the token ids in
// the model config, tokenizer_config.json with the chat template.
void add_serving_files(const std::string& out_dir, const ServingTemplates& templates,
                       TransformerConfig& config, ExportReport& report) {
  const fs::path out(out_dir);
  std::optional<tokenizer::SentencePieceHfJson> spm;
  if (fs::is_regular_file(out / "tokenizer.model") && !fs::exists(out / "tokenizer.json")) {
    spm = tokenizer::sentencepiece_to_hf_json((out / "tokenizer.model").string());
    write_file_atomic((out / "tokenizer.json").string(), spm->tokenizer_json.dump(2) + "\n");
    report.files.push_back("tokenizer.json");
  }
  std::unique_ptr<tokenizer::Tokenizer> tok;
  if (!tokenizer_file_names(out_dir).empty()) {
    try {
      tok = tokenizer::load_tokenizer(out_dir);
    } catch (const Error& e) {
      log::warn("export: the tokenizer in ", out_dir, " was not read (", e.what(),
                "); config.json keeps the input's token ids");
    }
  }
  if (!tok) return;
  auto in_vocab = [&](int64_t id) { return id >= 0 && id < config.vocab_size; };
  if (config.bos_token_id < 0 && in_vocab(tok->bos_id())) config.bos_token_id = tok->bos_id();
  if (config.pad_token_id < 0 && in_vocab(tok->pad_id())) config.pad_token_id = tok->pad_id();
  auto add_eos = [&](int64_t id) {
    if (in_vocab(id) && std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) ==
                            config.eos_token_ids.end())
      config.eos_token_ids.push_back(id);
  };
  std::string end_turn;
  if (!templates.chat_template.empty())
    end_turn = prompt::end_of_turn_token(prompt::parse_chat_template(templates.chat_template));
  if (!end_turn.empty()) {
    if (auto id = tok->special_id(end_turn)) add_eos(*id);
  }
  add_eos(tok->eos_id());

  // tokenizer_config.json: kept when the input has one (a base model's), else written for a
  // tokenizer.json; the chat template and the template names are added where missing.
  const fs::path cfg_path = out / "tokenizer_config.json";
  ordered_json tc;
  const bool had_config = fs::is_regular_file(cfg_path);
  if (had_config) {
    tc = read_json_file(cfg_path.string());
    if (!tc.is_object())
      throw Error(SourceLocation{cfg_path.string(), 0, 0}, "", "expected a JSON object");
  } else if (fs::is_regular_file(out / "tokenizer.json")) {
    auto token = [&](int32_t id) {
      return id >= 0 ? ordered_json(tok->id_to_token(id)) : ordered_json(nullptr);
    };
    ordered_json decoder = ordered_json::object();
    std::vector<std::pair<int32_t, std::string>> specials;
    if (spm) {
      specials = spm->specials;
    } else {
      for (const auto& s : tok->special_tokens()) specials.emplace_back(s.id, s.text);
      std::sort(specials.begin(), specials.end());
    }
    for (const auto& [id, text] : specials) decoder[std::to_string(id)] = added_token_json(text);
    // The generic fast tokenizer: it runs tokenizer.json as written (a model-specific class
    // may rebuild the normalizer and pre-tokenizer its own way).
    tc = {{"tokenizer_class", "PreTrainedTokenizerFast"},
          {"bos_token", token(tok->bos_id())},
          {"eos_token", token(tok->eos_id())},
          {"unk_token", spm && spm->unk_id >= 0 ? ordered_json(spm->unk_piece) : ordered_json(nullptr)},
          {"pad_token", token(tok->pad_id())},
          {"add_bos_token", false},  // the chat template writes BOS (tokenizer.json adds none)
          {"add_eos_token", false},
          {"clean_up_tokenization_spaces", false},
          {"model_max_length", config.max_position_embeddings},
          {"added_tokens_decoder", decoder}};
  } else {
    return;  // tiktoken / llama2.c vocabularies: no Hugging Face tokenizer to describe
  }
  bool changed = !had_config;
  if (!templates.chat_template.empty() && !tc.contains("chat_template") &&
      !fs::exists(out / "chat_template.jinja")) {
    tc["chat_template"] =
        prompt::chat_template_jinja(prompt::parse_chat_template(templates.chat_template));
    changed = true;
  }
  if (!templates.chat_template.empty()) {
    tc["principia_chat_template"] = templates.chat_template;
    changed = true;
  }
  if (!templates.prompt_template.empty()) {
    tc["principia_prompt_template"] = templates.prompt_template;
    changed = true;
  }
  if (!changed) return;
  write_file_atomic(cfg_path.string(), tc.dump(2) + "\n");
  if (!had_config) report.files.push_back("tokenizer_config.json");
}

}  // namespace

ServingTemplates read_serving_templates(const std::string& model_dir) {
  ServingTemplates t;
  const fs::path p = fs::path(model_dir) / "tokenizer_config.json";
  if (!fs::is_regular_file(p)) return t;
  const ordered_json tc = read_json_file(p.string());
  if (!tc.is_object()) return t;
  for (auto [key, field] : {std::pair{"principia_chat_template", &t.chat_template},
                            std::pair{"principia_prompt_template", &t.prompt_template}})
    if (tc.contains(key) && tc[key].is_string()) *field = tc[key].get<std::string>();
  return t;
}

std::string resolve_model_dir(const std::string& dir) {
  if (!fs::is_directory(dir)) throw Error("model directory " + dir + " does not exist");
  if (fs::exists(fs::path(dir) / "config.json")) return dir;
  if (fs::exists(fs::path(dir) / "model" / "config.json")) return (fs::path(dir) / "model").string();
  throw Error("model directory " + dir + ": no config.json (nor model/config.json)");
}

HfCheckpoint::HfCheckpoint(const std::string& dir_in) : dir_(resolve_model_dir(dir_in)) {
  fs::path dir(dir_);
  config_ = read_hf_config((dir / "config.json").string());
  fs::path single = dir / "model.safetensors";
  fs::path index = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> file_of;  // weight -> shard (from the index)
  std::vector<std::string> shard_names;
  if (fs::exists(index)) {
    ordered_json j = read_json_file(index.string());
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(SourceLocation{index.string(), 0, 0}, "weight_map", "missing or not an object");
    std::set<std::string> seen;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        throw Error(SourceLocation{index.string(), 0, 0}, "weight_map." + it.key(),
                    "expected a file name");
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw Error(SourceLocation{index.string(), 0, 0}, "weight_map." + it.key(),
                    "shard name '" + f + "' must be a plain file name");
      file_of[it.key()] = f;
      if (seen.insert(f).second) shard_names.push_back(f);
    }
  } else if (fs::exists(single)) {
    shard_names.push_back("model.safetensors");
  } else {
    throw Error("model directory " + dir_ +
                ": no model.safetensors nor model.safetensors.index.json");
  }
  for (const auto& s : shard_names) {
    fs::path p = dir / s;
    if (!fs::exists(p))
      throw Error("model directory " + dir_ + ": shard " + s + " listed in " +
                  index.filename().string() + " is missing");
    files_.push_back(std::make_unique<SafetensorsFile>(p.string()));
    for (const auto& t : files_.back()->tensors()) {
      if (!file_of.empty()) {
        auto it = file_of.find(t.name);
        if (it == file_of.end() || it->second != s) {
          if (it == file_of.end() && ignorable(t.name)) continue;
          throw Error("model directory " + dir_ + ": tensor '" + t.name + "' is in " + s +
                      " but model.safetensors.index.json " +
                      (it == file_of.end() ? "does not list it" : "puts it in " + it->second));
        }
      }
      if (weights_.count(t.name))
        throw Error("model directory " + dir_ + ": tensor '" + t.name + "' appears twice (" +
                    weights_[t.name].second + " and " + s + ")");
      weights_[t.name] = {&t, s};
    }
  }
  for (const auto& [name, file] : file_of)
    if (!weights_.count(name))
      throw Error("model directory " + dir_ + ": model.safetensors.index.json puts '" + name +
                  "' in " + file + " but that file does not hold it");

  names_ = hf_weight_names(config_);
  std::set<std::string> expected(names_.begin(), names_.end());
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& n : names_) {
    auto it = weights_.find(n);
    if (it == weights_.end()) {
      missing.push_back(n);
      continue;
    }
    auto want = hf_weight_shape(config_, n);
    if (it->second.first->shape != want)
      mismatched.push_back(n + " " + shape_str(it->second.first->shape) + " (config needs " +
                           shape_str(want) + ")");
    StDType dt = it->second.first->dtype;
    if (dt != StDType::kF32 && dt != StDType::kBF16 && dt != StDType::kF16)
      mismatched.push_back(n + " has dtype " + st_dtype_name(dt) + " (need F32, BF16 or F16)");
  }
  for (const auto& [n, v] : weights_) {
    if (expected.count(n) || ignorable(n)) continue;
    // A tied model may still carry a copy of the head (transformers ignores it as well).
    if (n == "lm_head.weight" && config_.tie_word_embeddings) continue;
    unexpected.push_back(n);
  }
  std::string problems;
  if (!missing.empty()) problems += " missing weights: " + name_list(missing) + ";";
  if (!unexpected.empty()) problems += " unexpected weights: " + name_list(unexpected) + ";";
  if (!mismatched.empty()) problems += " wrong shapes/dtypes: " + name_list(mismatched) + ";";
  if (!problems.empty())
    throw Error("model directory " + dir_ + " does not match its config.json (" +
                arch_model_type(config_.arch) + ", " + std::to_string(config_.num_layers) +
                " layers):" + problems.substr(0, problems.size() - 1));
}

const TensorView& HfCheckpoint::tensor(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) throw Error("model directory " + dir_ + ": no weight '" + name + "'");
  return *it->second.first;
}

const std::string& HfCheckpoint::shard_of(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) throw Error("model directory " + dir_ + ": no weight '" + name + "'");
  return it->second.second;
}

uint64_t parse_byte_size(const std::string& text) {
  std::string t = trim(text);
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  std::string num = t.substr(0, i), unit = t.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  if (unit == "KB") mult = 1e3;
  if (unit == "MB") mult = 1e6;
  if (unit == "GB") mult = 1e9;
  if (unit == "TB") mult = 1e12;
  if (unit == "KIB") mult = 1024.0;
  if (unit == "MIB") mult = 1024.0 * 1024;
  if (unit == "GIB") mult = 1024.0 * 1024 * 1024;
  char* end = nullptr;
  double v = num.empty() ? -1 : std::strtod(num.c_str(), &end);
  if (mult == 0 || num.empty() || (end && *end) || !(v > 0))
    throw Error("bad size '" + text + "' (expected e.g. 5GB, 500MB, 2GiB)");
  return static_cast<uint64_t>(std::llround(v * mult));
}

std::vector<std::string> tokenizer_file_names(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  static const char* kNames[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                                 "vocab.json", "merges.txt", "special_tokens_map.json",
                                 "added_tokens.json", "chat_template.jinja"};
  for (const char* n : kNames)
    if (fs::is_regular_file(fs::path(dir) / n)) out.push_back(n);
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".tiktoken")
      out.push_back(e.path().filename().string());
  return out;
}

std::vector<std::string> write_hf_shards(const std::string& dir,
                                         const std::vector<TensorBytes>& tensors,
                                         uint64_t max_shard_bytes) {
  // Greedy packing in order, as transformers does: a tensor bigger than the limit gets its own
  // shard (it cannot be split).
  std::vector<std::vector<size_t>> shards(1);
  uint64_t current = 0, total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t n = tensors[i].nbytes;
    if (!shards.back().empty() && current + n > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(i);
    current += n;
    total += n;
  }
  std::vector<std::string> written;
  fs::create_directories(dir);
  if (shards.size() == 1) {
    write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
    fs::remove(fs::path(dir) / "model.safetensors.index.json");
    written.push_back("model.safetensors");
    return written;
  }
  ordered_json weight_map = ordered_json::object();
  const size_t n = shards.size();
  for (size_t s = 0; s < n; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, n);
    std::vector<TensorBytes> part;
    for (size_t i : shards[s]) {
      part.push_back(tensors[i]);
      weight_map[tensors[i].name] = name;
    }
    write_safetensors((fs::path(dir) / name).string(), part);
    written.push_back(name);
  }
  fs::remove(fs::path(dir) / "model.safetensors");
  ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomic((fs::path(dir) / "model.safetensors.index.json").string(),
                    index.dump(2) + "\n");
  written.push_back("model.safetensors.index.json");
  return written;
}

ExportReport export_hf(const std::string& checkpoint_dir, const std::string& out_dir,
                       const ExportOptions& options) {
  HfCheckpoint ckpt(checkpoint_dir);
  if (fs::exists(out_dir) && fs::equivalent(fs::path(ckpt.dir()), fs::path(out_dir)))
    throw Error("export: the output directory is the input directory (" + out_dir + ")");
  StDType target = StDType::kF32;
  bool convert = false;
  if (!options.dtype.empty()) {
    if (options.dtype == "float32") target = StDType::kF32;
    else if (options.dtype == "bfloat16") target = StDType::kBF16;
    else throw Error("export: unsupported --dtype '" + options.dtype + "' (float32 or bfloat16)");
    convert = true;
  }
  TransformerConfig config = ckpt.config();
  std::vector<TensorBytes> tensors;
  std::vector<std::vector<uint8_t>> converted;  // keeps converted bytes alive while writing
  converted.reserve(ckpt.names().size());
  for (const auto& name : ckpt.names()) {
    const TensorView& t = ckpt.tensor(name);
    TensorBytes b{name, t.dtype, t.shape, t.data, t.nbytes};
    if (convert && t.dtype != target) {
      if (t.dtype == StDType::kF32 && target == StDType::kBF16) {
        std::vector<uint8_t> buf(t.nbytes / 2);
        auto* dst = reinterpret_cast<uint16_t*>(buf.data());
        for (int64_t i = 0; i < t.numel(); ++i) {
          float f;
          std::memcpy(&f, t.data + 4 * i, 4);
          dst[i] = f32_to_bf16(f);
        }
        converted.push_back(std::move(buf));
      } else if (t.dtype == StDType::kBF16 && target == StDType::kF32) {
        std::vector<uint8_t> buf(t.nbytes * 2);
        auto* dst = reinterpret_cast<float*>(buf.data());
        for (int64_t i = 0; i < t.numel(); ++i) {
          uint16_t h;
          std::memcpy(&h, t.data + 2 * i, 2);
          dst[i] = bf16_to_f32(h);
        }
        converted.push_back(std::move(buf));
      } else {
        throw Error(std::string("export: cannot convert ") + st_dtype_name(t.dtype) + " to " +
                    options.dtype);
      }
      b.dtype = target;
      b.data = converted.back().data();
      b.nbytes = converted.back().size();
    }
    tensors.push_back(b);
  }
  if (convert) config.dtype = options.dtype;
  fs::create_directories(out_dir);
  ExportReport report;
  report.files = write_hf_shards(out_dir, tensors, options.max_shard_bytes);
  for (const auto& t : tensors) report.total_bytes += t.nbytes;
  for (const auto& f : report.files)
    if (f.size() > 12 && f.compare(f.size() - 12, 12, ".safetensors") == 0) ++report.num_shards;
  // Tokenizer files: beside the weights, else in the training checkpoint folder above them.
  std::vector<std::string> tok_dirs{ckpt.dir()};
  if (fs::path(ckpt.dir()) != fs::path(checkpoint_dir)) tok_dirs.push_back(checkpoint_dir);
  std::set<std::string> copied;
  for (const auto& d : tok_dirs)
    for (const auto& f : tokenizer_file_names(d)) {
      if (!copied.insert(f).second) continue;
      write_file_atomic((fs::path(out_dir) / f).string(), read_file((fs::path(d) / f).string()));
      report.files.push_back(f);
    }
  const ServingTemplates templates = export_templates(checkpoint_dir, options);
  add_serving_files(out_dir, templates, config, report);

  write_file_atomic((fs::path(out_dir) / "config.json").string(),
                    to_hf_config(config).dump(2) + "\n");
  // Keep the input's generation settings (sampling defaults) when it has them.
  fs::path gen_in = fs::path(ckpt.dir()) / "generation_config.json";
  ordered_json gen = fs::exists(gen_in) ? read_json_file(gen_in.string()) : ordered_json::object();
  if (!gen.is_object()) gen = ordered_json::object();
  const ordered_json ids = to_hf_generation_config(config);
  for (auto it = ids.begin(); it != ids.end(); ++it) gen[it.key()] = it.value();
  write_file_atomic((fs::path(out_dir) / "generation_config.json").string(), gen.dump(2) + "\n");
  report.files.push_back("config.json");
  report.files.push_back("generation_config.json");
  return report;
}

}  // namespace principia::model
