// Per-step metrics: RUN/metrics.jsonl (one flat JSON object per step, keys in the order they
// were added, "step" first) and, optionally, TensorBoard scalars in RUN/tb/. No LibTorch.
//
// Key convention: "<group>/<name>", e.g. "reward/mean", "reward/format", "adv/zero_var_frac",
// "actor/kl", "actor/clip_frac", "time/rollout_s", "perf/tokens_per_s", "mem/peak_gb".
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trainer/tensorboard.h"

namespace principia::trainer {

// An ordered list of (key, value); adding a key again overwrites it in place.
class StepMetrics {
 public:
  StepMetrics& set(const std::string& key, double value);
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  bool has(const std::string& key) const;
  double get(const std::string& key) const;  // throws principia::Error when absent

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// This process's resident set now (/proc/self/statm), in GiB; NaN where unreadable. A run
// records it once before building any model (`memory/baseline_rss_gib`), so that
// `memory/peak_rss_gib` minus it is what training itself took.
double current_rss_gib();

// The JSON line for one step: {"step": N, "<key>": value, ...}. Non-finite values become null
// (JSON has no NaN); they are still sent to TensorBoard, which shows them.
std::string metrics_json_line(int64_t step, const StepMetrics& metrics);

class MetricsWriter {
 public:
  // A run that starts after step `start_step` (0 for a fresh run, N when resumed from the
  // checkpoint of step N) keeps one history: metrics.jsonl is first rewritten to the lines of
  // steps 1..start_step, one per step (the last written wins; torn lines dropped), and, when
  // tensorboard, RUN/tb/ is rewritten to one new event file holding the scalar events of those
  // steps (older event files removed once it is on disk). A killed, restarted or fallen-back
  // run therefore never repeats or drops a step. Creates run_dir. Throws principia::Error.
  MetricsWriter(const std::string& run_dir, bool tensorboard, int64_t start_step = 0);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // One line + one event, flushed at once (a crash loses at most the step being written).
  void write(int64_t step, const StepMetrics& metrics);

  const std::string& jsonl_path() const { return jsonl_path_; }
  const TensorBoardWriter* tensorboard() const { return tb_.get(); }

 private:
  std::string jsonl_path_;
  std::FILE* jsonl_ = nullptr;
  std::unique_ptr<TensorBoardWriter> tb_;
};

}  // namespace principia::trainer
