// Reads the {"text", "ids"} vector files of ../shared/data/tokenizers/.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace principia::tokenizer::testing {

struct Vector {
  std::string text;
  std::vector<int32_t> ids;
};

inline std::vector<Vector> read_vectors(const std::string& path) {
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in);
  std::vector<Vector> out;
  for (const auto& v : j)
    out.push_back({v.at("text").get<std::string>(), v.at("ids").get<std::vector<int32_t>>()});
  return out;
}

}  // namespace principia::tokenizer::testing
