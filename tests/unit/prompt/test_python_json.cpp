#include <gtest/gtest.h>

#include "core/error.h"
#include "data/prompt/python_json.h"

namespace principia::prompt {
namespace {

std::string lit(std::string_view s) {
  std::string out;
  append_python_json_string(out, s);
  return out;
}

TEST(PromptPythonJson, EscapesLikeJsonDumpsEnsureAsciiFalse) {
  EXPECT_EQ(lit("plain"), "\"plain\"");
  EXPECT_EQ(lit("q\"b\\"), "\"q\\\"b\\\\\"");
  EXPECT_EQ(lit("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(lit(std::string("\x01\x1f\x0b", 3)), "\"\\u0001\\u001f\\u000b\"");
  EXPECT_EQ(lit(std::string(1, '\0')), "\"\\u0000\"");
  EXPECT_EQ(lit("\x7f"), "\"\x7f\"");                    // DEL kept
  EXPECT_EQ(lit("\xE2\x80\xA8"), "\"\xE2\x80\xA8\"");    // U+2028 kept
  EXPECT_EQ(lit("café 中文 🚀 /"), "\"café 中文 🚀 /\"");  // no escaping of / or non-ASCII
  EXPECT_THROW(lit("\xff"), Error);
}

TEST(PromptPythonJson, SeparatorsAndKeyOrder) {
  ordered_json j = ordered_json::object();
  j["z"] = 1;
  j["a"] = ordered_json::array({true, nullptr, "x", 2.5});
  j["m"] = ordered_json::object();
  EXPECT_EQ(python_json_dumps(j), R"({"z": 1, "a": [true, null, "x", 2.5], "m": {}})");
  EXPECT_EQ(python_json_dumps(ordered_json::array()), "[]");
}

}  // namespace
}  // namespace principia::prompt
