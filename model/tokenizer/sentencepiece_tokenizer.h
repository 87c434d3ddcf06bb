// SentencePiece `.model` files through libsentencepiece (Llama-2, Mistral, Gemma, and the
// demo's own trained models). encode() = the processor's Encode with the model's own normalizer
// (dummy prefix, ▁ for spaces, byte fallback); BOS only when asked. Invalid UTF-8: tokenizer.h.
#pragma once

#include <memory>
#include <string>

#include "model/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace principia::tokenizer {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Throws principia::Error naming the file when it is missing or not a SentencePiece model.
  explicit SentencePieceTokenizer(const std::string& path);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override;
  int32_t bos_id() const override;
  int32_t eos_id() const override;
  int32_t pad_id() const override;
  // Control (<s>, </s>) and unknown pieces. (User-defined pieces are matched by Encode itself.)
  const std::vector<SpecialToken>& special_tokens() const override { return specials_; }
  std::string kind() const override { return "sentencepiece"; }

 private:
  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::vector<SpecialToken> specials_;
};

}  // namespace principia::tokenizer
