// The token length of a record's rendered judge prompt (judge template + chat template +
// tokenizer), the quantity data.max_prompt_tokens limits. Built only when data/prompt/ exists.
#pragma once

#include <string>

#include "data/h5_store.h"

namespace principia::data {

// Loads the tokenizer at `tokenizer_path` and returns the length function for the named judge
// template ("rewardanything-v1") and chat template ("qwen3" | "llama3" | "plain"). Candidates are
// rendered in file order (the shown order changes a length by at most a token or two).
// Throws principia::Error for an unknown template or a tokenizer that cannot be loaded.
PromptTokensFn make_prompt_tokens_fn(const std::string& tokenizer_path,
                                     const std::string& template_name,
                                     const std::string& chat_template);

}  // namespace principia::data
