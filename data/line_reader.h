// Line-by-line reading of a (JSONL) file with byte offsets and line numbers, without parsing.
// A line longer than the limit is skipped over without being held in memory and reported as
// too long, so one giant line cannot exhaust memory. The loader indexes files with the offsets.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace principia::data {

struct RawLine {
  int64_t line_no = 0;    // 1-based
  uint64_t offset = 0;    // byte offset of the line's first byte
  uint64_t length = 0;    // bytes, without the newline (and a trailing '\r')
  bool too_long = false;  // length > max_bytes: `text` is empty
  std::string text;
};

class LineReader {
 public:
  // Throws principia::Error when the file cannot be opened.
  LineReader(const std::string& path, uint64_t max_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  // The next non-blank line; false at end of file. Throws principia::Error on a read error.
  bool next(RawLine& line);
  const std::string& path() const { return path_; }

 private:
  bool fill();
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t max_bytes_;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;  // unread bytes of buf_
  uint64_t file_pos_ = 0;       // file offset of buf_[begin_]
  int64_t line_no_ = 0;
  bool eof_ = false;
};

// Reads `length` bytes at `offset` (pread: safe to call from several threads on one fd).
std::string read_span(int fd, uint64_t offset, uint64_t length, const std::string& path);

}  // namespace principia::data
