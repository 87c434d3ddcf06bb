// Byte-level BPE: Hugging Face `tokenizer.json` (model BPE + ByteLevel) and tiktoken rank files.
//
// encode(text): [NFC if the normalizer says so] -> [prefix space if ByteLevel.add_prefix_space]
// -> regex pre-tokens (one or more Split patterns applied in turn) -> per pre-token: the whole
// pre-token when it is already a token (tiktoken always; HF when `ignore_merges`), else start from
// its bytes' tokens and repeatedly merge the adjacent pair with the lowest rank (leftmost on ties).
// Ranks: tiktoken = the rank of the concatenated token; HF = the index of the pair in `merges`.
// Repeated pre-tokens come from a bounded cache. Invalid UTF-8: see tokenizer.h.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/tokenizer/flat_hash.h"
#include "model/tokenizer/pretokenizer.h"
#include "model/tokenizer/tokenizer.h"

namespace principia::tokenizer {

// Everything a byte-level BPE model is, independent of the file it came from.
struct BpeSpec {
  std::string kind = "bpe";              // "bpe" (tokenizer.json) | "tiktoken"
  std::string origin;                    // the file, for error messages
  std::vector<std::string> token_bytes;  // id -> raw bytes ("" = no token with this id)
  std::vector<std::string> token_names;  // id -> model spelling; empty: same as token_bytes
  // HF: merges in rank order as (left id, right id). Empty with merges_from_ranks (tiktoken):
  // every split of a token into two tokens is a merge whose rank is the token's id.
  std::vector<std::pair<int32_t, int32_t>> merges;
  bool merges_from_ranks = false;
  bool whole_token_first = false;           // tiktoken; HF `ignore_merges`
  std::vector<std::string> split_patterns;  // applied in turn; empty: no regex split
  bool nfc = false;
  bool add_prefix_space = false;
  std::vector<SpecialToken> added;  // added/special tokens (ids may lie inside the vocab)
  int32_t bos = -1, eos = -1, pad = -1;
};

class BpeTokenizer : public Tokenizer {
 public:
  // Validates the spec (every byte has a token, merges refer to tokens); throws principia::Error.
  explicit BpeTokenizer(BpeSpec spec);

  std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.token_bytes.size()); }
  int32_t bos_id() const override { return spec_.bos; }
  int32_t eos_id() const override { return spec_.eos; }
  int32_t pad_id() const override { return spec_.pad; }
  const std::vector<SpecialToken>& special_tokens() const override { return specials_; }
  std::string kind() const override { return spec_.kind; }

  // Appends the ids of ordinary text (no BOS, no special splitting) to *out.
  void encode_ordinary(std::string_view text, std::vector<int32_t>* out) const;
  // The BPE of one pre-token (exposed for tests and the benchmark).
  void encode_pretoken(std::string_view piece, std::vector<int32_t>* out) const;
  // Empties the pre-token cache (the benchmark measures cold passes).
  void clear_cache() const;

 private:
  void merge_short(std::string_view piece, std::vector<int32_t>* out) const;
  void merge_long(std::string_view piece, std::vector<int32_t>* out) const;

  BpeSpec spec_;
  std::vector<SpecialToken> specials_;  // longest first
  BytesIndex bytes_to_id_;
  BytesIndex name_to_id_;  // HF spelling (only when token_names is set)
  PairIndex pairs_;
  int32_t byte_token_[256];
  std::vector<std::unique_ptr<Pretokenizer>> splitters_;

  // Pre-token -> ids cache, shared by threads under a mutex; cleared when it grows too large.
  mutable std::mutex cache_mutex_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return hash_bytes(s); }
  };
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

// The GPT-2 byte <-> printable-unicode map used by byte-level tokenizer.json vocabularies.
// byte_to_unicode()[b] is the UTF-8 of the code point that stands for byte b.
const std::vector<std::string>& byte_to_unicode();
// Inverse: maps a tokenizer.json token spelling back to bytes; false if a character is not in
// the map (then the token is not a byte-level token).
bool unicode_to_bytes(std::string_view token, std::string* bytes);

}  // namespace principia::tokenizer
