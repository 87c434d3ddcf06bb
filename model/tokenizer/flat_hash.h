// Open-addressing hash tables for the BPE hot path: byte strings -> token id and token-id pairs
// -> (merge rank, merged id). Linear probing, power-of-two capacity, load factor <= 1/2; built
// once at load time and read-only afterwards (safe to share between threads).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace principia::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  // A multiply-xorshift hash over 8-byte words: fast for the short strings pre-tokens are.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0xC2B2AE3D27D4EB4Full ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t k;
    std::memcpy(&k, p, 8);
    h = (h ^ (k * kMul)) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t k = 0;
    std::memcpy(&k, p, n);
    h = (h ^ (k * kMul)) * 0xFF51AFD7ED558CCDull;
  }
  h ^= h >> 32;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  return h;
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x;
}

// Byte string -> int32. Keys are copied into an internal arena.
class BytesIndex {
 public:
  void reserve(size_t n) { rehash(capacity_for(n)); }
  // Inserts or overwrites.
  void insert(std::string_view key, int32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(capacity_for(size_ + 1));
    size_t i = hash_bytes(key) & mask_;
    while (slots_[i].value >= 0) {
      if (view(slots_[i]) == key) {
        slots_[i].value = value;
        return;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] =
        Slot{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), value};
    arena_.append(key);
    ++size_;
  }
  // -1 when absent.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    size_t i = hash_bytes(key) & mask_;
    while (slots_[i].value >= 0) {
      if (slots_[i].length == key.size() && view(slots_[i]) == key) return slots_[i].value;
      i = (i + 1) & mask_;
    }
    return -1;
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t offset = 0, length = 0;
    int32_t value = -1;
  };
  std::string_view view(const Slot& s) const { return {arena_.data() + s.offset, s.length}; }
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < n * 2) c <<= 1;
    return c;
  }
  void rehash(size_t capacity) {
    if (capacity <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.value < 0) continue;
      size_t i = hash_bytes(view(s)) & mask_;
      while (slots_[i].value >= 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// (left id, right id) -> (rank, merged id). Lower rank merges first.
class PairIndex {
 public:
  struct Merge {
    uint32_t rank = UINT32_MAX;
    int32_t merged = -1;
  };
  void reserve(size_t n) { rehash(capacity_for(n)); }
  // Keeps the lower rank when the pair is already present.
  void insert(int32_t left, int32_t right, Merge m) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(capacity_for(size_ + 1));
    const uint64_t key = pack(left, right);
    size_t i = hash_u64(key) & mask_;
    while (slots_[i].merge.merged >= 0) {
      if (slots_[i].key == key) {
        if (m.rank < slots_[i].merge.rank) slots_[i].merge = m;
        return;
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, m};
    ++size_;
  }
  Merge find(int32_t left, int32_t right) const {
    const uint64_t key = pack(left, right);
    size_t i = hash_u64(key) & mask_;
    while (slots_[i].merge.merged >= 0) {
      if (slots_[i].key == key) return slots_[i].merge;
      i = (i + 1) & mask_;
    }
    return {};
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key = 0;
    Merge merge;
  };
  static uint64_t pack(int32_t l, int32_t r) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
  }
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < n * 2) c <<= 1;
    return c;
  }
  void rehash(size_t capacity) {
    if (capacity <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.merge.merged < 0) continue;
      size_t i = hash_u64(s.key) & mask_;
      while (slots_[i].merge.merged >= 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_{16};
  size_t mask_ = 15;
  size_t size_ = 0;
};

}  // namespace principia::tokenizer
