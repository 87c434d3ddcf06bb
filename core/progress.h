// A progress bar for long loops: rate and ETA, redrawn in place on a terminal, periodic
// plain lines (every `line_every_s` seconds) when stdout is a file or a pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace principia {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::FILE* out = stdout, double line_every_s = 10.0);
  ~Progress();
  void advance(int64_t n = 1, const std::string& suffix = "");
  void set(int64_t done, const std::string& suffix = "");
  void finish();
  // Exposed for tests: the line that would be printed now.
  std::string render(double elapsed_s) const;

 private:
  void maybe_draw(bool force);
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::string suffix_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  double line_every_s_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

std::string format_duration(double seconds);  // "1h02m", "3m07s", "12.4s"

}  // namespace principia
