// Locating ../shared/data from tests: one setting, PRINCIPIA_TEST_DATA, defaulting to the
// folder beside the checkout. Tests that need it skip with a clear message when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace principia::testing {

// The shared test-data folder, or "" when it does not exist.
std::string shared_data_dir();
// A path inside it ("" when the folder is absent).
std::string shared_data(const std::string& relative);
// A fresh empty directory under the build's temp area, removed at process exit.
std::filesystem::path temp_dir(const std::string& name);
// Where the built principia binary is (for integration tests).
std::string principia_binary();
// Runs a shell command; returns exit code, captures stdout+stderr into *output.
int run_command(const std::string& command, std::string* output);

}  // namespace principia::testing

// Skips the current test when ../shared/data is absent (a user's clone).
#define PRINCIPIA_REQUIRE_SHARED_DATA()                                                  \
  do {                                                                                  \
    if (::principia::testing::shared_data_dir().empty())                                \
      GTEST_SKIP() << "shared test data not found (set PRINCIPIA_TEST_DATA to the folder " \
                      "holding models/, tokenizers/, judge/, real/)";                   \
  } while (0)
