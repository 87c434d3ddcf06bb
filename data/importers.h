// Importers: real judge datasets in their published shapes -> dataset records.
//
// * prometheus (Prometheus absolute-grading sets such as mt_bench_eval.json): rows grouped by
//   `idx` (one prompt, several responders). principle = the rubric between "###Score Rubrics:"
//   and "###Feedback:"; prompt = the "###The instruction to evaluate:" section; response = the
//   "###Response to evaluate:" section; names = `response_source`. Each of the G gpt4_score
//   columns is one judge; gold = the rewards consensus builder (Kemeny: exact, every pair by the judges;
//   mean scores made monotone along it). meta keeps the raw scores, the reference answer and
//   the agreement statistics.
// * rmbench (RM-Bench: {id, subset, prompt, chosen[3], rejected[3], error_key, error}): one
//   6-candidate item under a correctness principle. Gold: every chosen response 5, every
//   rejected one 1 — RM-Bench orders chosen above rejected but gives no order inside a group
//   (the three are style variants: concise, detailed plain, detailed markdown), so scores tie
//   inside a group and the derived ranking keeps the file order there.
// * rmb (RMB best-of-N: {"bon_uid", "conversation_input", "bon_best": {"llm_name", "answer"},
//   "loser_list": [{"llm_name", "answer"}], "category_path"?}; a JSON array or JSONL):
//   conversation_input is a string or a list of {"role", "content"} turns (a single user turn
//   becomes the prompt as is; several are rendered "User: ...\n\nAssistant: ..."). Gold: best 5,
//   each loser 1. A repeated llm_name gets a "#2" suffix; more than 15 losers keep the first 15
//   (meta.losers_dropped counts the rest). The principle depends on the category path's top
//   level (Harmlessness -> a safety principle, else helpfulness).
// Pairwise shapes, each row one two-candidate item (gold: chosen 5, rejected 1), picked by the
// first item's keys under the same format names:
// * prometheus pairwise ({"chosen_instruction", "rejected_instruction", ...}: the absolute-grading
//   instruction rendered with the chosen and with the rejected response): principle, prompt and
//   the two responses are read from the sections as above (a response ends at the next "###"
//   header); both instructions must share rubric and prompt. Names: chosen, rejected.
// * rmb pairwise ({"pair_uid", "conversation_input", "chosen": {"llm_name", "answer"},
//   "reject": {...}, "category_path"?}): prompt and principle as for best-of-N.
// Malformed input is a principia::Error naming the file, the item and the key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/jsonl.h"
#include "data/record.h"

namespace principia::data {

enum class ImportFormat { kPrometheus, kRmBench, kRmb };
ImportFormat parse_import_format(std::string_view name);  // throws principia::Error

extern const char* const kRmBenchPrinciple;
extern const char* const kRmbHelpfulPrinciple;
extern const char* const kRmbHarmlessPrinciple;

std::vector<Record> import_prometheus(const ordered_json& rows, const std::string& origin);
std::vector<Record> import_rmbench(const ordered_json& items, const std::string& origin);
std::vector<Record> import_rmb_bon(const ordered_json& items, const std::string& origin);
std::vector<Record> import_prometheus_pairwise(const ordered_json& rows, const std::string& origin);
std::vector<Record> import_rmb_pairwise(const ordered_json& items, const std::string& origin);

// Reads IN (a JSON array; rmb also accepts JSONL), converts, checks every record with
// check_record, writes OUT atomically. Returns the number of records written.
int64_t import_file(ImportFormat format, const std::string& in, const std::string& out);

}  // namespace principia::data
