#include "model/tokenizer/sentencepiece_hf_json.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"

namespace principia::tokenizer {
namespace {

using ojson = nlohmann::ordered_json;

// The few fields of sentencepiece_model.proto the conversion reads (field numbers from there).
enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct Piece {
  std::string text;
  float score = 0;
  int type = kNormal;
};

struct ModelProto {
  std::vector<Piece> pieces;
  int model_type = 1;  // 1 unigram, 2 bpe, 3 word, 4 char
  bool byte_fallback = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_piece = "<unk>", bos_piece = "<s>", eos_piece = "</s>", pad_piece = "<pad>";
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

// Protobuf wire format: (field << 3 | wire type) keys, varints, 32-bit floats, length-delimited.
class WireReader {
 public:
  WireReader(std::string_view data, const std::string& where) : p_(data), where_(where) {}
  bool done() const { return p_.empty(); }
  void key(uint32_t* field, uint32_t* wire) {
    const uint64_t k = varint();
    *field = static_cast<uint32_t>(k >> 3);
    *wire = static_cast<uint32_t>(k & 7);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_.empty()) bad();
      const auto b = static_cast<uint8_t>(p_[0]);
      p_.remove_prefix(1);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    bad();
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > p_.size()) bad();
    std::string_view out = p_.substr(0, n);
    p_.remove_prefix(n);
    return out;
  }
  float fixed32() {
    if (p_.size() < 4) bad();
    float f;
    std::memcpy(&f, p_.data(), 4);  // little-endian, as every supported host
    p_.remove_prefix(4);
    return f;
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: if (p_.size() < 8) bad(); p_.remove_prefix(8); return;
      case 2: bytes(); return;
      case 5: fixed32(); return;
      default: bad();
    }
  }
  [[noreturn]] void bad() const {
    throw Error(where_ + ": not a valid SentencePiece model (truncated or corrupt protobuf)");
  }

 private:
  std::string_view p_;
  const std::string& where_;
};

ModelProto parse_model(const std::string& bytes, const std::string& where) {
  ModelProto m;
  WireReader r(bytes, where);
  uint32_t field, wire;
  while (!r.done()) {
    r.key(&field, &wire);
    if (field == 1 && wire == 2) {
      WireReader pr(r.bytes(), where);
      Piece piece;
      while (!pr.done()) {
        pr.key(&field, &wire);
        if (field == 1 && wire == 2) piece.text = std::string(pr.bytes());
        else if (field == 2 && wire == 5) piece.score = pr.fixed32();
        else if (field == 3 && wire == 0) piece.type = static_cast<int>(pr.varint());
        else pr.skip(wire);
      }
      m.pieces.push_back(std::move(piece));
    } else if (field == 2 && wire == 2) {
      WireReader tr(r.bytes(), where);
      while (!tr.done()) {
        tr.key(&field, &wire);
        auto int32 = [&] { return static_cast<int32_t>(static_cast<int64_t>(tr.varint())); };
        if (field == 3 && wire == 0) m.model_type = int32();
        else if (field == 35 && wire == 0) m.byte_fallback = tr.varint() != 0;
        else if (field == 40 && wire == 0) m.unk_id = int32();
        else if (field == 41 && wire == 0) m.bos_id = int32();
        else if (field == 42 && wire == 0) m.eos_id = int32();
        else if (field == 43 && wire == 0) m.pad_id = int32();
        else if (field == 45 && wire == 2) m.unk_piece = std::string(tr.bytes());
        else if (field == 46 && wire == 2) m.bos_piece = std::string(tr.bytes());
        else if (field == 47 && wire == 2) m.eos_piece = std::string(tr.bytes());
        else if (field == 48 && wire == 2) m.pad_piece = std::string(tr.bytes());
        else tr.skip(wire);
      }
    } else if (field == 3 && wire == 2) {
      WireReader nr(r.bytes(), where);
      while (!nr.done()) {
        nr.key(&field, &wire);
        if (field == 2 && wire == 2) m.precompiled_charsmap = std::string(nr.bytes());
        else if (field == 3 && wire == 0) m.add_dummy_prefix = nr.varint() != 0;
        else if (field == 4 && wire == 0) m.remove_extra_whitespaces = nr.varint() != 0;
        else if (field == 5 && wire == 0) m.escape_whitespaces = nr.varint() != 0;
        else nr.skip(wire);
      }
    } else {
      r.skip(wire);
    }
  }
  if (m.pieces.empty()) throw Error(where + ": not a SentencePiece model (no pieces)");
  return m;
}

