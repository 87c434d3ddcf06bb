#include "data/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace principia::data {

LineReader::LineReader(const std::string& path, uint64_t max_bytes)
    : path_(path), max_bytes_(max_bytes), buf_(1 << 20) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw Error(path + ": cannot open for reading: " + std::strerror(errno));
}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // keep the unread tail at the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_);
  if (n == 0) {
    if (std::ferror(file_)) throw Error(path_ + ": read error after line " + std::to_string(line_no_));
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::next(RawLine& line) {
  for (;;) {
    line.line_no = ++line_no_;
    line.offset = file_pos_;
    line.text.clear();
    line.too_long = false;
    uint64_t length = 0;
    bool found_newline = false;
    for (;;) {
      const char* start = buf_.data() + begin_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
      size_t take = nl ? size_t(nl - start) : end_ - begin_;
      if (!line.too_long && length + take > max_bytes_ + 1) {  // +1: a possible '\r'
        line.too_long = true;
        line.text.clear();
        line.text.shrink_to_fit();
      }
      if (!line.too_long) line.text.append(start, take);
      length += take;
      begin_ += take;
      file_pos_ += take;
      if (nl) {
        ++begin_;
        ++file_pos_;
        found_newline = true;
        break;
      }
      if (!line.too_long && line.text.size() > max_bytes_ + 1) line.too_long = true;
      begin_ = end_ = 0;
      if (!fill()) break;
    }
    if (!found_newline && length == 0) {  // end of file
      --line_no_;
      return false;
    }
    if (!line.too_long && !line.text.empty() && line.text.back() == '\r') {
      line.text.pop_back();
      --length;
    }
    line.length = length;
    if (!line.too_long && length > max_bytes_) {
      line.too_long = true;
      line.text.clear();
    }
    if (line.too_long) return true;
    if (line.text.find_first_not_of(" \t") == std::string::npos) continue;  // blank
    return true;
  }
}

std::string read_span(int fd, uint64_t offset, uint64_t length, const std::string& path) {
  std::string out(length, '\0');
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(path + ": cannot read " + std::to_string(length) + " bytes at offset " +
                  std::to_string(offset) + " (file changed or truncated?)");
    done += uint64_t(n);
  }
  return out;
}

}  // namespace principia::data
