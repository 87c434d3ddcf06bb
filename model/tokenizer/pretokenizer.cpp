#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/tokenizer/pretokenizer.h"

#include <pcre2.h>

#include "core/error.h"

namespace principia::tokenizer {

namespace {
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kCl100k =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
const char* const kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}
}  // namespace

std::string named_pretokenizer_pattern(std::string_view name) {
  if (name == "qwen2" || name == "qwen3" || name == "qwen") return kQwen2;
  if (name == "llama3") return kLlama3;
  if (name == "cl100k" || name == "cl100k_base") return kCl100k;
  if (name == "gpt2") return kGpt2;
  return "";
}

std::vector<std::string> pretokenizer_pattern_names() {
  return {"qwen2", "llama3", "cl100k", "gpt2"};
}

struct Pretokenizer::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Pretokenizer::Pretokenizer(const std::string& pattern, const std::string& origin)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  // MATCH_INVALID_UTF: invalid UTF-8 in the subject is never matched instead of being an error,
  // which is what makes byte-level encoding lossless on arbitrary bytes.
  impl_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (!impl_->code)
    throw Error(origin + ": pre-tokenizer regex does not compile at offset " +
                std::to_string(offset) + ": " + pcre2_message(err));
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Pretokenizer::~Pretokenizer() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Pretokenizer::split(std::string_view text, std::vector<std::string_view>* out) const {
  if (text.empty()) return;
  // Match data is per call so one tokenizer can be used from several threads.
  thread_local struct MatchData {
    pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
    ~MatchData() { pcre2_match_data_free(md); }
  } tl;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  size_t gap = 0;  // start of text not covered by a match yet
  while (pos < text.size()) {
    const int rc = impl_->jit
                       ? pcre2_jit_match(impl_->code, subject, text.size(), pos, 0, tl.md, nullptr)
                       : pcre2_match(impl_->code, subject, text.size(), pos, 0, tl.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) throw Error("pre-tokenizer regex failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(tl.md);
    const size_t start = ov[0], end = ov[1];
    if (start > gap) out->push_back(text.substr(gap, start - gap));
    if (end > start) {
      out->push_back(text.substr(start, end - start));
      pos = gap = end;
    } else {
      // An empty match (none of the named patterns can produce one): step one byte, keep gap.
      pos = start + 1;
      gap = start;
    }
  }
  if (gap < text.size()) out->push_back(text.substr(gap));
}

}  // namespace principia::tokenizer
