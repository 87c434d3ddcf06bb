#include "tests/common/test_data.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace principia::testing {

std::string shared_data_dir() {
  const char* env = std::getenv("PRINCIPIA_TEST_DATA");
  std::string dir = env && *env ? env : PRINCIPIA_SHARED_DATA_DEFAULT;
  std::error_code ec;
  return std::filesystem::is_directory(dir, ec) ? std::filesystem::canonical(dir).string()
                                                : std::string();
}

std::string shared_data(const std::string& relative) {
  std::string dir = shared_data_dir();
  return dir.empty() ? std::string() : dir + "/" + relative;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto base = std::filesystem::path(PRINCIPIA_TEST_TMP) /
              (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(base);
  std::filesystem::create_directories(base);
  return base;
}

std::string principia_binary() { return PRINCIPIA_BINARY; }

int run_command(const std::string& command, std::string* output) {
  std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace principia::testing
