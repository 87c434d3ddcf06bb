// Writes small YAML files into a temp dir for config tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "tests/common/test_data.h"

namespace principia::testing {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(std::string("config-") +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  // Loads and expects a principia::Error; returns its message.
  std::string load_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
    try {
      config::load(path, overrides);
    } catch (const Error& e) {
      return e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "raw exception escaped: " << e.what();
      return "";
    }
    ADD_FAILURE() << "expected an error loading " << path;
    return "";
  }
  std::filesystem::path dir_;
};

}  // namespace principia::testing
