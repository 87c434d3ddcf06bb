// Readers that turn tokenizer files into a BpeSpec: tiktoken rank files and HF tokenizer.json.
#pragma once

#include <string>

#include "model/tokenizer/bpe_tokenizer.h"

namespace principia::tokenizer {

// `base64(token bytes) rank` a line; ranks are ids (no gaps). The pattern and specials come from,
// in order: a special_tokens.json beside the file ({"pre_tokenizer_regex", "special_tokens":
// {text: id}}), `pattern_name`, or the file name (qwen*.tiktoken -> qwen2 with <|endoftext|>,
// <|im_start|>, <|im_end|> numbered from the rank count; cl100k_base.tiktoken -> cl100k).
BpeSpec read_tiktoken_file(const std::string& path, const std::string& pattern_name = "");

// A Hugging Face tokenizer.json with model.type BPE over a ByteLevel pre-tokenizer/decoder.
// bos/eos/pad come from tokenizer_config.json beside it when present.
BpeSpec read_hf_tokenizer_json(const std::string& path);

// Decodes standard base64 (with padding); false on malformed input.
bool base64_decode(std::string_view in, std::string* out);

}  // namespace principia::tokenizer
