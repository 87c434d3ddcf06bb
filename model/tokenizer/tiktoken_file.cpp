// tiktoken rank files: one `base64 rank` line per token.
#include <algorithm>
#include <array>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "model/tokenizer/bpe_loaders.h"

namespace principia::tokenizer {

bool base64_decode(std::string_view in, std::string* out) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
    return t;
  }();
  out->clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad) return false;  // data after '='
        v[k] = table[static_cast<unsigned char>(c)];
        if (v[k] < 0) return false;
      }
    }
    const uint32_t w = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(w >> 16));
    if (pad < 2) out->push_back(static_cast<char>((w >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(w & 0xFF));
  }
  return true;
}

namespace {

void add_sidecar_specials(const std::string& sidecar, BpeSpec* spec) {
  const ordered_json j = read_json_file(sidecar);
  try {
    if (j.contains("pre_tokenizer_regex"))
      spec->split_patterns = {j.at("pre_tokenizer_regex").get<std::string>()};
    if (j.contains("special_tokens"))
      for (const auto& [text, id] : j.at("special_tokens").items())
        spec->added.push_back({text, id.get<int32_t>()});
  } catch (const nlohmann::json::exception& e) {
    throw Error(sidecar +
                ": expected {\"pre_tokenizer_regex\": str, \"special_tokens\": "
                "{text: id}}: " +
                e.what());
  }
}

}  // namespace

BpeSpec read_tiktoken_file(const std::string& path, const std::string& pattern_name) {
  const std::string text = read_file(path);
  BpeSpec spec;
  spec.kind = "tiktoken";
  spec.origin = path;
  spec.merges_from_ranks = true;
  spec.whole_token_first = true;
  size_t line_no = 0;
  std::string bytes;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    const auto bad = [&](const std::string& why) {
      return Error(SourceLocation{path, static_cast<int>(line_no), 0}, "",
                   "not a tiktoken rank file: " + why);
    };
    if (space == std::string_view::npos) throw bad("expected 'base64 rank'");
    if (!base64_decode(line.substr(0, space), &bytes) || bytes.empty())
      throw bad("bad base64 token");
    const std::string_view rank_text = line.substr(space + 1);
    int64_t rank = 0;
    if (rank_text.empty() || rank_text.size() > 9) throw bad("bad rank");
    for (char c : rank_text) {
      if (c < '0' || c > '9') throw bad("bad rank '" + std::string(rank_text) + "'");
      rank = rank * 10 + (c - '0');
    }
    if (rank != static_cast<int64_t>(spec.token_bytes.size()))
      throw bad("rank " + std::to_string(rank) + " out of order (expected " +
                std::to_string(spec.token_bytes.size()) + ")");
    spec.token_bytes.push_back(bytes);
  }
  if (spec.token_bytes.size() < 256)
    throw Error(path + ": not a tiktoken rank file: fewer than 256 tokens");

  const std::filesystem::path p(path);
  const std::string stem = p.stem().string();
  const auto sidecar = p.parent_path() / "special_tokens.json";
  const int32_t n = static_cast<int32_t>(spec.token_bytes.size());
  std::string pattern_key = pattern_name;
  if (std::filesystem::exists(sidecar) && pattern_name.empty()) {
    add_sidecar_specials(sidecar.string(), &spec);
  } else {
    if (pattern_key.empty()) {
      if (stem.rfind("qwen", 0) == 0)
        pattern_key = "qwen2";
      else if (stem.rfind("cl100k", 0) == 0)
        pattern_key = "cl100k";
      else if (stem.rfind("llama3", 0) == 0 || stem == "tokenizer")
        pattern_key = "llama3";
    }
    if (pattern_key.empty())
      throw Error(
          path +
          ": cannot tell which pre-tokenizer pattern this tiktoken file uses; put a "
          "special_tokens.json beside it or pass a pattern name (qwen2, llama3, cl100k, gpt2)");
    const std::string pattern = named_pretokenizer_pattern(pattern_key);
    if (pattern.empty())
      throw Error(path + ": unknown pre-tokenizer pattern '" + pattern_key + "'");
    spec.split_patterns = {pattern};
    if (pattern_key == "qwen2") {
      spec.added = {{"<|endoftext|>", n}, {"<|im_start|>", n + 1}, {"<|im_end|>", n + 2}};
    } else if (pattern_key == "cl100k" && n == 100256) {
      // cl100k_base's own specials (their ids only make sense with its 100,256 ranks).
      spec.added = {{"<|endoftext|>", 100257},
                    {"<|fim_prefix|>", 100258},
                    {"<|fim_middle|>", 100259},
                    {"<|fim_suffix|>", 100260},
                    {"<|endofprompt|>", 100276}};
    }
  }
  int32_t max_id = n - 1;
  for (const auto& a : spec.added) max_id = std::max(max_id, a.id);
  if (max_id > n + (1 << 20))
    throw Error(path + ": special token ids lie too far past the ranks (largest " +
                std::to_string(max_id) + ")");
  spec.token_bytes.resize(max_id + 1);
  for (const auto& a : spec.added) {
    if (a.id < n)
      throw Error(path + ": special token '" + a.text + "' id " + std::to_string(a.id) +
                  " collides with an ordinary rank");
    spec.token_bytes[a.id] = a.text;
  }
  for (const auto& a : spec.added)
    if (a.text == "<|endoftext|>") spec.eos = a.id;
  return spec;
}

}  // namespace principia::tokenizer
