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

// Offending input quoted in a message: at most `max_bytes` of it, in single quotes, with
// control characters, quotes, backslashes and bytes >= 0x80 escaped (\n, \', \xNN), and
// "... (N bytes)" after the quote when it was cut. Error messages never echo input unbounded.
std::string quote_excerpt(std::string_view bytes, size_t max_bytes = 200);

// nlohmann::json's parse-error text made fit for a user: without the "[json.exception...]"
// tag, and its "last read: '...'" token (which can be a whole 10 MB line) cut to an excerpt,
// with its length.
std::string json_error_message(std::string_view what);

}  // namespace principia
