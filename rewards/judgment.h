// A parsed judge output (DESIGN.md §Formats "Judgment"): the reasoning, the scores and the
// best-to-worst ranking, plus structured diagnostics of how the parse went. Produced by
// parse_judgment() (judgment_parser.h); consumed by the reward components and the metrics.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace principia::rewards {

// Which stage of the parser produced the JSON body.
enum class ParseStage {
  kNone,               // no JSON object could be read
  kDirect,             // the body (think block and code fences stripped) is strict JSON
  kRepaired,           // the body needed repairs: quotes, bare keys, trailing commas, key typo
  kBracketExtraction,  // last resort: the text from the first '{' to the last '}'
};
const char* parse_stage_name(ParseStage stage);

// Name equality for the hot path: candidate names usually differ in their last character
// ("model-1" vs "model-2"), so checking it first skips most memcmp calls.
inline bool same_name(const std::string& a, const std::string& b) {
  return a.size() == b.size() && (a.empty() || a.back() == b.back()) && a == b;
}

struct ScoreEntry {
  std::string name;
  double value = 0;  // a finite number in [1, 5]
};

struct Judgment {
  // ---- reasoning ----
  bool think_open = false;   // "<think>" present
  bool think_close = false;  // "</think>" present
  std::string reasoning;     // text inside the think block (trimmed); "" unless closed

  // ---- JSON body ----
  ParseStage stage = ParseStage::kNone;
  bool json_parsed = false;              // a top-level JSON object was read
  bool used_bracket_extraction = false;  // ... only by the first-'{'-to-last-'}' fallback
  bool has_scores_key = false;           // "scores" holds an object
  bool has_ranking_key = false;          // "best-to-worst" (or a known spelling) holds an array
  bool ranking_key_typo = false;         // the key was spelled "best-to-worse" or similar

  // Valid scores in first-appearance order (a repeated name keeps its place, last value wins,
  // like Python's dict). Numeric strings are accepted ("4" -> 4).
  std::vector<ScoreEntry> scores;
  std::vector<std::string> ranking;  // string entries of the ranking array, in order

  // ---- diagnostics ----
  std::vector<std::string> invalid_scores;   // names whose value is not a number in [1,5]
  std::vector<std::string> duplicate_score_names;
  std::vector<std::string> duplicate_ranking_names;
  int ranking_non_strings = 0;               // ranking entries that were not strings
  // The ranking lists every name of the scores object (valid or not) exactly once and nothing
  // else. False when either is absent or empty.
  bool ranking_is_permutation = false;
  // For each ranking entry, its index in `scores`, or -1 (unknown name or invalid score).
  std::vector<int> ranking_score_index;

  // The valid score for `name`, or nullptr.
  const double* score_of(const std::string& name) const {
    for (const auto& s : scores)
      if (same_name(s.name, name)) return &s.value;
    return nullptr;
  }
};

// Shown name -> real name ("model-3" -> "gpt-4o"), in the order the judge saw them.
using NameMapping = std::vector<std::pair<std::string, std::string>>;

// Rewrites every candidate name in `judgment` through `mapping`. Names the mapping does not
// know are kept (they then count as unknown candidates against gold).
void remap_names(Judgment& judgment, const NameMapping& mapping);

}  // namespace principia::rewards
