// Random access to the records of a dataset file by index, without holding the texts in memory:
// a JSONL file is indexed once (byte offset + length of every good line, 16 bytes a record) and
// each get() reads and parses one line; an HDF5 store (h5_store.h) reads one record's slices.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/record.h"
#include "data/validate.h"

namespace principia::data {

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual int64_t size() const = 0;
  // Record i (0 <= i < size()). Throws principia::Error naming the file on a read problem.
  // Safe to call from one thread at a time per source (the loader's prefetch thread).
  virtual Record get(int64_t i) const = 0;
  // The rendered judge prompt's token length stored with record i, when the format keeps it.
  virtual std::optional<int64_t> stored_prompt_tokens(int64_t) const { return std::nullopt; }
  virtual const std::string& path() const = 0;
};

struct SourceOptions {
  ReadOptions read;
  bool skip_bad = false;  // JSONL: bad records are skipped (and logged) instead of failing
  size_t max_errors = 20;
};

class JsonlSource : public RecordSource {
 public:
  JsonlSource(const std::string& path, const SourceOptions& options = {});
  ~JsonlSource() override;
  int64_t size() const override { return static_cast<int64_t>(offsets_.size()); }
  Record get(int64_t i) const override;
  const std::string& path() const override { return path_; }
  int64_t line_of(int64_t i) const { return lines_[static_cast<size_t>(i)]; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t max_record_bytes_;
  std::vector<uint64_t> offsets_;
  std::vector<uint32_t> lengths_;
  std::vector<int64_t> lines_;
};

// A JSONL file or an HDF5 store (.h5 / .hdf5), chosen by the file's first bytes.
std::unique_ptr<RecordSource> open_record_source(const std::string& path,
                                                 const SourceOptions& options = {});

}  // namespace principia::data
