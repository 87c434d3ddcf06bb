#include "data/record_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "data/h5_store.h"
#include "data/line_reader.h"
#include "core/text.h"

namespace principia::data {

JsonlSource::JsonlSource(const std::string& path, const SourceOptions& options)
    : path_(path), max_record_bytes_(options.read.max_record_bytes) {
  read_records_checked(path, options.read, options.skip_bad, options.max_errors,
                       [&](Record&&, const LinePosition& at) {
                         offsets_.push_back(at.offset);
                         lengths_.push_back(static_cast<uint32_t>(at.length));
                         lines_.push_back(at.line_no);
                       });
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(path + ": cannot open for reading: " + std::strerror(errno));
}

JsonlSource::~JsonlSource() {
  if (fd_ >= 0) ::close(fd_);
}

Record JsonlSource::get(int64_t i) const {
  if (i < 0 || i >= size())
    throw Error(path_ + ": record index " + std::to_string(i) + " out of range (" +
                std::to_string(size()) + " records)");
  size_t k = static_cast<size_t>(i);
  std::string text = read_span(fd_, offsets_[k], lengths_[k], path_);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return parse_record_or_throw(text, {path_, static_cast<int>(lines_[k]), 0}, max_record_bytes_);
}

std::unique_ptr<RecordSource> open_record_source(const std::string& path,
                                                 const SourceOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  char magic[8] = {};
  in.read(magic, 8);
  static const char kHdf5Magic[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  bool h5_name = path.size() > 3 && (path.ends_with(".h5") || path.ends_with(".hdf5"));
  if (h5_name || (in.gcount() == 8 && std::memcmp(magic, kHdf5Magic, 8) == 0))
    return std::make_unique<H5Source>(path);
  return std::make_unique<JsonlSource>(path, options);
}

}  // namespace principia::data
