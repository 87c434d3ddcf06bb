// The synthetic principle-following task: tiny texts, a closed vocabulary and programmatic gold,
// so that a ~1-3M-parameter judge can learn it on a CPU in minutes.
//
// Every principle names one countable ATTRIBUTE of a response and a POLARITY ("more" is better
// or "fewer" is better). Ten attributes, two per dimension:
//   content:   topic (mentions of the prompt's last word), numbers (digit tokens)
//   structure: list (list markers "-"), length (words, binned)
//   logic:     reasons (because/since), steps (first/then/next/finally)
//   style:     exclaim ("!" marks), emphasis (very/really/truly)
//   tone:      polite (please/thanks/kindly), hedge (maybe/perhaps/probably)
// The attribute's level L in 0..4 is counted from the TEXT (count, capped at 4; length is binned
// <=4, 5-7, 8-10, 11-13, >=14 words); gold score = 1 + L for "more", 5 - L for "fewer".
//
// Candidates of one item take DISTINCT levels of the principle's attribute (no ties) and, as a
// decoy, distinct levels of a second attribute in an independent order: the same candidates rank
// differently under the two principles, so the judge must read the principle. Other attributes
// stay at 0 or 1 at random.
//
// Split by principle: one (attribute, polarity) pair per dimension is held out for evaluation
// (kHeldOut). Each held-out attribute is trained under the opposite polarity, and each polarity
// word is trained with other attributes, so held-out principles are new combinations of known
// parts. Principle sentences come from several templates ("prefer answers with fewer X", ...).
//
// Everything is a pure function of (seed, split, index): rng = derive(seed, {split, index}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/record.h"

namespace principia::data {

enum class SynthSplit { kTrain, kEval, kAll };
SynthSplit parse_synth_split(std::string_view name);  // throws principia::Error
const char* synth_split_name(SynthSplit s);

struct SynthOptions {
  int64_t n = 1000;
  uint64_t seed = 0;
  int candidates = 3;  // 2..5 (levels are distinct among five)
  SynthSplit split = SynthSplit::kTrain;
  int64_t first_index = 0;  // items first_index .. first_index + n - 1
  // A weak SFT teacher: with this probability per item, meta.teacher_scores holds a LENIENT
  // teacher's scores (every score below 3 raised to 3: the low candidates tie), else the gold
  // scores. 0 writes no teacher_scores. The items themselves (and the gold) do not change; the
  // SFT target follows the teacher, GRPO's reward the gold (README, "SFT from a weak teacher").
  double lenient_teacher_rate = 0.0;
};

struct SynthPrinciple {
  std::string id;         // "style.exclaim.fewer"
  std::string dimension;  // "style"
  int attribute = 0;      // index into synth_attributes()
  bool more = true;       // polarity
  bool held_out = false;  // eval split
};

// The 10 attribute names in order ("topic", "numbers", ...), and the 20 principles.
const std::vector<std::string>& synth_attributes();
const std::vector<SynthPrinciple>& synth_principles();
// Principles of one split (kAll: all of them).
std::vector<SynthPrinciple> synth_principles(SynthSplit split);
const SynthPrinciple& synth_principle(std::string_view id);  // throws principia::Error

// The attribute's level (0..4) of `response` for a prompt (topic = the prompt's last word).
int synth_level(int attribute, std::string_view prompt, std::string_view response);
// The units the level counts, as they appear in `response` (at most 4; empty for length, whose
// words are counted rather than quoted): the SFT rationale quotes them so that counting becomes
// copying and then counting a short local list.
std::vector<std::string> synth_evidence(int attribute, std::string_view prompt,
                                        std::string_view response);
// The gold score (1..5) of `response` under a principle.
int synth_score(const SynthPrinciple& p, std::string_view prompt, std::string_view response);

// The lenient teacher's score for a gold score: low scores are raised to 3.
double lenient_teacher_score(double gold);

// Item `index` of the task (index < n is not required: any index gives a valid item).
Record synth_record(const SynthOptions& options, int64_t index);
// Writes options.n records as JSONL (atomically). Returns the number written.
int64_t write_synth_jsonl(const SynthOptions& options, const std::string& path);

// Every word the generator can emit (principles, prompts, responses), for tokenizer training and
// tests of the vocabulary size.
std::vector<std::string> synth_vocabulary();

}  // namespace principia::data
