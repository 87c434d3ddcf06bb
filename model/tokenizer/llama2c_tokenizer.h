// The llama2.c tokenizer in its vocab.json form (the stories260K `tok512`): entries
// {id, piece, score}, pieces spelled with a plain space, byte tokens `<0xNN>`, <unk> 0, BOS 1,
// EOS 2. encode = llama2.c's `encode`: a dummy-prefix space, one token per code point (byte
// fallback: byte + 3), then repeatedly merge the adjacent pair whose concatenation is a piece with
// the highest score (leftmost on ties). decode = llama2.c's rule: the first piece of the text and
// a piece after BOS lose one leading space; <0xNN> is the raw byte; BOS/EOS print nothing.
#pragma once

#include <string>
#include <unordered_map>

#include "model/tokenizer/tokenizer.h"

namespace principia::tokenizer {

class Llama2cTokenizer : public Tokenizer {
 public:
  // Throws principia::Error naming the file and entry on malformed input.
  explicit Llama2cTokenizer(const std::string& vocab_json_path);

  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos_id() const override { return 1; }
  int32_t eos_id() const override { return 2; }
  const std::vector<SpecialToken>& special_tokens() const override { return specials_; }
  std::string kind() const override { return "llama2c"; }

 private:
  std::string path_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<SpecialToken> specials_;
};

}  // namespace principia::tokenizer
