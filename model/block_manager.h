// Bookkeeping of a paged KV cache (no tensors): a pool of fixed-size blocks, a block table per
// sequence, reference counts, and a prefix cache of full blocks.
//
// A sequence's position p lives in slot table[p / block_size] * block_size + p % block_size.
// A full block is cached under the content of the whole prefix it ends (a hash chained over
// the blocks before it, the block's own tokens kept to check a hit), so sequences that share a
// token prefix share its blocks: the judge's system prompt is computed once for every sequence,
// the principle and prompt once for the G samples of an item. Only full blocks are shared and
// a shared block is never written again (a sequence's first divergent block is its own from the
// start), so no block ever needs copying on write. A block whose last user is gone stays findable
// until the pool needs it (least recently freed first).
//
// Block 0 is scratch: padding tokens of a batched forward write there and padded key positions
// read from there, so no block table ever holds it.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace principia::model {

using BlockTable = std::vector<int32_t>;

class BlockManager {
 public:
  static constexpr int32_t kScratchBlock = 0;

  // `num_blocks` includes the scratch block; at least 2. Prefix caching off: no block is shared.
  BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching);

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return int64_t(blocks_.size()); }
  int64_t blocks_for(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  // Blocks that can be handed out now: never used, or cached with no sequence using them.
  int64_t free_blocks() const { return int64_t(free_.size() + evictable_.size()); }
  int64_t used_blocks() const { return num_blocks() - 1 - free_blocks(); }

  // Blocks for a sequence whose first `tokens` are to be in the cache: the cached blocks that
  // hold its longest prefix of full blocks, then new ones (its full blocks become findable at
  // once, so a sequence allocated after this one in the same forward shares them: the forward
  // writes every row's keys before any row reads). At least the last token is left to compute,
  // so its logits exist. Returns false and holds nothing when the pool lacks the blocks.
  // `cached_tokens`: how many leading tokens are already in the cache (a multiple of block_size).
  bool allocate(const std::vector<int64_t>& tokens, BlockTable& table, int64_t* cached_tokens);

  // How many leading tokens of `tokens` allocate() would find cached now (changes nothing).
  int64_t cached_prefix(const std::vector<int64_t>& tokens) const;

  // Room for the token at position `pos` (= the tokens already in `table`): a new block when
  // `pos` starts one. False when the pool has none left.
  bool append_slot(BlockTable& table, int64_t pos);

  // Drops the sequence's references; its cached blocks stay findable until reused.
  void release(BlockTable& table);

  // Forget every cached prefix (the weights changed). Blocks in use are kept.
  void reset_prefix_cache();

  int64_t slot(const BlockTable& table, int64_t pos) const {
    return int64_t(table[size_t(pos / block_size_)]) * block_size_ + pos % block_size_;
  }

 private:
  struct Block {
    int32_t refs = 0;
    bool cached = false;  // findable under `key`
    uint64_t key = 0;
    uint64_t parent_key = 0;
    std::vector<int64_t> tokens;       // its content when cached (checked on a hit)
    std::list<int32_t>::iterator lru;  // in evictable_ while cached and unused
  };
  int32_t take_block();  // a free block, evicting the least recently freed cached one if needed
  void uncache(int32_t b);
  int32_t find_cached(uint64_t parent_key, const int64_t* tokens, uint64_t* key) const;
  // The cached blocks holding the longest prefix of full blocks, leaving at least one token out;
  // `keys` gets the key of every full block of `tokens`.
  std::vector<int32_t> match_prefix(const std::vector<int64_t>& tokens,
                                    std::vector<uint64_t>& keys) const;

  int64_t block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;     // never used or uncached
  std::list<int32_t> evictable_;  // cached, no users; front = freed longest ago
  std::unordered_map<uint64_t, int32_t> by_key_;
};

}  // namespace principia::model
