// The judge prompt: a request (principle, prompt, named responses) rendered as the system and user
// messages a listwise reward model reads. Candidates are shown as model-1..k in an order the
// caller chooses (a seeded permutation per sample in training); the mapping shown -> real name
// comes back so the judgment can be mapped to the real candidates.
//
// Template `rewardanything-v1` (default), compatible with the released RewardAnything judge:
//   system = rewardanything_system_prompt() (judge/system_prompt.txt byte for byte)
//   user   = json.dumps({"principle": …, "prompt": …, "responses": {"model-1": …, …}},
//                       ensure_ascii=False)
// Custom templates: a user template with placeholders {principle}, {prompt}, {responses_json}
// (json.dumps of the shown-name -> text object), {responses_list} (blocks "[model-1]\n<text>"
// separated by blank lines); "{{" and "}}" are literal braces; the system message comes from a
// file (default: the RewardAnything one). include_principle = false (an ablation) drops the
// "principle" key from the JSON user message, and renders {principle} as "".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/jsonl.h"

namespace principia::prompt {

struct JudgeRequest {
  std::string principle;
  std::string prompt;
  std::vector<std::pair<std::string, std::string>> responses;  // (real name, text), in order
};

// {"principle": str, "prompt": str, "responses": {name: text} | [[name, text], ...]}; extra keys
// are ignored. Throws principia::Error naming `origin` and the key path.
JudgeRequest judge_request_from_json(const ordered_json& j, const std::string& origin);

struct RenderedPrompt {
  std::string system;
  std::string user;
  // (shown name, real name) in shown order: model-1 first.
  std::vector<std::pair<std::string, std::string>> mapping;
};

const std::string& rewardanything_system_prompt();
inline constexpr const char* kRewardAnythingV1 = "rewardanything-v1";
// A short system message and a plain-text user message with the same output format; for small
// models (the CPU demo) whose context cannot hold the full RewardAnything system prompt.
inline constexpr const char* kCompactV1 = "compact-v1";

// "model-1".."model-k".
std::string shown_name(size_t index);

struct PromptTemplate {
  std::string name = kRewardAnythingV1;
  std::string system;         // the system message
  std::string user_template;  // empty: the rewardanything-v1 JSON user message
  bool include_principle = true;

  // The built-in template by name; throws principia::Error for an unknown name.
  static PromptTemplate named(const std::string& name);
  // From the `prompt` config section: user_template (if set) over the named template,
  // system_prompt_file (if set, read now) over the template's system message. Placeholders are
  // checked here, so a typo fails at start-up, not mid-run.
  static PromptTemplate from_config(const config::PromptConfig& c);

  // permutation[i] = index into request.responses shown as model-(i+1); empty = identity.
  // Throws principia::Error when it is not a permutation of 0..k-1.
  RenderedPrompt render(const JudgeRequest& request,
                        const std::vector<size_t>& permutation = {}) const;
};

// Checks a user template's placeholders; throws principia::Error naming the unknown one.
void validate_user_template(const std::string& user_template, const std::string& origin);

}  // namespace principia::prompt
