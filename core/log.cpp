#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/error.h"

namespace principia::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_rank{0};
std::atomic<int> g_world{1};
std::mutex g_mutex;
}  // namespace

void set_level(Level l) { g_level = static_cast<int>(l); }
Level level() { return static_cast<Level>(g_level.load()); }

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  throw Error("unknown log level '" + std::string(name) + "' (debug, info, warn, error, off)");
}

void set_rank(int rank, int world_size) {
  g_rank = rank;
  g_world = world_size;
}

bool enabled(Level l) {
  if (static_cast<int>(l) < g_level.load()) return false;
  // Ranks other than 0 stay quiet unless something is wrong.
  return g_rank.load() == 0 || l >= Level::kWarn;
}

void write(Level l, const std::string& message) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world.load() > 1)
    std::fprintf(stderr, "[%s %s rank %d] %s\n", stamp, names[static_cast<int>(l)], g_rank.load(),
                 message.c_str());
  else
    std::fprintf(stderr, "[%s %s] %s\n", stamp, names[static_cast<int>(l)], message.c_str());
  std::fflush(stderr);
}

}  // namespace principia::log
