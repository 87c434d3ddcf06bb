// UTF-8 helpers for the tokenizers: validation, invalid-byte replacement, NFC (utf8proc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace principia::tokenizer {

// Length of the valid UTF-8 sequence starting at s[i] (1..4), or 0 when the byte there does not
// start a valid sequence (stray continuation, overlong, surrogate, > U+10FFFF, truncated).
size_t utf8_sequence_length(std::string_view s, size_t i);
bool is_valid_utf8(std::string_view s);
// Each byte that is not part of a valid sequence becomes U+FFFD.
std::string replace_invalid_utf8(std::string_view s);
// Unicode NFC. Invalid UTF-8 runs are passed through unchanged (only valid runs are normalised).
std::string nfc(std::string_view s);
// Appends the UTF-8 encoding of code point cp (cp <= 0x10FFFF).
void append_utf8(std::string& out, char32_t cp);

}  // namespace principia::tokenizer
