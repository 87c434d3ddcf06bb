// A whole run from a config: data (or the synthetic task), tokenizer (loaded or trained),
// model (loaded or initialised), SFT warm-start, GRPO steps with metrics, evaluation and
// checkpoints, and the final Hugging Face export. The `train`, `sft` and `eval` verbs.
#pragma once

#include <string>

#include "core/config.h"

namespace principia::trainer {

struct StepHooks;  // trainer/grpo_step.h

enum class RunMode { kTrain, kSft, kEval };

struct RunOptions {
  RunMode mode = RunMode::kTrain;
  std::string resume;  // "" | "auto" | a checkpoint directory
  const StepHooks* hooks = nullptr;  // observers of every GRPO step (tests)
};

// Returns the process exit code (0 on success). User errors throw principia::Error.
int run(const config::Config& cfg, const RunOptions& options);

}  // namespace principia::trainer
