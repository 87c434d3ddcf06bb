// JSONL input with file:line diagnostics. Each line is parsed independently; a bad line is
// reported with its number instead of aborting the whole read. Objects keep their key order.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace principia {

using ordered_json = nlohmann::ordered_json;

struct JsonlLine {
  int64_t line_no = 0;     // 1-based
  std::string text;        // raw line (without the newline)
  ordered_json value;      // valid when error is empty
  std::string error;       // non-empty when the line is not one JSON value
};

class JsonlReader {
 public:
  // Throws principia::Error if the file cannot be opened. max_line_bytes guards memory.
  explicit JsonlReader(const std::string& path, size_t max_line_bytes = 64u << 20);
  // Next non-blank line; nullopt at end of file.
  std::optional<JsonlLine> next();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  int64_t line_no_ = 0;
  size_t max_line_bytes_;
};

// Counts and remembers bad lines for `--skip-bad` summaries or fail-fast errors.
class BadLineReport {
 public:
  explicit BadLineReport(size_t keep_first = 20) : keep_first_(keep_first) {}
  void add(const std::string& file, int64_t line, const std::string& kind, const std::string& why);
  size_t count() const { return count_; }
  // "file:line: why" for the first problems, then counts by kind.
  std::string summary() const;

 private:
  size_t keep_first_;
  size_t count_ = 0;
  std::vector<std::string> first_;
  std::vector<std::pair<std::string, size_t>> by_kind_;
};

// Reads a whole JSON document with a clear error naming the file.
ordered_json read_json_file(const std::string& path);

}  // namespace principia
