// parse_judgment: model output text -> Judgment. Never throws; time linear in the input.
//
// Stages (DESIGN.md §Formats, matching the reference RewardAnything parser on parse_cases.json):
//  1. reasoning = the text inside <think>…</think>; the body is what follows "</think>" (the
//     whole output when there is no closing tag);
//  2. a ``` code fence in the body, if any, narrows it to the fenced text;
//  3. the body must be exactly one JSON object (whitespace around it allowed), read by the
//     lenient reader: strict JSON gives ParseStage::kDirect, anything it had to repair
//     (single quotes, bare keys, trailing commas, "best-to-worse") gives kRepaired;
//  4. otherwise, as a flagged last resort, the text from the body's first '{' to its last '}'.
#pragma once

#include <string_view>

#include "rewards/judgment.h"

namespace principia::rewards {

// Names beyond this many in "scores" or the ranking are ignored (and keep the parse linear).
inline constexpr size_t kMaxJudgedNames = 256;

Judgment parse_judgment(std::string_view output);

}  // namespace principia::rewards
