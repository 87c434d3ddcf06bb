// Deterministic random text for round-trip tests: valid UTF-8 across the planes, and raw bytes.
#pragma once

#include <cstdint>
#include <string>

namespace principia::tokenizer::testing {

// Random valid UTF-8: ASCII words, whitespace runs, digits, Latin-1, CJK, emoji, combining
// marks, and any scalar value (no surrogates).
std::string random_unicode(uint64_t seed, size_t code_points);
// Arbitrary bytes, often not UTF-8.
std::string random_bytes(uint64_t seed, size_t n);

}  // namespace principia::tokenizer::testing
