// Leveled, rank-aware logging to stderr. By default only rank 0 prints info/debug;
// warnings and errors are printed by every rank, prefixed with the rank when world > 1.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace principia::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_level(Level level);
Level level();
Level parse_level(std::string_view name);  // throws principia::Error on an unknown name
void set_rank(int rank, int world_size);
bool enabled(Level level);
void write(Level level, const std::string& message);

template <class... Args>
void message(Level lvl, const Args&... args) {
  if (!enabled(lvl)) return;
  std::ostringstream os;
  (os << ... << args);
  write(lvl, os.str());
}
template <class... Args> void debug(const Args&... a) { message(Level::kDebug, a...); }
template <class... Args> void info(const Args&... a) { message(Level::kInfo, a...); }
template <class... Args> void warn(const Args&... a) { message(Level::kWarn, a...); }
template <class... Args> void error(const Args&... a) { message(Level::kError, a...); }

}  // namespace principia::log
