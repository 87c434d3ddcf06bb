// The dataset record (DESIGN.md §Formats) and its strict parser. One JSONL line is one record:
//   {"id", "principle", "prompt", "responses": {name: text} (2..16, order kept),
//    "scores": {name: number in [1,5]}, "ranking"?: [names best->worst], "domain"?, "category"?,
//    "meta"?: object}
// Decisions (documented in data/README.md):
//   * Unknown top-level keys are rejected with a did-you-mean hint: a typo such as "respones"
//     would otherwise silently drop a field. Extra information belongs in "meta".
//   * Duplicate keys anywhere in the object are rejected (JSON parsers silently keep one of
//     them, so a duplicated response name would lose a candidate).
//   * Every response must have a score; a given ranking must be a permutation of the response
//     names whose scores never increase along it (ties in score may be ordered either way).
//   * Without a ranking, it is derived from the scores: best first, equal scores keep their
//     order in "responses" (a stable sort).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/jsonl.h"

namespace principia::data {

inline constexpr size_t kMinResponses = 2;
inline constexpr size_t kMaxResponses = 16;
inline constexpr double kMinScore = 1.0;
inline constexpr double kMaxScore = 5.0;
inline constexpr uint64_t kDefaultMaxRecordBytes = 4u << 20;  // one JSONL line

struct Record {
  std::string id;
  std::string principle;
  std::string prompt;
  std::vector<std::pair<std::string, std::string>> responses;  // (name, text), file order
  std::vector<double> scores;                                   // gold, aligned with responses
  std::vector<std::string> ranking;                             // names, best -> worst
  std::string domain;                                           // "" when absent
  std::string category;                                         // "" when absent
  ordered_json meta = ordered_json::object();

  size_t size() const { return responses.size(); }
  int index_of(std::string_view name) const;  // -1 when absent
  std::vector<std::string> names() const;
  // Ranking as indices into responses.
  std::vector<int> ranking_indices() const;
};

// What is wrong with a bad record; the kind names are stable (they are counted in reports).
enum class Problem {
  kNotJson,
  kInvalidUtf8,
  kTooLarge,
  kMissingField,
  kWrongType,
  kEmptyField,
  kUnknownField,
  kDuplicateKey,
  kResponseCount,
  kDuplicateName,
  kBadScore,
  kBadRanking,
  kDuplicateId,  // only file-level validation sees this
};
const char* problem_kind(Problem p);  // "not_json", "invalid_utf8", ...

struct RecordProblem {
  Problem kind = Problem::kNotJson;
  std::string reason;  // one line, names the field ("responses.b: ...")
};

struct ParseResult {
  std::optional<Record> record;
  RecordProblem problem;  // meaningful when !record
  bool ok() const { return record.has_value(); }
};

// Parses one JSONL line. Never throws: every problem is returned.
ParseResult parse_record(std::string_view line, uint64_t max_record_bytes = kDefaultMaxRecordBytes);
// Checks an already-built Record the same way (importers and the synthetic task use it).
std::optional<RecordProblem> check_record(const Record& r);
// Like parse_record, but throws principia::Error "where: reason".
Record parse_record_or_throw(std::string_view line, const SourceLocation& where,
                             uint64_t max_record_bytes = kDefaultMaxRecordBytes);

// Best -> worst by score; equal scores keep their order (stable).
std::vector<std::string> ranking_from_scores(
    const std::vector<std::pair<std::string, std::string>>& responses,
    const std::vector<double>& scores);

// The record as JSON (key order as in DESIGN.md; domain/category/meta only when set) and as one
// compact line (no newline).
ordered_json record_to_json(const Record& r);
std::string record_to_line(const Record& r);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF);
// *bad_offset gets the first bad byte.
bool is_valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

}  // namespace principia::data
