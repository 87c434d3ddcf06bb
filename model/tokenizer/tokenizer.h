// One tokenizer interface over the model families principia trains: SentencePiece `.model`
// files (Llama-2 / Mistral / Gemma, and the demo's own trained model), Hugging Face byte-level
// BPE (`tokenizer.json`: Qwen2/Qwen3, Llama-3, DeepSeek), tiktoken rank files (`*.tiktoken`) and
// the llama2.c-style `vocab.json` of the tiny stories models.
//
// Text is UTF-8 bytes in std::string. Invalid UTF-8 is handled per implementation, decided so
// that nothing crashes and the byte-level models stay lossless:
//   * byte-level BPE / tiktoken: encode() is lossless on ANY bytes. A maximal run of bytes that is
//     not valid UTF-8 matches no pre-tokenizer rule and becomes its own pre-token, encoded through
//     the 256 byte tokens (merged where the ranks allow). decode() concatenates token bytes as they
//     are (no U+FFFD replacement), so decode(encode(x)) == x for every byte string x, and ids that
//     end mid-character decode to a partial UTF-8 sequence (streaming callers join pieces).
//   * SentencePiece and llama2.c vocab: encode() first replaces each invalid byte with U+FFFD
//     (what libsentencepiece does itself), so decode(encode(x)) == x only for valid UTF-8 x.
//     decode() of byte-fallback pieces that do not form valid UTF-8 yields U+FFFD per bad byte
//     (SentencePiece) and raw bytes (llama2.c vocab, as llama2.c prints them).
// Out-of-range ids in decode() throw principia::Error for every implementation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace principia::tokenizer {

// A special or added token: its literal text and id. encode_with_specials() splits these out.
struct SpecialToken {
  std::string text;
  int32_t id = -1;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Ordinary text -> ids. Special-token text ("<|im_end|>") is encoded as plain text, never as the
  // special id: user content cannot inject control tokens. add_bos prepends bos_id() when present.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos = false) const = 0;
  // ids -> text bytes (see the invalid-UTF-8 notes above). Special tokens decode to their text,
  // except SentencePiece control tokens (<s>, </s>), which decode to nothing as in sentencepiece.
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;

  // Piece/token string <-> id in the model's own spelling (SentencePiece "▁the", byte-level BPE
  // "Ġthe", tiktoken/llama2.c raw bytes). token_to_id: nullopt when absent; id_to_token throws.
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const { return -1; }  // -1: the model has none
  virtual int32_t eos_id() const { return -1; }
  virtual int32_t pad_id() const { return -1; }

  // Registered special/added tokens, longest text first (the order the splitter tries them).
  virtual const std::vector<SpecialToken>& special_tokens() const = 0;
  std::optional<int32_t> special_id(std::string_view text) const;

  // Like encode(), but occurrences of registered special tokens in `text` become their ids.
  // Chat templates use this: "<|im_start|>user\n...<|im_end|>\n" -> [151644, ..., 151645, 198].
  virtual std::vector<int32_t> encode_with_specials(std::string_view text,
                                                    bool add_bos = false) const;

  // "sentencepiece", "bpe" (tokenizer.json), "tiktoken", "llama2c".
  virtual std::string kind() const = 0;
};

// Splits `text` into plain segments and special-token hits (id >= 0), leftmost-longest first.
struct TextSegment {
  std::string_view text;
  int32_t special = -1;
};
std::vector<TextSegment> split_specials(std::string_view text,
                                        const std::vector<SpecialToken>& specials);

struct LoadOptions {
  // For *.tiktoken files: pre-tokenizer pattern name (qwen2, llama3, cl100k, gpt2) when no
  // special_tokens.json sits beside the file and the name cannot be inferred from the file name.
  std::string tiktoken_pattern;
};

// A tokenizer file, or a model directory holding one of (first found wins): tokenizer.model,
// tokenizer.json, *.tiktoken, vocab.json (llama2.c format). Throws principia::Error naming the
// file and what is wrong when it is missing, corrupt or of an unsupported kind.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const LoadOptions& options = {});

}  // namespace principia::tokenizer
