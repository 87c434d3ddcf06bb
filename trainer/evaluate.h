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
  // Candidate orders per item and sample (eval.permutations); 1 = off.
  int64_t permutations = 1;
  static EvalOptions from(const config::Config& cfg);
};

// {"items", "judgments", "metrics": EvalMetrics json, "reward": {"total": .., <component>: ..},
//  "samples": [{"id", "output", "mapping", "reward"}, ...] (the first 8 judgments verbatim)}
// With `judgments`, every judgment is appended to it: {"id", "sample", "output", "mapping",
// "format_valid", "reward", "components": {<component>: ..}}.
// With options.permutations = K > 1 each item (and sample) is also judged under K − 1 more
// candidate orders, generated with the others: "permutation_consistency" holds
// rewards::PermutationConsistency's report, and `judgments` also gets those orders' judgments,
// marked "permutation": 1..K−1. Every other number is computed on the first order alone, the
// one K = 1 uses, so it stays comparable (and the output without the block is identical).
// Rewards with a group component (consistency) are scored per item over its samples.
ordered_json evaluate(model::Transformer& model, const JudgeFormat& format,
                      const rewards::CompositeReward& reward, const std::vector<data::Record>& items,
                      const EvalOptions& options, std::vector<ordered_json>* judgments = nullptr);

// One generated judgment: the shown -> real names of its prompt and the text.
struct EvalOutput {
  rewards::NameMapping mapping;
  std::string text;
};

// evaluate() after generation, for tests and re-scoring: `outputs` holds items.size() ×
// options.samples × options.permutations judgments, item-major, then sample, then candidate
// order. Throws principia::Error when the count is not that.
ordered_json score_eval(const std::vector<data::Record>& items,
                        const rewards::CompositeReward& reward, const EvalOptions& options,
                        const std::vector<EvalOutput>& outputs,
                        std::vector<ordered_json>* judgments = nullptr);

// The headline numbers of an evaluation, for tables and logs.
struct EvalSummary {
  double format_valid_rate = 0, pairwise_accuracy = 0, kendall_tau = 0, ndcg = 0, reward = 0;
  double weighted_pair = NAN;
  static EvalSummary of(const ordered_json& eval);
};

// A markdown table: one row per (label, summary).
std::string eval_table(const std::vector<std::pair<std::string, EvalSummary>>& rows);

// The candidate orders eval shows item `item` (sample `sample`) in: the first is the seeded order
// eval has always used; the other permutations − 1 are seeded from (seed, item, sample, order),
// differ from the first when there are two candidates or more, and from each other too when
// the candidates have that many orders.
std::vector<std::vector<size_t>> eval_orders(uint64_t seed, size_t item, int64_t sample,
                                             size_t candidates, int64_t permutations);

// Writes RUN/eval/<name>.json and RUN/eval/<name>.md, and RUN/eval/<name>.judgments.jsonl
// when `judgments` is given.
void write_eval(const std::string& run_dir, const std::string& name, const ordered_json& eval,
                const std::vector<ordered_json>* judgments = nullptr);

}  // namespace principia::trainer
