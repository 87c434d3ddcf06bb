#include "model/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "model/tokenizer/utf8.h"

namespace principia::tokenizer {

namespace {
constexpr size_t kCacheMaxEntries = 1 << 18;
constexpr size_t kShortPiece = 48;  // up to this many bytes: O(n^2) scan beats a heap
}  // namespace

const std::vector<std::string>& byte_to_unicode() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      std::string s;
      append_utf8(s, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++));
      t[b] = s;
    }
    return t;
  }();
  return table;
}

bool unicode_to_bytes(std::string_view token, std::string* bytes) {
  static const std::unordered_map<std::string, char> inverse = [] {
    std::unordered_map<std::string, char> m;
    const auto& t = byte_to_unicode();
    for (int b = 0; b < 256; ++b) m[t[b]] = static_cast<char>(b);
    return m;
  }();
  bytes->clear();
  for (size_t i = 0; i < token.size();) {
    const size_t n = utf8_sequence_length(token, i);
    if (n == 0) return false;
    auto it = inverse.find(std::string(token.substr(i, n)));
    if (it == inverse.end()) return false;
    *bytes += it->second;
    i += n;
  }
  return true;
}

BpeTokenizer::BpeTokenizer(BpeSpec spec) : spec_(std::move(spec)) {
  const std::string& origin = spec_.origin;
  const int32_t n = static_cast<int32_t>(spec_.token_bytes.size());
  for (const auto& a : spec_.added)
    if (a.id < 0 || a.id >= n)
      throw Error(origin + ": added token '" + a.text + "' has id " + std::to_string(a.id) +
                  " outside the vocabulary");
  std::vector<bool> is_added(n, false);
  for (const auto& a : spec_.added) is_added[a.id] = true;

  bytes_to_id_.reserve(n);
  for (int32_t id = 0; id < n; ++id) {
    const std::string& b = spec_.token_bytes[id];
    // Added tokens are reached by the special splitter only, never by BPE lookups.
    if (!b.empty() && !is_added[id] && bytes_to_id_.find(b) < 0) bytes_to_id_.insert(b, id);
  }
  if (!spec_.token_names.empty()) {
    name_to_id_.reserve(n);
    for (int32_t id = 0; id < n; ++id)
      if (!spec_.token_names[id].empty()) name_to_id_.insert(spec_.token_names[id], id);
  }
  for (int b = 0; b < 256; ++b) {
    byte_token_[b] = bytes_to_id_.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    if (byte_token_[b] < 0)
      throw Error(origin + ": not a byte-level vocabulary: no token for byte 0x" + [&] {
        char h[3];
        std::snprintf(h, sizeof h, "%02X", b);
        return std::string(h);
      }());
  }

  if (spec_.merges_from_ranks) {
    // Every way to write a token as two tokens is a merge with that token's rank (= id), which is
    // exactly tiktoken's "rank of the concatenation" rule over parts that are always tokens.
    pairs_.reserve(static_cast<size_t>(n) * 4);
    for (int32_t id = 0; id < n; ++id) {
      const std::string& t = spec_.token_bytes[id];
      if (t.size() < 2 || is_added[id]) continue;
      for (size_t cut = 1; cut < t.size(); ++cut) {
        const int32_t l = bytes_to_id_.find(std::string_view(t).substr(0, cut));
        if (l < 0) continue;
        const int32_t r = bytes_to_id_.find(std::string_view(t).substr(cut));
        if (r < 0) continue;
        pairs_.insert(l, r, {static_cast<uint32_t>(id), id});
      }
    }
  } else {
    pairs_.reserve(spec_.merges.size());
    for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
      const auto [l, r] = spec_.merges[rank];
      if (l < 0 || r < 0 || l >= n || r >= n)
        throw Error(origin + ": merge " + std::to_string(rank) + " refers to an unknown token");
      const int32_t merged = bytes_to_id_.find(spec_.token_bytes[l] + spec_.token_bytes[r]);
      if (merged < 0)
        throw Error(origin + ": merge " + std::to_string(rank) + " (" + id_to_token(l) + " " +
                    id_to_token(r) + ") produces a token that is not in the vocabulary");
      pairs_.insert(l, r, {static_cast<uint32_t>(rank), merged});
    }
  }

  for (const auto& p : spec_.split_patterns)
    splitters_.push_back(std::make_unique<Pretokenizer>(p, origin));
  specials_ = spec_.added;
  std::stable_sort(
      specials_.begin(), specials_.end(),
      [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  if (add_bos && spec_.bos >= 0) out.push_back(spec_.bos);
  encode_ordinary(text, &out);
  return out;
}

void BpeTokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::string normalized;
  if (spec_.nfc) {
    normalized = nfc(text);
    text = normalized;
  }
  if (spec_.add_prefix_space && text[0] != ' ') {
    std::string prefixed;  // (not `" " + std::string`: GCC 12 -Wrestrict false positive)
    prefixed.reserve(text.size() + 1);
    prefixed += ' ';
    prefixed += text;
    normalized = std::move(prefixed);
    text = normalized;
  }
  std::vector<std::string_view> pieces, next;
  pieces.push_back(text);
  for (const auto& splitter : splitters_) {
    next.clear();
    for (std::string_view p : pieces) splitter->split(p, &next);
    pieces.swap(next);
  }
  for (std::string_view p : pieces) encode_pretoken(p, out);
}

