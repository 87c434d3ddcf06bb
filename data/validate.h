// Reading record files: every line checked, bad records reported with file:line and a reason,
// then either skipped and counted (--skip-bad) or turned into one Error listing the first few.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/jsonl.h"
#include "data/record.h"

namespace principia::data {

// Where a good record sits in its file (the loader indexes files with it).
struct LinePosition {
  int64_t line_no = 0;  // 1-based
  uint64_t offset = 0;  // byte offset of the line
  uint64_t length = 0;  // bytes, without the newline
};
using RecordCallback = std::function<void(Record&&, const LinePosition&)>;

struct ReadOptions {
  uint64_t max_record_bytes = kDefaultMaxRecordBytes;
  bool check_duplicate_ids = true;  // costs memory O(number of ids); validate/pack use it
};

struct ReadSummary {
  int64_t good = 0;
  int64_t bad = 0;
  BadLineReport report;  // "file:line: reason" for the first problems, counts by kind
  explicit ReadSummary(size_t keep_first = 20) : report(keep_first) {}
};

// Calls fn(record, position) for every good record, in file order. Bad records are added
// to `summary` (never thrown); the caller decides whether that is fatal.
void for_each_record(const std::string& path, const ReadOptions& options, ReadSummary& summary,
                     const RecordCallback& fn);

// for_each_record, then: with skip_bad, bad records are logged as a warning summary; without,
// any bad record throws principia::Error with the summary. Returns the number of good records.
int64_t read_records_checked(const std::string& path, const ReadOptions& options, bool skip_bad,
                             size_t max_errors, const RecordCallback& fn);

}  // namespace principia::data
