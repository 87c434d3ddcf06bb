#include "model/tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "model/tokenizer/bpe_loaders.h"
#include "model/tokenizer/bpe_tokenizer.h"
#include "model/tokenizer/llama2c_tokenizer.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"

namespace principia::tokenizer {

namespace fs = std::filesystem;

std::optional<int32_t> Tokenizer::special_id(std::string_view text) const {
  for (const auto& s : special_tokens())
    if (s.text == text) return s.id;
  return std::nullopt;
}

std::vector<TextSegment> split_specials(std::string_view text,
                                        const std::vector<SpecialToken>& specials) {
  std::vector<TextSegment> out;
  // next[i]: where specials[i] next occurs at or after `pos` (npos: never again). Recomputed only
  // when passed, so the scan costs about one find() per special plus one per hit.
  std::vector<size_t> next(specials.size(), 0);
  std::vector<bool> stale(specials.size(), true);
  size_t pos = 0, plain = 0;
  while (pos <= text.size()) {
    size_t best_at = std::string_view::npos;
    int best = -1;
    for (size_t i = 0; i < specials.size(); ++i) {
      if (specials[i].text.empty()) continue;
      if (stale[i] || (next[i] != std::string_view::npos && next[i] < pos)) {
        next[i] = text.find(specials[i].text, pos);
        stale[i] = false;
      }
      // Earliest start wins; at the same start the longest (specials are longest first).
      if (next[i] != std::string_view::npos && (best < 0 || next[i] < best_at)) {
        best_at = next[i];
        best = static_cast<int>(i);
      }
    }
    if (best < 0) break;
    if (best_at > plain) out.push_back({text.substr(plain, best_at - plain), -1});
    out.push_back({text.substr(best_at, specials[best].text.size()), specials[best].id});
    pos = plain = best_at + specials[best].text.size();
  }
  if (plain < text.size()) out.push_back({text.substr(plain), -1});
  return out;
}

std::vector<int32_t> Tokenizer::encode_with_specials(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  for (const auto& seg : split_specials(text, special_tokens())) {
    if (seg.special >= 0) {
      out.push_back(seg.special);
    } else {
      const auto ids = encode(seg.text, false);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  }
  return out;
}

namespace {

bool has_ext(const fs::path& p, const char* ext) {
  return p.extension() == ext;
}

// Which tokenizer file a model directory holds; "" when none. A SentencePiece model beside a
// tokenizer.json (Llama 2 and Mistral ship both; so do principia's exports, whose tokenizer.json
// is converted from the .model) is read through libsentencepiece: its Metaspace-style
// tokenizer.json is only the Hugging Face rendering of the same model.
std::string pick_in_directory(const fs::path& dir) {
  for (const char* name : {"tokenizer.model", "tokenizer.json"})
    if (fs::is_regular_file(dir / name)) return (dir / name).string();
  std::vector<std::string> tiktoken;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && has_ext(e.path(), ".tiktoken"))
      tiktoken.push_back(e.path().string());
  std::sort(tiktoken.begin(), tiktoken.end());
  if (!tiktoken.empty()) return tiktoken.front();
  if (fs::is_regular_file(dir / "vocab.json")) return (dir / "vocab.json").string();
  return "";
}

// A file whose name does not say what it is: sniff the first bytes.
std::string sniff(const std::string& path) {
  const std::string head = read_file(path).substr(0, 256);
  size_t i = head.find_first_not_of(" \t\r\n");
  if (i == std::string::npos) return "";
  if (head[i] == '[') return "llama2c";
  if (head[i] == '{') return "hf";
  if (head[i] == '\x0a' || head[i] == '\x12') return "";  // protobuf field tags: handled below
  return "tiktoken";
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    const std::string file = pick_in_directory(p);
    if (file.empty())
      throw Error(path +
                  ": no tokenizer in this directory (looked for tokenizer.json, "
                  "tokenizer.model, *.tiktoken, vocab.json)");
    p = file;
  } else if (!fs::is_regular_file(p, ec)) {
    throw Error(path + ": no such tokenizer file or directory");
  }
  const std::string file = p.string();
  if (has_ext(p, ".model")) return std::make_unique<SentencePieceTokenizer>(file);
  if (has_ext(p, ".tiktoken"))
    return std::make_unique<BpeTokenizer>(read_tiktoken_file(file, options.tiktoken_pattern));
  if (p.filename() == "tokenizer.json")
    return std::make_unique<BpeTokenizer>(read_hf_tokenizer_json(file));
  if (p.filename() == "vocab.json") return std::make_unique<Llama2cTokenizer>(file);
  const std::string kind = sniff(file);
  if (kind == "llama2c") return std::make_unique<Llama2cTokenizer>(file);
  if (kind == "hf") return std::make_unique<BpeTokenizer>(read_hf_tokenizer_json(file));
  if (kind == "tiktoken")
    return std::make_unique<BpeTokenizer>(read_tiktoken_file(file, options.tiktoken_pattern));
  return std::make_unique<SentencePieceTokenizer>(file);
}

}  // namespace principia::tokenizer
