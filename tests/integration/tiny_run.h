// demo.yaml shrunk for end-to-end runs of the binary in seconds: tiny model, few items, short
// outputs. Shared by the CPU and the CUDA integration tests, with the demo config's path and a
// reader of metrics.jsonl.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace principia::testing {

inline constexpr const char* kTinyDemoOverrides =
    " data.synth_options.train_items=200 data.synth_options.eval_items=6"
    " tokenizer.train_vocab_size=400"
    " model.hidden_size=32 model.intermediate_size=64 model.num_layers=1 model.num_heads=2"
    " model.num_kv_heads=1 model.head_dim=16"
    " rollout.group_size=4 rollout.batch_size=3 rollout.max_new_tokens=12"
    " trainer.sft_steps=2 trainer.sft_batch_size=4 trainer.max_steps=4"
    " checkpoint.every=2 eval.max_items=6 algorithm.kl_coef=0.01";

// configs/demo.yaml of this checkout (for a test two folders below the root, as tests/integration).
inline std::string demo_config() {
  return std::string(PRINCIPIA_TEST_SOURCE_DIR) + "/../../configs/demo.yaml";
}

// A run's metrics.jsonl, one object a row (blank lines skipped; none when the file is absent).
inline std::vector<nlohmann::json> read_metrics(const std::filesystem::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace principia::testing