void BpeTokenizer::encode_pretoken(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  if (piece.size() == 1) {
    out->push_back(byte_token_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (spec_.whole_token_first) {
    const int32_t id = bytes_to_id_.find(piece);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out->size();
  if (piece.size() <= kShortPiece)
    merge_short(piece, out);
  else
    merge_long(piece, out);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheMaxEntries) cache_.clear();
  cache_.emplace(std::string(piece), std::vector<int32_t>(out->begin() + before, out->end()));
}

void BpeTokenizer::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  cache_.clear();
}

// tiktoken's loop: parts and the ranks of adjacent pairs in arrays, merge the minimum, repeat.
void BpeTokenizer::merge_short(std::string_view piece, std::vector<int32_t>* out) const {
  int32_t ids[kShortPiece];
  PairIndex::Merge ranks[kShortPiece];
  size_t n = piece.size();
  for (size_t i = 0; i < n; ++i) ids[i] = byte_token_[static_cast<unsigned char>(piece[i])];
  for (size_t i = 0; i + 1 < n; ++i) ranks[i] = pairs_.find(ids[i], ids[i + 1]);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (ranks[i].rank < ranks[best].rank) best = i;
    if (ranks[best].merged < 0) break;
    ids[best] = ranks[best].merged;
    for (size_t i = best + 1; i + 1 < n; ++i) ids[i] = ids[i + 1];
    for (size_t i = best + 1; i + 2 < n; ++i) ranks[i] = ranks[i + 1];
    --n;
    if (best > 0) ranks[best - 1] = pairs_.find(ids[best - 1], ids[best]);
    if (best + 1 < n) ranks[best] = pairs_.find(ids[best], ids[best + 1]);
  }
  out->insert(out->end(), ids, ids + n);
}

// Long pre-tokens (runs of spaces, long symbol strings): a doubly linked list of parts and a heap
// of candidate merges ordered by (rank, position), so the same merge as the scan above is chosen
// each step in O(log n). Stale heap entries are skipped: a node's id only ever grows, so an entry
// whose ids still match the nodes at its position is still exactly that pair.
void BpeTokenizer::merge_long(std::string_view piece, std::vector<int32_t>* out) const {
  const size_t n = piece.size();
  std::vector<int32_t> id(n), next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    id[i] = byte_token_[static_cast<unsigned char>(piece[i])];
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
    prev[i] = static_cast<int32_t>(i) - 1;
  }
  struct Cand {
    uint32_t rank;
    int32_t pos, left, right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    const auto m = pairs_.find(id[pos], id[next[pos]]);
    if (m.merged >= 0) heap.push({m.rank, pos, id[pos], id[next[pos]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t r = next[c.pos];
    if (!alive[c.pos] || r < 0 || id[c.pos] != c.left || id[r] != c.right) continue;
    id[c.pos] = pairs_.find(c.left, c.right).merged;
    alive[r] = false;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out->push_back(id[i]);
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || spec_.token_bytes[id].empty())
      throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary of " +
                  spec_.origin + " (size " + std::to_string(vocab_size()) + ")");
    out += spec_.token_bytes[id];
  }
  return out;
}

std::optional<int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  for (const auto& s : specials_)
    if (s.text == token) return s.id;
  const int32_t id = spec_.token_names.empty() ? bytes_to_id_.find(token) : name_to_id_.find(token);
  if (id < 0) return std::nullopt;
  return id;
}

std::string BpeTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size() || spec_.token_bytes[id].empty())
    throw Error("token id " + std::to_string(id) + " is not in the vocabulary of " + spec_.origin);
  if (!spec_.token_names.empty() && !spec_.token_names[id].empty()) return spec_.token_names[id];
  return spec_.token_bytes[id];
}

}  // namespace principia::tokenizer
