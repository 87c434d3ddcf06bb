#include "trainer/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace principia::trainer {

StepMetrics& StepMetrics::set(const std::string& key, double value) {
  for (auto& kv : items_)
    if (kv.first == key) {
      kv.second = value;
      return *this;
    }
  items_.emplace_back(key, value);
  return *this;
}

bool StepMetrics::has(const std::string& key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return true;
  return false;
}

double StepMetrics::get(const std::string& key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return kv.second;
  throw Error("metrics: no value for '" + key + "'");
}

std::string metrics_json_line(int64_t step, const StepMetrics& metrics) {
  nlohmann::ordered_json j;
  j["step"] = step;
  for (const auto& [key, value] : metrics.items()) {
    if (key == "step") throw Error("metrics: 'step' is reserved");
    if (std::isfinite(value)) {
      j[key] = value;
    } else {
      j[key] = nullptr;
    }
  }
  return j.dump() + "\n";
}

namespace {

// Keeps the lines of steps <= last_step; drops later ones and lines that do not parse (a line
// torn by a crash).
void truncate_metrics_after(const std::string& path, int64_t last_step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::istringstream in(read_file(path));
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer())
      continue;
    if (j["step"].get<int64_t>() <= last_step) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& run_dir, bool tensorboard, int64_t resumed_step) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) throw Error(run_dir + ": cannot create run directory (" + ec.message() + ")");
  jsonl_path_ = (std::filesystem::path(run_dir) / "metrics.jsonl").string();
  if (resumed_step >= 0) truncate_metrics_after(jsonl_path_, resumed_step);
  jsonl_ = std::fopen(jsonl_path_.c_str(), "ab");
  if (!jsonl_) throw Error(jsonl_path_ + ": cannot open for writing (" + std::strerror(errno) + ")");
  if (tensorboard) {
    tb_ = std::make_unique<TensorBoardWriter>((std::filesystem::path(run_dir) / "tb").string());
    if (resumed_step >= 0) {
      tb_->add_session_start(resumed_step + 1);
      tb_->flush();
    }
  }
}

MetricsWriter::~MetricsWriter() {
  if (jsonl_) std::fclose(jsonl_);
}

void MetricsWriter::write(int64_t step, const StepMetrics& metrics) {
  const std::string line = metrics_json_line(step, metrics);
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0)
    throw Error(jsonl_path_ + ": write failed (" + std::strerror(errno) + ")");
  if (tb_) {
    Scalars scalars;
    scalars.reserve(metrics.items().size());
    for (const auto& [key, value] : metrics.items()) scalars.emplace_back(key, float(value));
    tb_->add_scalars(step, scalars);
    tb_->flush();
  }
}

}  // namespace principia::trainer
