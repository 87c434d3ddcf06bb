// A Hugging Face model directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Opening one maps every shard and checks that the weights are
// exactly those the config calls for (missing / unexpected names reported together).
// No LibTorch here: `principia export` streams tensors from shard to shard without tensors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/model_config.h"
#include "model/safetensors.h"

namespace principia::model {

class HfCheckpoint {
 public:
  // `dir` is an HF directory, or a training checkpoint directory holding one in `model/`.
  // Throws principia::Error naming the file for a missing/invalid config, index or shard, and
  // listing missing or unexpected weight names and shape mismatches.
  explicit HfCheckpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }  // the directory actually holding config.json
  const TransformerConfig& config() const { return config_; }
  // Every expected weight, in HF order (lm_head omitted when tied).
  const std::vector<std::string>& names() const { return names_; }
  const TensorView& tensor(const std::string& name) const;
  // Shard file name (relative to dir) each weight came from.
  const std::string& shard_of(const std::string& name) const;

 private:
  std::string dir_;
  TransformerConfig config_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const TensorView*, std::string>> weights_;
};

// Resolves CHECKPOINT_DIR or CHECKPOINT_DIR/model to the folder with config.json.
std::string resolve_model_dir(const std::string& dir);

// Parses "5GB", "500MB", "10KB", "123" (bytes); decimal units like transformers. Error on junk.
uint64_t parse_byte_size(const std::string& text);

struct ExportOptions {
  uint64_t max_shard_bytes = 5'000'000'000ull;  // transformers' default "5GB"
  std::string dtype;  // "" = keep; "bfloat16" / "float32" converts floating weights
  // The judge's chat template (qwen3 | llama3 | plain) and judge prompt template the model was
  // trained with. "" = from the training checkpoint's config.resolved.yaml when there is one,
  // else none (no chat_template is written, eos gets no end-of-turn token).
  std::string chat_template;
  std::string prompt_template;
};

struct ExportReport {
  std::vector<std::string> files;  // written, relative to out_dir
  int num_shards = 0;
  uint64_t total_bytes = 0;
};

// Writes an HF directory that transformers' AutoModelForCausalLM.from_pretrained and vLLM load:
// config.json, generation_config.json, model.safetensors or model-0000i-of-0000n.safetensors +
// model.safetensors.index.json, and the tokenizer files found beside the input. For serving:
//   * config.json / generation_config.json carry the tokenizer's bos/eos/pad ids where the
//     input's config has none; eos also lists the chat template's end-of-turn token;
//   * a SentencePiece tokenizer.model without a tokenizer.json (a tokenizer the run trained)
//     gets the equivalent tokenizer.json (sentencepiece_hf_json.h) and a tokenizer_config.json;
//   * tokenizer_config.json gets the chat template as Jinja (when it has none) and the names of
//     the chat and prompt templates (principia_chat_template, principia_prompt_template), which
//     `principia generate --request` uses as defaults.
ExportReport export_hf(const std::string& checkpoint_dir, const std::string& out_dir,
                       const ExportOptions& options);

// The chat / prompt template names an export directory records ("" when it records none).
struct ServingTemplates {
  std::string chat_template;
  std::string prompt_template;
};
ServingTemplates read_serving_templates(const std::string& model_dir);

// The tokenizer files export copies when present (tokenizer.json, tokenizer.model, ...).
std::vector<std::string> tokenizer_file_names(const std::string& dir);

// Writes a weight set as HF shards + index (when more than one shard) into `dir`, the way
// save_pretrained names them. Returns the file names written. Used by export and by weights.cpp.
std::vector<std::string> write_hf_shards(const std::string& dir,
                                         const std::vector<TensorBytes>& tensors,
                                         uint64_t max_shard_bytes);

}  // namespace principia::model
