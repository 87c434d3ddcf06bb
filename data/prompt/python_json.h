// JSON text exactly as Python's `json.dumps(obj, ensure_ascii=False)` writes it: separators ", "
// and ": ", object keys in their stored order, non-ASCII characters (U+2028, DEL, emoji...) kept
// as they are, and only these escaped: \" \\ \n \r \t \b \f, other characters below U+0020 as
// \u00XX with lower-case hex. The RewardAnything judge reads user messages in this form.
#pragma once

#include <string>
#include <string_view>

#include "core/jsonl.h"

namespace principia::prompt {

// Appends the quoted string literal. Throws principia::Error on invalid UTF-8 (a Python str
// cannot hold it, so there is no reference output to match).
void append_python_json_string(std::string& out, std::string_view s);
// Strings, numbers, booleans, null, arrays and objects (key order kept).
std::string python_json_dumps(const ordered_json& value);

}  // namespace principia::prompt
