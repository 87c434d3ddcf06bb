// `principia sweep`: the variants of an ablation, where each one's results are, and the summary
// (sweep.md, sweep.json, sweep.svg). Running a variant is cmd_sweep.cpp's business; everything
// here is plain files and strings, so it needs neither LibTorch nor a trained model to test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/jsonl.h"

namespace principia::cli::sweep {

// One --grid argument: `key.path=v1,v2,...`. Commas inside [...] or {...} belong to the value.
struct Axis {
  std::string key;
  std::vector<std::string> values;
};
Axis parse_axis(const std::string& arg);  // principia::Error on a malformed or empty axis
// Whether `key.path=...` lists values (a comma outside [...] and {...}) or has none at all:
// what --grid takes as an axis rather than a setting for every variant.
bool is_value_list(const std::string& arg);

struct Variant {
  std::string name;                    // its directory under the sweep directory
  std::vector<std::string> overrides;  // the variant's own key=value settings (grid)
  std::string config;                  // the variant's config file (--configs), "" for a grid
};

// The cartesian product of the axes, the first axis varying slowest. A variant is named by the
// axes with more than one value: `advantage-drgrpo_clip_high-0.28` (a key's last segment, or the
// whole path where two axes share it). Duplicate keys and clashing names are errors.
std::vector<Variant> grid_variants(const std::vector<Axis>& axes);

// One variant per file, named by its stem; two files with one stem are an error.
std::vector<Variant> config_variants(const std::vector<std::string>& files);

// A name made safe as a directory: letters, digits and ._+- kept, brackets, quotes and spaces
// dropped, anything else becomes '-'.
std::string safe_name(const std::string& s);

// One evaluation of a run: RUN/eval/step-base.json (step 0, before any training),
// step-sft.json (step 0, after the SFT warm-start) or step-N.json.
struct EvalPoint {
  std::string file;  // "step-sft"
  int64_t step = 0;
  double weighted_pair = 0, format_valid_rate = 0, pairwise_accuracy = 0, kendall_tau_b = 0,
         ndcg = 0, reward = 0;
};
// Every eval of a run in step order (base before sft at step 0); missing or unreadable files are
// left out.
std::vector<EvalPoint> read_evals(const std::string& run_dir);
EvalPoint eval_point(const ordered_json& eval, const std::string& file, int64_t step);

// The curve a chart draws: the point GRPO starts from (after SFT when there was SFT, else the
// base model), then every step-N.
std::vector<EvalPoint> training_curve(const std::vector<EvalPoint>& evals);

struct VariantResult {
  Variant variant;
  std::string run_dir;
  std::string state;  // "finished", "failed", "not run"
  std::optional<int> exit_code;
  double seconds = 0;
  std::vector<EvalPoint> evals;
};

// sweep.json, sweep.md and sweep.svg in `sweep_dir`. `command` is shown in sweep.md.
void write_summary(const std::string& sweep_dir, const std::string& command,
                   const std::vector<VariantResult>& results);
ordered_json summary_json(const std::string& command, const std::vector<VariantResult>& results);
std::string summary_markdown(const std::string& command, const std::vector<VariantResult>& results);
std::string summary_svg(const std::vector<VariantResult>& results);

}  // namespace principia::cli::sweep
