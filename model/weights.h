// Moving weights between a Transformer and Hugging Face directories, by HF name.
#pragma once

#include <cstdint>
#include <string>

#include "model/hf_checkpoint.h"
#include "model/pretrained.h"
#include "model/transformer.h"

namespace principia::model {

// Copies every weight of `ckpt` into the model's parameters (converting dtype, moving to the
// parameters' device). The checkpoint has already been checked against its config; this also
// checks the model has the same shape (principia::Error otherwise).
void load_weights(Transformer& model, const HfCheckpoint& ckpt);

// Writes the model as an HF directory: config.json, generation_config.json and the weights in
// the parameters' dtype (model.safetensors, or shards of at most max_shard_bytes + index).
// The lm_head is omitted when tied, as transformers does.
void save_pretrained(Transformer& model, const std::string& dir,
                     uint64_t max_shard_bytes = 5'000'000'000ull);

}  // namespace principia::model