std::string base64_encode(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 |
                       uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// Python's re.escape, which the reference conversion uses for the user-defined pieces.
std::string regex_escape(const std::string& s) {
  static const std::string kSpecial = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
  std::string out;
  for (char c : s) {
    if (kSpecial.find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

ojson replace(const char* kind, const std::string& pattern, const std::string& content) {
  return {{"type", "Replace"}, {"pattern", {{kind, pattern}}}, {"content", content}};
}

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's whitespace mark

}  // namespace

SentencePieceHfJson sentencepiece_to_hf_json(const std::string& model_path) {
  const ModelProto m = parse_model(read_file(model_path), model_path);
  if (m.model_type != 1 && m.model_type != 2)
    throw Error(model_path + ": SentencePiece model type " + std::to_string(m.model_type) +
                " (word/char) has no tokenizer.json equivalent; only unigram and bpe export");
  const int32_t n = static_cast<int32_t>(m.pieces.size());
  SentencePieceHfJson out;
  auto id_piece = [&](int32_t id, const std::string& name, int32_t* id_out, std::string* piece_out) {
    if (id < 0) return;
    if (id >= n)
      throw Error(model_path + ": " + name + " id " + std::to_string(id) + " is outside the " +
                  std::to_string(n) + " pieces");
    *id_out = id;
    *piece_out = m.pieces[id].text;
  };
  id_piece(m.unk_id, "unk", &out.unk_id, &out.unk_piece);
  id_piece(m.bos_id, "bos", &out.bos_id, &out.bos_piece);
  id_piece(m.eos_id, "eos", &out.eos_id, &out.eos_piece);
  id_piece(m.pad_id, "pad", &out.pad_id, &out.pad_piece);

  ojson added = ojson::array();
  std::vector<std::string> user_defined;
  for (int32_t i = 0; i < n; ++i) {
    const Piece& p = m.pieces[i];
    if (p.type == kControl || p.type == kUnknown) {
      out.specials.emplace_back(i, p.text);
      added.push_back({{"id", i},
                       {"content", p.text},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    } else if (p.type == kUserDefined) {
      user_defined.push_back(p.text);
    }
  }

  ojson norms = ojson::array();
  if (!m.precompiled_charsmap.empty())
    norms.push_back({{"type", "Precompiled"},
                     {"precompiled_charsmap", base64_encode(m.precompiled_charsmap)}});
  if (m.remove_extra_whitespaces) {
    // Only spaces: SentencePiece leaves other whitespace to the charsmap.
    norms.push_back(replace("Regex", "\\A +| +\\z", ""));
    norms.push_back(replace("Regex", " {2,}", " "));
  }
  if (m.escape_whitespaces) norms.push_back(replace("String", " ", kSpace));
  // Metaspace does not prefix a text that already starts with "▁"; SentencePiece does.
  if (m.add_dummy_prefix) norms.push_back(replace("Regex", "\\A" + kSpace, kSpace + kSpace));

  ojson pres = ojson::array();
  if (m.add_dummy_prefix)
    pres.push_back({{"type", "Metaspace"},
                    {"replacement", kSpace},
                    {"prepend_scheme", "always"},
                    {"split", false}});
  if (!user_defined.empty()) {
    std::vector<std::string> sorted = user_defined;
    std::stable_sort(sorted.begin(), sorted.end(), [](const std::string& a, const std::string& b) {
      return code_points(a) > code_points(b);
    });
    std::string pattern;
    for (const auto& s : sorted) pattern += (pattern.empty() ? "" : "|") + regex_escape(s);
    pres.push_back({{"type", "Split"},
                    {"pattern", {{"Regex", pattern}}},
                    {"behavior", "Isolated"},
                    {"invert", false}});
  }

  ojson decs = ojson::array();
  decs.push_back(replace("String", kSpace, " "));
  if (m.byte_fallback) decs.push_back({{"type", "ByteFallback"}});
  if (m.add_dummy_prefix) {
    decs.push_back({{"type", "Fuse"}});
    decs.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  } else if (m.byte_fallback) {
    decs.push_back({{"type", "Fuse"}});
  }

  // No post-processor: tokenizer(text) adds no BOS. The chat template writes it (plain), so a
  // rendered prompt tokenizes to principia's ids whether the caller then adds special tokens
  // (transformers' tokenizer(rendered), as the RewardAnything package does) or not
  // (apply_chat_template(tokenize=True), vLLM's chat): "<s>" in the text is the special token.
  ojson model;
  if (m.model_type == 2) {
    ojson vocab = ojson::object();
    for (int32_t i = 0; i < n; ++i) vocab[m.pieces[i].text] = i;
    // Merges of normal pieces only, highest merged-piece score first (then id, then the split),
    // which is SentencePiece's BPE order.
    std::unordered_map<std::string, int32_t> normal;
    for (int32_t i = 0; i < n; ++i)
      if (m.pieces[i].type == kNormal) normal.emplace(m.pieces[i].text, i);
    std::vector<std::tuple<float, int32_t, std::string, std::string>> ranked;
    for (int32_t i = 0; i < n; ++i) {
      const Piece& p = m.pieces[i];
      if (p.type != kNormal) continue;
      for (size_t k = 1; k < p.text.size(); ++k) {
        std::string left = p.text.substr(0, k), right = p.text.substr(k);
        if (normal.count(left) && normal.count(right))
          ranked.emplace_back(-p.score, i, std::move(left), std::move(right));
      }
    }
    std::sort(ranked.begin(), ranked.end());
    ojson merges = ojson::array();
    for (const auto& [score, id, left, right] : ranked) merges.push_back({left, right});
    model = {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", out.unk_id >= 0 ? ojson(out.unk_piece) : ojson(nullptr)},
             {"continuing_subword_prefix", nullptr},
             {"end_of_word_suffix", nullptr},
             {"fuse_unk", true},
             {"byte_fallback", m.byte_fallback},
             {"ignore_merges", !user_defined.empty()},
             {"vocab", std::move(vocab)},
             {"merges", std::move(merges)}};
  } else {
    ojson vocab = ojson::array();
    for (const auto& p : m.pieces) vocab.push_back({p.text, static_cast<double>(p.score)});
    model = {{"type", "Unigram"},
             {"unk_id", out.unk_id >= 0 ? ojson(out.unk_id) : ojson(nullptr)},
             {"vocab", std::move(vocab)},
             {"byte_fallback", m.byte_fallback}};
  }

  out.tokenizer_json = {{"version", "1.0"},
                        {"truncation", nullptr},
                        {"padding", nullptr},
                        {"added_tokens", std::move(added)},
                        {"normalizer", {{"type", "Sequence"}, {"normalizers", std::move(norms)}}},
                        {"pre_tokenizer", pres.empty() ? ojson(nullptr)
                                                       : ojson{{"type", "Sequence"},
                                                               {"pretokenizers", std::move(pres)}}},
                        {"post_processor", nullptr},
                        {"decoder", {{"type", "Sequence"}, {"decoders", std::move(decs)}}},
                        {"model", std::move(model)}};
  return out;
}

}  // namespace principia::tokenizer
