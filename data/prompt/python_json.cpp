#include "data/prompt/python_json.h"

#include <cstdio>

#include "core/error.h"
#include "model/tokenizer/utf8.h"

namespace principia::prompt {

void append_python_json_string(std::string& out, std::string_view s) {
  if (!tokenizer::is_valid_utf8(s))
    throw Error("text is not valid UTF-8, cannot render it as JSON");
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // bytes >= 0x80 are kept: ensure_ascii=False
        }
    }
  }
  out += '"';
}

namespace {
void dump(std::string& out, const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::string:
      append_python_json_string(out, v.get_ref<const std::string&>());
      break;
    case ordered_json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        append_python_json_string(out, key);
        out += ": ";
        dump(out, item);
      }
      out += '}';
      break;
    }
    case ordered_json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v) {
        if (!first) out += ", ";
        first = false;
        dump(out, item);
      }
      out += ']';
      break;
    }
    case ordered_json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case ordered_json::value_t::null:
      out += "null";
      break;
    default:
      // Integers print alike; floats: nlohmann writes the shortest round-trip form as repr does.
      out += v.dump();
  }
}
}  // namespace

std::string python_json_dumps(const ordered_json& value) {
  std::string out;
  dump(out, value);
  return out;
}

}  // namespace principia::prompt
