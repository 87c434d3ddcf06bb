// A SentencePiece `.model` as the Hugging Face `tokenizers` library loads it: the tokenizer.json
// that makes transformers' AutoTokenizer (and every stack built on it) produce exactly the ids
// libsentencepiece produces. Built from the model's own settings, as transformers'
// SpmConverter.build_tokenizer_from_spm_proto does:
//   normalizer     Precompiled(charsmap) when the model has one; remove_extra_whitespaces as
//                  Replace(\A +| +\z -> "") + Replace( {2,} -> " "); escape_whitespaces as
//                  Replace(" " -> "▁"); add_dummy_prefix as Replace(\A▁ -> ▁▁) (a text that
//                  already starts with a space still gets its own prefix, as in SentencePiece)
//   pre_tokenizer  Metaspace(prepend "always": every chunk between special tokens gets the dummy
//                  prefix, as each Encode call does), then user-defined pieces isolated (they are
//                  always emitted whole)
//   model          Unigram (pieces + scores) or BPE (merges ranked by the merged piece's score)
//   decoder        ▁ -> space, byte fallback, fuse, strip one leading space
//   post_processor none: no BOS added to plain text (a chat template writes its own)
// Control and unknown pieces are special added tokens, matched on the raw text.
// No LibTorch here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace principia::tokenizer {

// What the exporter also needs for tokenizer_config.json.
struct SentencePieceHfJson {
  nlohmann::ordered_json tokenizer_json;
  std::string unk_piece, bos_piece, eos_piece, pad_piece;  // "" when the model has none
  int32_t unk_id = -1, bos_id = -1, eos_id = -1, pad_id = -1;
  // Control and unknown pieces (id, text): the special added tokens.
  std::vector<std::pair<int32_t, std::string>> specials;
};

// Throws principia::Error naming the file when it is not a SentencePiece model, or for a model
// type tokenizers cannot express (word, char).
SentencePieceHfJson sentencepiece_to_hf_json(const std::string& model_path);

}  // namespace principia::tokenizer
