// Evaluation: the judge's judgments on a set of records (greedy, or n samples) -> format-valid
// rate, pairwise accuracy, Kendall tau-b, NDCG, score variance, mean reward per component,
// overall and by domain / category (rewards/metrics.h defines each metric).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/jsonl.h"
#include "data/record.h"
#include "rewards/registry.h"
#include "trainer/judge_task.h"

namespace principia::model {
class Transformer;
}

namespace principia::trainer {

struct EvalOptions {
  bool greedy = true;
  int64_t samples = 1;          // per item (greedy: 1)
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;  // 0 = off
  int64_t batch = 64;           // sequences generated together
  uint64_t seed = 0;
  bool write_judgments = false;  // every judgment to RUN/eval/<name>.judgments.jsonl
  static EvalOptions from(const config::Config& cfg);
};

// {"items", "judgments", "metrics": EvalMetrics json, "reward": {"total": .., <component>: ..},
//  "samples": [{"id", "output", "mapping", "reward"}, ...] (the first 8 judgments verbatim)}
// With `judgments`, every judgment is appended to it: {"id", "sample", "output", "mapping",
// "format_valid", "reward", "components": {<component>: ..}}.
ordered_json evaluate(model::Transformer& model, const JudgeFormat& format,
                      const rewards::CompositeReward& reward, const std::vector<data::Record>& items,
                      const EvalOptions& options, std::vector<ordered_json>* judgments = nullptr);

// The headline numbers of an evaluation, for tables and logs.
struct EvalSummary {
  double format_valid_rate = 0, pairwise_accuracy = 0, kendall_tau = 0, ndcg = 0, reward = 0;
  double weighted_pair = NAN;
  static EvalSummary of(const ordered_json& eval);
};

// A markdown table: one row per (label, summary).
std::string eval_table(const std::vector<std::pair<std::string, EvalSummary>>& rows);

// Writes RUN/eval/<name>.json and RUN/eval/<name>.md, and RUN/eval/<name>.judgments.jsonl
// when `judgments` is given.
void write_eval(const std::string& run_dir, const std::string& name, const ordered_json& eval,
                const std::vector<ordered_json>* judgments = nullptr);

}  // namespace principia::trainer
