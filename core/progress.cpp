#include "core/progress.h"

#include <unistd.h>

#include <cmath>

namespace principia {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::FILE* out, double line_every_s)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      tty_(out != nullptr && isatty(fileno(out))),
      line_every_s_(line_every_s),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

std::string Progress::render(double elapsed) const {
  double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  std::string line = label_ + " ";
  if (total_ > 0) {
    double frac = std::min(1.0, double(done_) / double(total_));
    const int width = 24;
    int filled = int(frac * width);
    line += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    line += std::to_string(done_) + "/" + std::to_string(total_);
    double eta = rate > 0 ? (total_ - done_) / rate : NAN;
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.2f/s elapsed %s eta %s", rate,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
    line += buf;
  } else {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%lld %.2f/s elapsed %s", (long long)done_, rate,
                  format_duration(elapsed).c_str());
    line += buf;
  }
  if (!suffix_.empty()) line += " " + suffix_;
  return line;
}

void Progress::maybe_draw(bool force) {
  if (!out_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  if (tty_) {
    if (!force && since < 0.1) return;
    std::fprintf(out_, "\r\033[K%s", render(elapsed).c_str());
  } else {
    if (!force && since < line_every_s_) return;
    std::fprintf(out_, "%s\n", render(elapsed).c_str());
  }
  std::fflush(out_);
  last_draw_ = now;
}

void Progress::advance(int64_t n, const std::string& suffix) { set(done_ + n, suffix); }

void Progress::set(int64_t done, const std::string& suffix) {
  done_ = done;
  if (!suffix.empty()) suffix_ = suffix;
  maybe_draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  maybe_draw(true);
  if (tty_ && out_) std::fprintf(out_, "\n");
}

}  // namespace principia
