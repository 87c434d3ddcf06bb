#include "trainer/metrics.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

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

double current_rss_gib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return NAN;
  long pages = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  if (got != 2) return NAN;
  return double(resident) * double(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0 * 1024.0);
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

// Keeps one line per step <= last_step (the last written of each), by step; drops later
// steps and lines that do not parse (a line torn by a crash).
void truncate_metrics_after(const std::string& path, int64_t last_step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::istringstream in(read_file(path));
  std::map<int64_t, std::string> by_step;
  std::string line;
  int64_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer())
      continue;
    const int64_t step = j["step"].get<int64_t>();
    if (step <= last_step) by_step[step] = line;
  }
  std::string kept;
  for (const auto& [step, l] : by_step) kept += l + "\n";
  if (int64_t(by_step.size()) != lines)
    log::info(path, ": kept the ", by_step.size(), " step(s) up to step ", last_step, " of ", lines,
              " line(s) written before");
  write_file_atomic(path, kept);
}

// RUN/tb/ rewritten as one event file holding the steps up to last_step.
std::unique_ptr<TensorBoardWriter> rewrite_tensorboard(const std::string& dir, int64_t last_step) {
  std::vector<std::string> kept = scalar_history(dir, last_step);
  const std::vector<std::string> old = event_files(dir);
  auto tb = std::make_unique<TensorBoardWriter>(dir);
  for (const auto& ev : kept) tb->add_event(ev);
  tb->sync();
  for (const auto& f : old) {
    std::error_code ec;
    if (f != tb->path()) std::filesystem::remove(f, ec);
  }
  return tb;
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& run_dir, bool tensorboard, int64_t start_step) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) throw Error(run_dir + ": cannot create run directory (" + ec.message() + ")");
  jsonl_path_ = (std::filesystem::path(run_dir) / "metrics.jsonl").string();
  truncate_metrics_after(jsonl_path_, start_step);
  jsonl_ = std::fopen(jsonl_path_.c_str(), "ab");
  if (!jsonl_) throw Error(jsonl_path_ + ": cannot open for writing (" + std::strerror(errno) + ")");
  if (tensorboard) tb_ = rewrite_tensorboard((std::filesystem::path(run_dir) / "tb").string(), start_step);
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
