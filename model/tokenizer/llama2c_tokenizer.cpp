#include "model/tokenizer/llama2c_tokenizer.h"

#include "core/error.h"
#include "core/jsonl.h"
#include "model/tokenizer/utf8.h"

namespace principia::tokenizer {

namespace {
constexpr int32_t kUnk = 0, kBos = 1, kEos = 2, kFirstByte = 3;

// "<0xNN>" -> NN, else -1.
int byte_piece(const std::string& p) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = p[k];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}
}  // namespace

Llama2cTokenizer::Llama2cTokenizer(const std::string& path) : path_(path) {
  const ordered_json j = read_json_file(path);
  if (!j.is_array()) throw Error(path + ": expected a JSON array of {id, piece, score}");
  pieces_.resize(j.size());
  scores_.resize(j.size());
  std::vector<bool> seen(j.size(), false);
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string key = "[" + std::to_string(i) + "]";
    const auto& e = j[i];
    if (!e.is_object() || !e.contains("id") || !e.contains("piece") || !e.contains("score") ||
        !e["id"].is_number_integer() || !e["piece"].is_string() || !e["score"].is_number())
      throw Error(SourceLocation{path, 0, 0}, key,
                  "expected {\"id\": int, \"piece\": str, \"score\": number}");
    const int64_t id = e["id"].get<int64_t>();
    if (id < 0 || id >= static_cast<int64_t>(j.size()) || seen[id])
      throw Error(SourceLocation{path, 0, 0}, key + ".id",
                  "id " + std::to_string(id) + " is out of range or repeated");
    seen[id] = true;
    pieces_[id] = e["piece"].get<std::string>();
    scores_[id] = e["score"].get<float>();
  }
  if (pieces_.size() < kFirstByte + 256)
    throw Error(path + ": a llama2.c vocabulary needs <unk>, BOS, EOS and 256 byte pieces");
  for (int b = 0; b < 256; ++b)
    if (byte_piece(pieces_[kFirstByte + b]) != b)
      throw Error(SourceLocation{path, 0, 0}, "[" + std::to_string(kFirstByte + b) + "]",
                  "expected the byte piece for 0x" + std::to_string(b));
  for (int32_t id = static_cast<int32_t>(pieces_.size()) - 1; id >= 0; --id) ids_[pieces_[id]] = id;
  specials_ = {{pieces_[kEos], kEos}, {pieces_[kBos], kBos}, {pieces_[kUnk], kUnk}};
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view raw, bool add_bos) const {
  const std::string text = replace_invalid_utf8(raw);
  std::vector<int32_t> t;
  if (add_bos) t.push_back(kBos);
  if (text.empty()) return t;
  const size_t first = t.size();
  // Dummy prefix, as sentencepiece's add_dummy_prefix: the text starts a word.
  if (auto it = ids_.find(" "); it != ids_.end()) t.push_back(it->second);
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence_length(text, i);  // >= 1: text is valid UTF-8
    auto it = ids_.find(text.substr(i, n));
    if (it != ids_.end()) {
      t.push_back(it->second);
    } else {
      for (size_t k = 0; k < n; ++k)
        t.push_back(kFirstByte + static_cast<unsigned char>(text[i + k]));
    }
    i += n;
  }
  // Score-greedy merges, exactly llama2.c's loop (strictly greater score wins: leftmost on ties).
  std::string merged;
  while (true) {
    float best_score = -1e10f;
    int32_t best_id = -1;
    size_t best_idx = 0;
    for (size_t i = first; i + 1 < t.size(); ++i) {
      merged = pieces_[t[i]] + pieces_[t[i + 1]];
      auto it = ids_.find(merged);
      if (it != ids_.end() && scores_[it->second] > best_score) {
        best_score = scores_[it->second];
        best_id = it->second;
        best_idx = i;
      }
    }
    if (best_id < 0) break;
    t[best_idx] = best_id;
    t.erase(t.begin() + best_idx + 1);
  }
  return t;
}

std::string Llama2cTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool strip = true;  // start of text: the dummy-prefix space goes
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary of " +
                  path_ + " (size " + std::to_string(vocab_size()) + ")");
    if (id == kBos || id == kEos) {
      strip = id == kBos;
      continue;
    }
    const std::string& p = pieces_[id];
    const int b = byte_piece(p);
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      out += (strip && !p.empty() && p[0] == ' ') ? p.substr(1) : p;
    }
    strip = false;
  }
  return out;
}

std::optional<int32_t> Llama2cTokenizer::token_to_id(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string Llama2cTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + path_);
  return pieces_[id];
}

}  // namespace principia::tokenizer
