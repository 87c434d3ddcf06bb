// The paged rollout engine: block bookkeeping (sharing, reference counts, eviction), and
// generate_paged against the static batch of generate() on a random Qwen3 and a random Llama:
// the same tokens and log-probs within 1e-5 whatever max_num_seqs, the pool size (preemption)
// or prefix caching, on a judge-like request set (a system prompt shared by all, a part shared
// by an item's samples, a part of each sample's own).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "model/block_manager.h"
#include "model/generation.h"
#include "model/paged_generation.h"
#include "model/transformer.h"
#include "tests/unit/model/judge_like_requests.h"
#include "tests/unit/model/small_config.h"

namespace principia::model {
namespace {
using testing::small_config;

TEST(BlockManager, SharesFullPrefixBlocksAndLeavesTheLastTokenToCompute) {
  BlockManager m(/*num_blocks=*/16, /*block_size=*/4, /*prefix_caching=*/true);
  const std::vector<int64_t> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  BlockTable ta, tb, tc;
  int64_t cached = -1;
  ASSERT_TRUE(m.allocate(a, ta, &cached));
  EXPECT_EQ(cached, 0);
  EXPECT_EQ(ta.size(), 3u);
  for (int32_t b : ta) EXPECT_NE(b, BlockManager::kScratchBlock);
  // Same first 8 tokens, then its own: shares two blocks, owns the third.
  const std::vector<int64_t> b = {1, 2, 3, 4, 5, 6, 7, 8, 42};
  EXPECT_EQ(m.cached_prefix(b), 8);
  ASSERT_TRUE(m.allocate(b, tb, &cached));
  EXPECT_EQ(cached, 8);
  EXPECT_EQ(tb[0], ta[0]);
  EXPECT_EQ(tb[1], ta[1]);
  EXPECT_NE(tb[2], ta[2]);
  EXPECT_EQ(m.used_blocks(), 4);
  // Exactly two full cached blocks: the second is recomputed so the last token has logits.
  const std::vector<int64_t> c = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(m.allocate(c, tc, &cached));
  EXPECT_EQ(cached, 4);
  EXPECT_EQ(tc[0], ta[0]);
  EXPECT_NE(tc[1], ta[1]);
  // A diverging first block shares nothing.
  EXPECT_EQ(m.cached_prefix({9, 2, 3, 4, 5, 6, 7, 8, 9}), 0);
  EXPECT_EQ(m.slot(ta, 5), int64_t(ta[1]) * 4 + 1);
}

TEST(BlockManager, FreedPrefixesStayFindableUntilThePoolNeedsTheirBlocks) {
  BlockManager m(/*num_blocks=*/5, /*block_size=*/2, /*prefix_caching=*/true);  // 4 usable
  BlockTable t1, t2, t3;
  int64_t cached = 0;
  ASSERT_TRUE(m.allocate({1, 2, 3, 4, 5}, t1, &cached));  // 3 blocks
  m.release(t1);
  EXPECT_TRUE(t1.empty());
  EXPECT_EQ(m.free_blocks(), 4);
  EXPECT_EQ(m.cached_prefix({1, 2, 3, 4, 9}), 4);
  // Blocks that hold no cached prefix go first (the unused one, the partial third block) ...
  ASSERT_TRUE(m.allocate({7, 8, 9}, t2, &cached));  // 2 blocks
  EXPECT_EQ(m.cached_prefix({1, 2, 3, 4, 9}), 4);
  // ... then the freed prefix's tail before its head: this one shares the head, evicts the tail.
  ASSERT_TRUE(m.allocate({1, 2, 6}, t3, &cached));
  EXPECT_EQ(cached, 2);
  EXPECT_EQ(m.cached_prefix({1, 2, 3, 4, 9}), 2);
  EXPECT_EQ(m.free_blocks(), 0);
  BlockTable t4;
  EXPECT_FALSE(m.allocate({5, 5, 5}, t4, &cached));
  EXPECT_TRUE(t4.empty());
  EXPECT_FALSE(m.append_slot(t3, 4));  // position 4 needs a third block
  EXPECT_TRUE(m.append_slot(t3, 3));   // position 3 is in its second block
  m.release(t2);
  EXPECT_TRUE(m.append_slot(t3, 4));
  m.reset_prefix_cache();
  EXPECT_EQ(m.cached_prefix({1, 2, 6}), 0);
}

TEST(BlockManager, WithoutPrefixCachingNothingIsShared) {
  BlockManager m(8, 2, /*prefix_caching=*/false);
  BlockTable a, b;
  int64_t cached = -1;
  ASSERT_TRUE(m.allocate({1, 2, 3, 4, 5}, a, &cached));
  ASSERT_TRUE(m.allocate({1, 2, 3, 4, 5}, b, &cached));
  EXPECT_EQ(cached, 0);
  EXPECT_EQ(m.used_blocks(), 6);
  EXPECT_THROW(BlockManager(1, 2, true), Error);
}

// init_std 0.2: peaked enough distributions that samples differ by row, logits of a size whose
// float32 rounding stays below the 1e-5 bar (at 0.3 the random Llama's log-probs reach |30|).
std::shared_ptr<Transformer> make_model(Arch arch, uint64_t seed) {
  torch::manual_seed(seed);
  auto m = std::make_shared<Transformer>(small_config(arch), 0.2);
  m->eval();
  return m;
}

SamplingOptions sampling(int64_t max_new_tokens) {
  SamplingOptions o;
  o.max_new_tokens = max_new_tokens;
  o.temperature = 0.9;
  o.top_p = 0.95;
  o.top_k = 40;
  return o;  // stops on the config's EOS (3), so lengths differ
}

TEST(PagedGeneration, EqualsTheStaticBatchAtAnyConcurrencyPoolSizeAndCaching) {
  for (Arch arch : {Arch::kQwen3, Arch::kLlama}) {
    auto m = make_model(arch, 5);
    auto requests =
        testing::judge_like_requests(/*items=*/5, /*samples=*/4, /*vocab=*/97, /*seed=*/7);
    for (size_t r = 0; r < requests.size(); r += 3)
      requests[r].max_new_tokens = 3 + int64_t(r % 7);  // own limits
    const SamplingOptions o = sampling(24);
    const auto want = generate(*m, requests, o);
    int64_t stopped_early = 0;
    for (size_t r = 0; r < want.size(); ++r) {
      stopped_early += want[r].finish == FinishReason::kEos;
      if (requests[r].max_new_tokens > 0)
        EXPECT_LE(int64_t(want[r].ids.size()), requests[r].max_new_tokens);
    }
    EXPECT_GT(stopped_early, 0) << "the set should mix lengths";

    struct Case {
      const char* name;
      EngineOptions e;
    };
    std::vector<Case> cases;
    for (int64_t n : {1, 3, 64}) {
      EngineOptions e;
      e.max_num_seqs = n;
      e.block_size = 4;
      cases.push_back({n == 1   ? "max_num_seqs 1"
                       : n == 3 ? "max_num_seqs 3"
                                : "max_num_seqs 64",
                       e});
    }
    EngineOptions tiny_pool;  // room for about 3 sequences: the engine must preempt
    tiny_pool.block_size = 4;
    tiny_pool.kv_cache_gib = 3.0 * 30 * kv_block_bytes(*m, 4) / double(1ULL << 30);
    cases.push_back({"a pool of ~3 sequences", tiny_pool});
    EngineOptions no_cache;
    no_cache.prefix_caching = false;
    no_cache.max_batched_tokens = 64;
    cases.push_back({"no prefix caching, 64-token prefills", no_cache});

    for (const auto& c : cases) {
      EngineStats stats;
      const auto got = generate_paged(*m, requests, o, c.e, &stats);
      ASSERT_EQ(got.size(), want.size());
      double worst = 0;
      for (size_t r = 0; r < want.size(); ++r) {
        ASSERT_EQ(got[r].ids, want[r].ids) << c.name << ", row " << r;
        EXPECT_EQ(got[r].finish, want[r].finish) << c.name << ", row " << r;
        ASSERT_EQ(got[r].logprobs.size(), want[r].logprobs.size());
        for (size_t i = 0; i < want[r].logprobs.size(); ++i)
          worst =
              std::max(worst, std::abs(double(got[r].logprobs[i]) - double(want[r].logprobs[i])));
      }
      EXPECT_LE(worst, 1e-5) << c.name;
      std::printf("%s: max |log p - static log p| = %.3g\n", c.name, worst);
      EXPECT_EQ(stats.sequences, int64_t(requests.size()));
      if (c.e.kv_cache_gib > 0) EXPECT_GT(stats.preemptions, 0) << c.name;
      if (!c.e.prefix_caching)
        EXPECT_EQ(stats.prompt_tokens_cached, 0);
      else
        EXPECT_GT(stats.prefix_hit_rate(), 0.5) << c.name;
    }
  }
}

// With room for every sequence, the hits are exactly what sharing full blocks gives: each
// sequence reuses the longest prefix it has in common with any earlier one, in whole blocks,
// leaving its last token to compute.
TEST(PagedGeneration, PrefixHitsAreTheSharedFullBlocks) {
  auto m = make_model(Arch::kQwen3, 1);
  const auto requests = testing::judge_like_requests(4, 8, 97, 3);
  const int64_t bs = 8;
  int64_t expected = 0, total = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& p = requests[i].prompt;
    size_t common = 0;
    for (size_t j = 0; j < i; ++j) {
      const auto& q = requests[j].prompt;
      size_t k = 0;
      while (k < p.size() && k < q.size() && p[k] == q[k]) ++k;
      common = std::max(common, k);
    }
    const int64_t whole = std::min<int64_t>(int64_t(common), int64_t(p.size()) - 1) / bs * bs;
    expected += whole;
    total += int64_t(p.size());
  }
  EngineOptions e;
  e.block_size = bs;
  EngineStats stats;
  generate_paged(*m, requests, sampling(8), e, &stats);
  EXPECT_EQ(stats.prompt_tokens, total);
  EXPECT_EQ(stats.prompt_tokens_cached, expected);
  EXPECT_EQ(stats.preemptions, 0);
  EXPECT_EQ(stats.prefill_forwards, 1);  // every sequence admitted at once
}

TEST(PagedGeneration, GreedyStopsAndErrors) {
  auto m = make_model(Arch::kQwen3, 2);
  const auto requests = testing::judge_like_requests(2, 3, 97, 9);
  SamplingOptions o;
  o.greedy = true;
  o.max_new_tokens = 16;
  o.stop_sequences = {{5, 6}};
  o.stop_check = [](size_t row, const std::vector<int64_t>& g) {
    return row == 1 && g.size() == 4;
  };
  const auto want = generate(*m, requests, o);
  const auto got = generate_paged(*m, requests, o, EngineOptions{});
  for (size_t r = 0; r < want.size(); ++r) {
    EXPECT_EQ(got[r].ids, want[r].ids) << "row " << r;
    EXPECT_EQ(got[r].finish, want[r].finish);
  }
  EXPECT_EQ(got[1].ids.size(), 4u);
  EXPECT_EQ(got[1].finish, FinishReason::kStop);

  EngineOptions bad;
  bad.max_num_seqs = 0;
  EXPECT_THROW(generate_paged(*m, requests, o, bad), Error);
  EngineOptions small;
  small.kv_cache_gib = 1e-9;
  EXPECT_THROW(generate_paged(*m, requests, o, small), Error);
  EXPECT_THROW(generate_paged(*m, {{{}, 0}}, o, EngineOptions{}), Error);
  EXPECT_TRUE(generate_paged(*m, {}, o, EngineOptions{}).empty());
}

}  // namespace
}  // namespace principia::model
