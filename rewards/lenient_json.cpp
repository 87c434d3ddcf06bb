#include "rewards/lenient_json.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace principia::rewards {
namespace {

bool is_bare_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.' || c == '$' || c == '+';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

void LenientJsonReader::skip_ws() {
  while (pos_ < s_.size()) {
    char c = s_[pos_];
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      ++pos_;
    } else {
      break;
    }
  }
}

bool LenientJsonReader::next_item(char close, bool* more) {
  char c = peek();
  if (c == close) {
    ++pos_;
    *more = false;
    return true;
  }
  if (c == ',') {
    ++pos_;
    if (peek() == close) {  // trailing comma
      repaired_ = true;
      ++pos_;
      *more = false;
      return true;
    }
    *more = true;
    return true;
  }
  // A missing comma between two items: accept when another item clearly starts here.
  if (c == '"' || c == '\'' || c == '{' || c == '[' || is_bare_char(c)) {
    repaired_ = true;
    *more = true;
    return true;
  }
  return false;
}

bool LenientJsonReader::read_string(std::string* out) {
  const char quote = s_[pos_];
  if (quote == '\'') repaired_ = true;
  ++pos_;
  if (out) out->clear();
  while (pos_ < s_.size()) {
    char c = s_[pos_];
    if (c == quote) {
      ++pos_;
      return true;
    }
    if (c == '\\') {
      if (pos_ + 1 >= s_.size()) return false;
      char e = s_[pos_ + 1];
      pos_ += 2;
      char plain = 0;
      switch (e) {
        case '"': plain = '"'; break;
        case '\\': plain = '\\'; break;
        case '/': plain = '/'; break;
        case '\'': plain = '\''; repaired_ = repaired_ || quote != '\''; break;
        case 'b': plain = '\b'; break;
        case 'f': plain = '\f'; break;
        case 'n': plain = '\n'; break;
        case 'r': plain = '\r'; break;
        case 't': plain = '\t'; break;
        case 'u': {
          auto read4 = [&](uint32_t* v) {
            if (pos_ + 4 > s_.size()) return false;
            *v = 0;
            for (int i = 0; i < 4; ++i) {
              int h = hex_value(s_[pos_ + i]);
              if (h < 0) return false;
              *v = *v * 16 + static_cast<uint32_t>(h);
            }
            pos_ += 4;
            return true;
          };
          uint32_t cp = 0;
          if (!read4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' &&
              s_[pos_ + 1] == 'u') {
            size_t save = pos_;
            pos_ += 2;
            uint32_t lo = 0;
            if (read4(&lo) && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;  // lone surrogate
          if (out) append_utf8(out, cp);
          continue;
        }
        default:  // unknown escape: keep it as written
          repaired_ = true;
          if (out) {
            out->push_back('\\');
            out->push_back(e);
          }
          continue;
      }
      if (out) out->push_back(plain);
      continue;
    }
    // Copy the run of ordinary characters at once.
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote && s_[pos_] != '\\') {
      if (static_cast<unsigned char>(s_[pos_]) < 0x20) repaired_ = true;  // raw control char
      ++pos_;
    }
    if (out) out->append(s_.data() + start, pos_ - start);
  }
  return false;  // unterminated
}

bool LenientJsonReader::read_bare_word(std::string_view* out) {
  size_t start = pos_;
  while (pos_ < s_.size() && is_bare_char(s_[pos_])) ++pos_;
  if (pos_ == start) return false;
  *out = s_.substr(start, pos_ - start);
  return true;
}

bool LenientJsonReader::read_key(std::string* out) {
  char c = peek();
  if (c == '"' || c == '\'') return read_string(out);
  std::string_view word;
  if (!read_bare_word(&word)) return false;
  repaired_ = true;
  out->assign(word);
  return true;
}

bool LenientJsonReader::read_number(double* out) {
  // Strict JSON grammar first: -?digits(.digits)?([eE][+-]?digits)?
  size_t start = pos_;
  size_t i = pos_;
  auto digits = [&] {
    size_t d = i;
    while (i < s_.size() && s_[i] >= '0' && s_[i] <= '9') ++i;
    return i > d;
  };
  if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) {
    if (s_[i] == '+') repaired_ = true;
    ++i;
  }
  bool int_part = digits();
  bool frac_part = false;
  if (i < s_.size() && s_[i] == '.') {
    ++i;
    frac_part = digits();
    if (!int_part || !frac_part) repaired_ = true;  // ".5" or "5."
  }
  if (!int_part && !frac_part) return false;
  if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
    size_t save = i;
    ++i;
    if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) ++i;
    if (!digits()) i = save;
  }
  const char* first = s_.data() + start;
  if (*first == '+') ++first;
  double v = 0;
  auto [ptr, ec] = std::from_chars(first, s_.data() + i, v);
  if (ec == std::errc::result_out_of_range) {
    v = (*first == '-') ? -std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc()) {
    return false;
  }
  (void)ptr;
  pos_ = i;
  *out = v;
  return true;
}

bool LenientJsonReader::read_scalar(JsonScalar* out) {
  if (failed_) return false;
  char c = peek();
  if (c == '{' || c == '[') {
    skip_container();
    return false;
  }
  if (c == '"' || c == '\'') {
    out->kind = JsonScalar::Kind::kString;
    return read_string(&out->text) || fail();
  }
  if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
    size_t save = pos_;
    if (read_number(&out->number)) {
      out->kind = JsonScalar::Kind::kNumber;
      return true;
    }
    pos_ = save;
  }
  std::string_view word;
  if (!read_bare_word(&word)) return fail();
  if (word == "true" || word == "True") {
    if (word[0] == 'T') repaired_ = true;
    out->kind = JsonScalar::Kind::kBool;
    out->boolean = true;
  } else if (word == "false" || word == "False") {
    if (word[0] == 'F') repaired_ = true;
    out->kind = JsonScalar::Kind::kBool;
    out->boolean = false;
  } else if (word == "null" || word == "None") {
    if (word[0] == 'N') repaired_ = true;
    out->kind = JsonScalar::Kind::kNull;
  } else if (word == "NaN" || word == "Infinity" || word == "-Infinity" || word == "+Infinity") {
    // Python's json accepts these; they parse, and the score check rejects them.
    out->kind = JsonScalar::Kind::kNumber;
    out->number = word == "NaN"        ? std::numeric_limits<double>::quiet_NaN()
                  : word[0] == '-'     ? -std::numeric_limits<double>::infinity()
                                       : std::numeric_limits<double>::infinity();
  } else {
    // An unquoted word used as a string value (e.g. [model-1, model-2]).
    repaired_ = true;
    out->kind = JsonScalar::Kind::kString;
    out->text.assign(word);
  }
  return true;
}

bool LenientJsonReader::skip_container() {
  if (peek() == '{') return read_object([this](const std::string&) { return skip_value(); });
  return read_array([this] { return skip_value(); });
}

bool LenientJsonReader::skip_value() {
  if (failed_) return false;
  char c = peek();
  if (c == '{' || c == '[') return skip_container();
  JsonScalar scalar;
  return read_scalar(&scalar);
}

}  // namespace principia::rewards
