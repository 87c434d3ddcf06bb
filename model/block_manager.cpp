#include "model/block_manager.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace principia::model {
namespace {

uint64_t mix(uint64_t h, uint64_t v) {  // splitmix64 finaliser over h ^ v
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t block_key(uint64_t parent_key, const int64_t* tokens, int64_t n) {
  uint64_t h = mix(0x6a09e667f3bcc908ULL, parent_key);
  for (int64_t i = 0; i < n; ++i) h = mix(h, uint64_t(tokens[i]));
  return h;
}

constexpr uint64_t kRootKey = 0x510e527fade682d1ULL;  // the empty prefix

}  // namespace

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : block_size_(block_size),
      prefix_caching_(prefix_caching),
      blocks_(size_t(std::max<int64_t>(num_blocks, 0))) {
  if (num_blocks < 2)
    throw Error("paged KV cache: needs at least 2 blocks (one is scratch), got " +
                std::to_string(num_blocks));
  if (block_size < 1) throw Error("paged KV cache: block_size must be >= 1");
  for (int64_t b = num_blocks - 1; b >= 1; --b)
    free_.push_back(int32_t(b));  // pop_back gives 1, 2, ...
}

int32_t BlockManager::find_cached(uint64_t parent_key, const int64_t* tokens, uint64_t* key) const {
  *key = block_key(parent_key, tokens, block_size_);
  auto it = by_key_.find(*key);
  if (it == by_key_.end()) return -1;
  const Block& b = blocks_[size_t(it->second)];
  if (b.parent_key != parent_key || !std::equal(b.tokens.begin(), b.tokens.end(), tokens))
    return -1;
  return it->second;
}

void BlockManager::uncache(int32_t b) {
  Block& blk = blocks_[size_t(b)];
  if (!blk.cached) return;
  by_key_.erase(blk.key);
  blk.cached = false;
  blk.tokens.clear();
}

int32_t BlockManager::take_block() {
  int32_t b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    b = evictable_.front();
    evictable_.pop_front();
    uncache(b);
  }
  blocks_[size_t(b)].refs = 1;
  return b;
}

std::vector<int32_t> BlockManager::match_prefix(const std::vector<int64_t>& tokens,
                                                std::vector<uint64_t>& keys) const {
  const int64_t n = int64_t(tokens.size());
  const int64_t full = n / block_size_;
  std::vector<int32_t> hits;
  keys.assign(size_t(full), 0);
  uint64_t parent = kRootKey;
  for (int64_t i = 0; i < full; ++i) {
    const int64_t* block_tokens = tokens.data() + i * block_size_;
    int32_t b = -1;
    if (prefix_caching_ && hits.size() == size_t(i) && (i + 1) * block_size_ < n)
      b = find_cached(parent, block_tokens, &keys[size_t(i)]);
    else
      keys[size_t(i)] = block_key(parent, block_tokens, block_size_);
    if (b >= 0) hits.push_back(b);
    parent = keys[size_t(i)];
  }
  return hits;
}

int64_t BlockManager::cached_prefix(const std::vector<int64_t>& tokens) const {
  std::vector<uint64_t> keys;
  return int64_t(match_prefix(tokens, keys).size()) * block_size_;
}

bool BlockManager::allocate(const std::vector<int64_t>& tokens, BlockTable& table,
                            int64_t* cached_tokens) {
  table.clear();
  *cached_tokens = 0;
  const int64_t n = int64_t(tokens.size());
  const int64_t full = n / block_size_;
  std::vector<uint64_t> keys;
  const std::vector<int32_t> hits = match_prefix(tokens, keys);
  const int64_t fresh = blocks_for(n) - int64_t(hits.size());
  int64_t reclaimed = 0;  // hits that are idle in the evictable list leave it
  for (int32_t b : hits) reclaimed += blocks_[size_t(b)].refs == 0;
  if (fresh + reclaimed > free_blocks()) return false;

  for (int32_t b : hits) {
    Block& blk = blocks_[size_t(b)];
    if (blk.refs++ == 0) evictable_.erase(blk.lru);
    table.push_back(b);
  }
  uint64_t parent = hits.empty() ? kRootKey : keys[hits.size() - 1];
  for (int64_t i = int64_t(hits.size()); i < blocks_for(n); ++i) {
    const int32_t b = take_block();
    table.push_back(b);
    if (prefix_caching_ && i < full && !by_key_.count(keys[size_t(i)])) {
      Block& blk = blocks_[size_t(b)];
      blk.cached = true;
      blk.key = keys[size_t(i)];
      blk.parent_key = parent;
      blk.tokens.assign(tokens.begin() + i * block_size_, tokens.begin() + (i + 1) * block_size_);
      by_key_[blk.key] = b;
    }
    if (i < full) parent = keys[size_t(i)];
  }
  *cached_tokens = int64_t(hits.size()) * block_size_;
  return true;
}

bool BlockManager::append_slot(BlockTable& table, int64_t pos) {
  if (pos < int64_t(table.size()) * block_size_) return true;
  if (free_blocks() == 0) return false;
  table.push_back(take_block());
  return true;
}

void BlockManager::release(BlockTable& table) {
  // Last block first: when the pool runs short, the tail of a prefix is evicted before its head.
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    Block& blk = blocks_[size_t(*it)];
    if (--blk.refs > 0) continue;
    if (blk.cached)
      blk.lru = evictable_.insert(evictable_.end(), *it);
    else
      free_.push_back(*it);
  }
  table.clear();
}

void BlockManager::reset_prefix_cache() {
  for (int32_t b : evictable_) {
    uncache(b);
    free_.push_back(b);
  }
  evictable_.clear();
  for (size_t b = 1; b < blocks_.size(); ++b) uncache(int32_t(b));
}

}  // namespace principia::model
