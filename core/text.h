// Small string helpers used across modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace principia {

size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a reasonable distance, or "" when none is close.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
std::string trim(std::string_view s);

}  // namespace principia
