#include "data/validate.h"

#include <unordered_map>

#include "core/error.h"
#include "core/log.h"
#include "data/line_reader.h"

namespace principia::data {

void for_each_record(const std::string& path, const ReadOptions& options, ReadSummary& summary,
                     const RecordCallback& fn) {
  LineReader reader(path, options.max_record_bytes);
  std::unordered_map<std::string, int64_t> first_line_of_id;
  RawLine line;
  while (reader.next(line)) {
    auto bad = [&](Problem kind, const std::string& reason) {
      ++summary.bad;
      summary.report.add(path, line.line_no, problem_kind(kind), reason);
    };
    if (line.too_long) {
      bad(Problem::kTooLarge, "record is " + std::to_string(line.length) +
                                  " bytes, over the limit of " +
                                  std::to_string(options.max_record_bytes));
      continue;
    }
    ParseResult res = parse_record(line.text, options.max_record_bytes);
    if (!res.ok()) {
      bad(res.problem.kind, res.problem.reason);
      continue;
    }
    if (options.check_duplicate_ids) {
      auto [it, inserted] = first_line_of_id.emplace(res.record->id, line.line_no);
      if (!inserted) {
        bad(Problem::kDuplicateId, "id \"" + res.record->id + "\" was already used on line " +
                                       std::to_string(it->second));
        continue;
      }
    }
    ++summary.good;
    fn(std::move(*res.record), LinePosition{line.line_no, line.offset, line.length});
  }
}

int64_t read_records_checked(const std::string& path, const ReadOptions& options, bool skip_bad,
                             size_t max_errors, const RecordCallback& fn) {
  ReadSummary summary(max_errors);
  for_each_record(path, options, summary, fn);
  if (summary.bad > 0) {
    if (!skip_bad)
      throw Error(path + ": " + std::to_string(summary.bad) +
                  " bad record(s) (use --skip-bad / data.skip_bad to skip them):\n" +
                  summary.report.summary());
    log::warn(path, ": skipped ", summary.bad, " bad record(s); ", summary.report.summary());
  }
  if (summary.good == 0) throw Error(path + ": no valid records");
  return summary.good;
}

}  // namespace principia::data
