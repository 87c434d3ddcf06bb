// A small, forgiving JSON reader for model outputs. It walks the text once (no backtracking)
// and accepts the mistakes language models make — single-quoted strings, bare keys, trailing or
// missing commas, raw control characters in strings, Python's True/False/None, NaN/Infinity —
// remembering that a repair was needed. Nesting deeper than kMaxDepth fails instead of
// recursing, so any input costs time linear in its length and bounded stack.
//
// It is a pull reader, not a DOM: callers read the parts they need (read_object/read_array with
// a callback per member/element) and skip the rest, so the hot path allocates only the strings
// it keeps.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace principia::rewards {

struct JsonScalar {
  enum class Kind { kNull, kBool, kNumber, kString };
  Kind kind = Kind::kNull;
  double number = 0;   // kNumber (may be NaN or ±inf)
  bool boolean = false;
  std::string text;    // kString (decoded UTF-8)
};

class LenientJsonReader {
 public:
  static constexpr int kMaxDepth = 256;

  explicit LenientJsonReader(std::string_view text) : s_(text) {}

  bool failed() const { return failed_; }
  bool repaired() const { return repaired_; }
  size_t position() const { return pos_; }

  void skip_ws();
  bool at_end() { skip_ws(); return pos_ >= s_.size(); }
  char peek() { skip_ws(); return pos_ < s_.size() ? s_[pos_] : '\0'; }

  // Reads an object. For each member, on_member(key) is called with the reader positioned at
  // the value; it must consume the value (read_* or skip_value) and return false to abort.
  template <class F> bool read_object(F&& on_member);
  // Reads an array; on_element() must consume one value and return false to abort.
  template <class F> bool read_array(F&& on_element);
  // Reads a scalar; fails (without setting failed()) if the value is a container — it is then
  // skipped — returning false.
  bool read_scalar(JsonScalar* out);
  // Consumes any value.
  bool skip_value();

  bool fail() { failed_ = true; return false; }

 private:
  bool read_string(std::string* out);  // at a quote; out may be null
  bool read_key(std::string* out);     // quoted or bare
  bool read_bare_word(std::string_view* out);
  bool read_number(double* out);
  bool skip_container();
  // After a member/element: true when another follows, false at the closing bracket.
  bool next_item(char close, bool* more);

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  bool repaired_ = false;
};

template <class F> bool LenientJsonReader::read_object(F&& on_member) {
  if (failed_ || peek() != '{') return fail();
  if (++depth_ > kMaxDepth) return fail();
  ++pos_;
  std::string key;
  if (peek() == '}') {
    ++pos_;
    --depth_;
    return true;
  }
  while (true) {
    if (!read_key(&key)) return fail();
    if (peek() != ':') return fail();
    ++pos_;
    if (!on_member(static_cast<const std::string&>(key)) || failed_) return fail();
    bool more = false;
    if (!next_item('}', &more)) return fail();
    if (!more) break;
  }
  --depth_;
  return true;
}

template <class F> bool LenientJsonReader::read_array(F&& on_element) {
  if (failed_ || peek() != '[') return fail();
  if (++depth_ > kMaxDepth) return fail();
  ++pos_;
  if (peek() == ']') {
    ++pos_;
    --depth_;
    return true;
  }
  while (true) {
    if (!on_element() || failed_) return fail();
    bool more = false;
    if (!next_item(']', &more)) return fail();
    if (!more) break;
  }
  --depth_;
  return true;
}

}  // namespace principia::rewards
