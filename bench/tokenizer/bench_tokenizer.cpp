// Single-thread encode throughput of a tokenizer on one text file, as one JSON line:
//   {"bytes", "tokens", "fnv1a_ids", "best_seconds", "mb_per_s", "passes"}
// Each pass encodes the whole file as ordinary text (no specials) from a cold pre-token cache.
// bench_tokenizer.py runs this beside tiktoken on the same text and ranks and prints the ratio.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/tokenizer.h"

int main(int argc, char** argv) {
  using namespace principia;
  std::string tokenizer_path, input;
  int passes = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokenizer"))
      tokenizer_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--input"))
      input = argv[i + 1];
    else if (!std::strcmp(argv[i], "--passes"))
      passes = std::stoi(argv[i + 1]);
  }
  if (tokenizer_path.empty() || input.empty() || passes < 1) {
    std::fprintf(stderr,
                 "usage: bench_tokenizer --tokenizer PATH --input TEXT_FILE [--passes N]\n");
    return 2;
  }
  try {
    const auto tok = tokenizer::load_tokenizer(tokenizer_path);
    const std::string text = read_file(input);
    const auto* bpe = dynamic_cast<const tokenizer::BpeTokenizer*>(tok.get());
    double best = 1e30;
    std::vector<int32_t> ids;
    for (int p = 0; p < passes; ++p) {
      if (bpe) bpe->clear_cache();
      const auto t0 = std::chrono::steady_clock::now();
      ids = tok->encode(text);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, s);
    }
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the ids' decimal text, "," separated
    for (int32_t id : ids) {
      for (char c : std::to_string(id) + ",")
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
    std::printf(
        "{\"bytes\": %zu, \"tokens\": %zu, \"fnv1a_ids\": \"%016llx\", \"best_seconds\": %.6f, "
        "\"mb_per_s\": %.3f, \"passes\": %d}\n",
        text.size(), ids.size(), static_cast<unsigned long long>(h), best, text.size() / best / 1e6,
        passes);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 2;
  }
  return 0;
}
