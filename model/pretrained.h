// Loading a Transformer without seeing LibTorch: the CLI and other torch-free callers hold the
// model through a shared_ptr to the forward-declared class (its deleter is captured where the
// pointer is made, so the type may stay incomplete here).
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "model/model_config.h"

namespace principia::model {

class Transformer;

struct LoadOptions {
  std::string dtype = "float32";  // float32 | bfloat16 | float16
  std::string device = "cpu";     // any torch device string: "cpu", "cuda", "cuda:1"
};

// Builds the model that `dir` (an HF directory, or a checkpoint dir with model/) describes and
// loads its weights by HF name. principia::Error on any problem with the files.
std::shared_ptr<Transformer> load_pretrained(const std::string& dir, const LoadOptions& options = {});

// A freshly initialised model for the YAML `model:` section (no path).
std::shared_ptr<Transformer> init_from_config(const config::ModelConfig& model,
                                              int64_t tokenizer_vocab_size, uint64_t seed);

// The shape of a loaded model (torch-free accessor).
const TransformerConfig& model_config(const Transformer& model);

}  // namespace principia::model
