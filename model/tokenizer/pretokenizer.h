// Regex pre-tokenization for byte-level BPE (PCRE2, UTF + Unicode properties, JIT-compiled).
// Splits text into pre-tokens the way Hugging Face's `Split(behavior=Isolated)` and tiktoken's
// find_iter do: every match is a pre-token; text between matches (only invalid UTF-8 with the
// patterns below, which cover all valid text) becomes a pre-token of its own.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace principia::tokenizer {

// Named patterns. qwen2: Qwen/Qwen2/Qwen3 (\p{N} one digit at a time); llama3: Llama-3
// (\p{N}{1,3}); cl100k: tiktoken cl100k_base; gpt2: the GPT-2 / HF ByteLevel(use_regex) pattern.
// Returns "" for an unknown name.
std::string named_pretokenizer_pattern(std::string_view name);
std::vector<std::string> pretokenizer_pattern_names();

class Pretokenizer {
 public:
  // Throws principia::Error (with `origin` in the message) when the pattern does not compile.
  Pretokenizer(const std::string& pattern, const std::string& origin);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // Appends the pre-tokens of `text` (views into it) to *out, in order; they tile `text`.
  void split(std::string_view text, std::vector<std::string_view>* out) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace principia::tokenizer
