#include "tests/unit/tokenizer/random_text.h"

#include <random>

#include "model/tokenizer/utf8.h"

namespace principia::tokenizer::testing {

std::string random_unicode(uint64_t seed, size_t code_points) {
  std::mt19937_64 rng(seed);
  auto pick = [&](uint32_t lo, uint32_t hi) {
    return static_cast<char32_t>(lo + rng() % (hi - lo + 1));
  };
  std::string out;
  for (size_t i = 0; i < code_points; ++i) {
    char32_t cp;
    switch (rng() % 10) {
      case 0:
      case 1:
      case 2:
        cp = pick('a', 'z');
        break;
      case 3:
        cp = " \n\t \r  "[rng() % 7];
        break;
      case 4:
        cp = pick('0', '9');
        break;
      case 5:
        cp = pick(0x20, 0x7E);
        break;
      case 6:
        cp = pick(0xA0, 0x24F);
        break;
      case 7:
        cp = pick(0x4E00, 0x9FFF);
        break;
      case 8:
        cp = pick(0x1F300, 0x1F64F);
        break;
      default:
        do cp = pick(1, 0x10FFFF);
        while (cp >= 0xD800 && cp <= 0xDFFF);
    }
    append_utf8(out, cp);
  }
  return out;
}

std::string random_bytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

}  // namespace principia::tokenizer::testing
