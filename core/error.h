// principia::Error — every user-facing failure (bad config, data, model file, model output).
// The CLI catches it, prints what() as one line and exits with kUserErrorExit.
#pragma once

#include <stdexcept>
#include <string>

namespace principia {

inline constexpr int kUserErrorExit = 2;

// Where something came from: "file:line:col" (any part may be missing).
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based; 0 = unknown
  std::string str() const;
  bool known() const { return !file.empty() || line > 0; }
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // "<where>: <key_path>: <message>", omitting empty parts.
  Error(const SourceLocation& where, const std::string& key_path, const std::string& message);
};

}  // namespace principia
