// Reading the JSONL lines `principia score` and `principia consensus` take, and writing
// consensus records. Only the fields these commands need are read (the full dataset schema
// and its validation live in data/). Every problem is a principia::Error naming `where`
// (file:line) and the field.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "core/jsonl.h"
#include "rewards/consensus.h"
#include "rewards/gold.h"
#include "rewards/judgment.h"

namespace principia::rewards {

// A dataset record (DESIGN.md §Formats): id, responses {name: text} (order kept), scores
// {name: number in [1,5]} for every response, domain?, category?. Without `responses`, the
// candidates are the names in `scores`.
struct GoldRecord {
  std::string id;
  Gold gold;
};
GoldRecord gold_from_json(const ordered_json& record, const SourceLocation& where);

// A judgments line: {"id", "output", "mapping"?: {shown: real}}.
struct JudgmentLine {
  std::string id;
  std::string output;
  NameMapping mapping;
};
JudgmentLine judgment_line_from_json(const ordered_json& line, const SourceLocation& where);

// A consensus input line: the item's own fields (id, principle, prompt, responses, domain,
// category, meta, ...) plus `judges`: [{"name"?, "scores": {name: number}, "ranking"?: [names]}].
// Candidates: the `responses` names, else every name the judges mention (first-seen order).
struct ConsensusItem {
  ordered_json fields;  // the line without `judges` (and without any old scores/ranking)
  std::vector<std::string> candidates;
  std::vector<JudgeOpinion> judges;
};
ConsensusItem consensus_item_from_json(const ordered_json& line, const SourceLocation& where);

// The output record: the item's fields with `responses` limited to the kept names, consensus
// `scores` and `ranking`, and an `agreement` object.
ordered_json consensus_record(const ConsensusItem& item, const ConsensusResult& result,
                              const ConsensusOptions& options);

}  // namespace principia::rewards
