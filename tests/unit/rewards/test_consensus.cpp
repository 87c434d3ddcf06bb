// Consensus: hand-checked three-judge examples (worked out in the comments), Kemeny against
// brute force, the supported-chain DP against brute force, isotonic scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "rewards/consensus.h"
#include "rewards/records.h"

namespace principia::rewards {
namespace {

JudgeOpinion judge(std::vector<std::pair<std::string, double>> scores) {
  return JudgeOpinion{"", std::move(scores), {}};
}
const std::vector<std::string> kAbc = {"a", "b", "c"};

// Example A. J1: a5 b3 c1; J2: a4 b5 c2; J3: a5 b2 c3.
// support: a>b 2 (J1,J3), b>a 1, a>c 3, c>a 0, b>c 2 (J1,J2), c>b 1. K = majority = 2.
// support-dp: J1's order a,b,c has every pair supported (2,3,2) -> chain a,b,c.
// means: a 14/3, b 10/3, c 2 — already non-increasing. Disagreements 1 + 0 + 1 = 2 of 9
// expressed preferences -> agreement 7/9. Kemeny gives the same order at cost 2.
TEST(RewardsConsensus, ThreeJudgesAgreeingMajority) {
  std::vector<JudgeOpinion> judges = {judge({{"a", 5}, {"b", 3}, {"c", 1}}),
                                      judge({{"a", 4}, {"b", 5}, {"c", 2}}),
                                      judge({{"a", 5}, {"b", 2}, {"c", 3}})};
  for (auto method : {ConsensusMethod::kSupportDp, ConsensusMethod::kKemeny}) {
    ConsensusOptions o;
    o.method = method;
    ConsensusResult r = build_consensus(kAbc, judges, o);
    EXPECT_EQ(r.ranking, kAbc);
    EXPECT_EQ(r.min_support, 2);
    ASSERT_EQ(r.scores.size(), 3u);
    EXPECT_NEAR(r.scores[0], 14.0 / 3, 1e-12);
    EXPECT_NEAR(r.scores[1], 10.0 / 3, 1e-12);
    EXPECT_NEAR(r.scores[2], 2.0, 1e-12);
    EXPECT_EQ(r.disagreements, 2);
    EXPECT_NEAR(r.judge_agreement, 7.0 / 9.0, 1e-12);
    EXPECT_DOUBLE_EQ(r.supported_pair_share, 1.0);
    EXPECT_EQ(r.scores_adjusted, 0);
    EXPECT_TRUE(r.unsupported.empty());
  }
  // Median: a 5, b 3, c 2.
  ConsensusOptions med;
  med.aggregation = ScoreAggregation::kMedian;
  ConsensusResult m = build_consensus(kAbc, judges, med);
  EXPECT_EQ(m.scores, (std::vector<double>{5, 3, 2}));

  // K = 3 (unanimity): only a>c is unanimous. Every judge's best chain has length 2; J1's
  // {a, c} comes first. b is unsupported: appended (then its mean 10/3 above c's 2 is pooled
  // with c: both 8/3) or dropped.
  ConsensusOptions k3;
  k3.min_support = 3;
  ConsensusResult r3 = build_consensus(kAbc, judges, k3);
  EXPECT_EQ(r3.chain_judge, 0);
  EXPECT_EQ(r3.unsupported, (std::vector<std::string>{"b"}));
  EXPECT_EQ(r3.ranking, (std::vector<std::string>{"a", "c", "b"}));
  EXPECT_NEAR(r3.scores[1], 8.0 / 3, 1e-12);  // names in input order: a, b, c
  EXPECT_NEAR(r3.scores[2], 8.0 / 3, 1e-12);
  EXPECT_EQ(r3.scores_adjusted, 2);
  k3.drop_unsupported = true;
  ConsensusResult d3 = build_consensus(kAbc, judges, k3);
  EXPECT_EQ(d3.ranking, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(d3.names, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(d3.dropped, (std::vector<std::string>{"b"}));
}

// Example B, a Condorcet cycle. J1: a>b>c, J2: b>c>a, J3: c>a>b (scores 3,2,1).
// support: a>b 2, b>c 2, c>a 2, each reverse 1. support-dp: J1's order a,b,c has a>c with
// support 1 < 2, so its longest chains have length 2: {a,b} keeps the better-ranked a. Every
// judge reaches 2; J1 is first. c is unsupported and appended. All means are 2.
// Kemeny: the three cyclic orders cost 1 + 2 + 1 = 4, the others 5.
TEST(RewardsConsensus, ThreeJudgesCycle) {
  std::vector<JudgeOpinion> judges = {judge({{"a", 3}, {"b", 2}, {"c", 1}}),
                                      judge({{"b", 3}, {"c", 2}, {"a", 1}}),
                                      judge({{"c", 3}, {"a", 2}, {"b", 1}})};
  ConsensusResult r = build_consensus(kAbc, judges, {});
  EXPECT_EQ(r.chain_judge, 0);
  EXPECT_EQ(r.ranking, kAbc);
  EXPECT_EQ(r.unsupported, (std::vector<std::string>{"c"}));
  EXPECT_EQ(r.scores, (std::vector<double>{2, 2, 2}));
  EXPECT_NEAR(r.supported_pair_share, 2.0 / 3.0, 1e-12);  // a>b, b>c supported; a>c not
  EXPECT_NEAR(r.mean_judge_tau, -1.0 / 3.0, 1e-12);        // each pair of judges: τ = −1/3

  ConsensusOptions kem;
  kem.method = ConsensusMethod::kKemeny;
  ConsensusResult k = build_consensus(kAbc, judges, kem);
  EXPECT_EQ(k.disagreements, 4);
  std::vector<std::vector<std::string>> cyclic = {
      {"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}};
  EXPECT_NE(std::find(cyclic.begin(), cyclic.end(), k.ranking), cyclic.end());
}

// Example C, scores against the ranking. J1: a5 b1; J2 and J3: a2 b3. support b>a 2, a>b 1.
// support-dp: J1's chain is one name long; J2's b,a is supported -> ranking b, a. Means a 3,
// b 7/3 contradict it; isotonic regression pools them: both 8/3 (2 adjusted). Median: a 2, b 3
// agree with the ranking.
TEST(RewardsConsensus, ScoresAreMadeToAgreeWithTheRanking) {
  std::vector<std::string> ab = {"a", "b"};
  std::vector<JudgeOpinion> judges = {judge({{"a", 5}, {"b", 1}}), judge({{"a", 2}, {"b", 3}}),
                                      judge({{"a", 2}, {"b", 3}})};
  ConsensusResult r = build_consensus(ab, judges, {});
  EXPECT_EQ(r.chain_judge, 1);
  EXPECT_EQ(r.ranking, (std::vector<std::string>{"b", "a"}));
  EXPECT_NEAR(r.scores[0], 8.0 / 3, 1e-12);
  EXPECT_NEAR(r.scores[1], 8.0 / 3, 1e-12);
  EXPECT_EQ(r.scores_adjusted, 2);
  EXPECT_NEAR(r.aggregated_scores[0], 3.0, 1e-12);
  ConsensusOptions med;
  med.aggregation = ScoreAggregation::kMedian;
  ConsensusResult m = build_consensus(ab, judges, med);
  EXPECT_EQ(m.scores, (std::vector<double>{2, 3}));
  EXPECT_EQ(m.scores_adjusted, 0);
}

TEST(RewardsConsensus, RankingOnlyJudgesAndErrors) {
  // A judge with only a ranking votes through its ranking.
  std::vector<JudgeOpinion> judges = {judge({{"a", 1}, {"b", 4}, {"c", 2}}),
                                      JudgeOpinion{"r", {}, {"b", "c", "a"}}};
  ConsensusOptions kem;
  kem.method = ConsensusMethod::kKemeny;
  EXPECT_EQ(build_consensus(kAbc, judges, kem).ranking,
            (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_THROW(build_consensus(kAbc, {judge({{"zz", 1}})}, {}), Error);
  EXPECT_THROW(build_consensus(kAbc, {}, {}), Error);
  EXPECT_THROW(build_consensus(kAbc, {judge({{"a", 1}, {"b", 2}})}, {}), Error);  // c unscored
  std::vector<std::string> many(17);
  for (size_t i = 0; i < many.size(); ++i) many[i] = "m" + std::to_string(i);
  EXPECT_THROW(build_consensus(many, {judge({{"m0", 1}})}, {}), Error);
}

int64_t order_cost(const std::vector<int>& order, const std::vector<int>& support, int n) {
  int64_t c = 0;
  for (size_t i = 0; i < order.size(); ++i)
    for (size_t j = i + 1; j < order.size(); ++j) c += support[size_t(order[j]) * n + order[i]];
  return c;
}

std::vector<int> random_support(std::mt19937_64& rng, int n) {
  int judges = 1 + static_cast<int>(rng() % 6);
  std::vector<int> support(size_t(n) * n, 0);
  for (int j = 0; j < judges; ++j) {
    std::vector<int> score(n);
    for (int& s : score) s = static_cast<int>(rng() % 5);
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b)
        if (score[a] > score[b]) ++support[size_t(a) * n + b];
  }
  return support;
}

TEST(RewardsConsensus, KemenyEqualsBruteForce) {
  std::mt19937_64 rng(3);
  for (int n = 1; n <= 8; ++n)
    for (int trial = 0; trial < (n <= 6 ? 60 : 12); ++trial) {
      std::vector<int> support = random_support(rng, n);
      int64_t cost = -1;
      std::vector<int> order = kemeny_order(support, n, &cost);
      std::vector<int> sorted = order;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int> perm(n);
      std::iota(perm.begin(), perm.end(), 0);
      ASSERT_EQ(sorted, perm);
      EXPECT_EQ(order_cost(order, support, n), cost);
      int64_t brute = INT64_MAX;
      do brute = std::min(brute, order_cost(perm, support, n));
      while (std::next_permutation(perm.begin(), perm.end()));
      EXPECT_EQ(cost, brute) << "n=" << n << " trial " << trial;
    }
  // 16 candidates runs (65536 subsets) quickly.
  std::vector<int> big = random_support(rng, 16);
  int64_t cost = 0;
  EXPECT_EQ(kemeny_order(big, 16, &cost).size(), 16u);
}

TEST(RewardsConsensus, SupportedChainEqualsBruteForce) {
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    int n = 1 + static_cast<int>(rng() % 9);
    std::vector<int> support = random_support(rng, n);
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    int k = 1 + static_cast<int>(rng() % 3);
    std::vector<int> chain = longest_supported_chain(order, support, n, k);
    // The chain is a subsequence with every pair supported...
    size_t p = 0;
    for (int c : chain) {
      while (p < order.size() && order[p] != c) ++p;
      ASSERT_LT(p, order.size());
    }
    for (size_t i = 0; i < chain.size(); ++i)
      for (size_t j = i + 1; j < chain.size(); ++j)
        EXPECT_GE(support[size_t(chain[i]) * n + chain[j]], k);
    // ...and none is longer.
    size_t best = 0;
    for (uint32_t s = 0; s < (1u << n); ++s) {
      bool ok = true;
      for (int i = 0; i < n && ok; ++i)
        for (int j = i + 1; j < n && ok; ++j)
          if ((s >> i & 1) && (s >> j & 1) && support[size_t(order[i]) * n + order[j]] < k)
            ok = false;
      if (ok) best = std::max<size_t>(best, __builtin_popcount(s));
    }
    EXPECT_EQ(chain.size(), best);
  }
}

TEST(RewardsConsensus, IsotonicNonIncreasing) {
  EXPECT_EQ(isotonic_non_increasing({1, 3, 2}), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(isotonic_non_increasing({5, 1, 4}), (std::vector<double>{5, 2.5, 2.5}));
  EXPECT_EQ(isotonic_non_increasing({4, 3, 3, 1}), (std::vector<double>{4, 3, 3, 1}));
  EXPECT_TRUE(isotonic_non_increasing({}).empty());
}

TEST(RewardsConsensus, RecordInAndOut) {
  ordered_json line = ordered_json::parse(R"({"id": "q1", "principle": "be brief",
      "prompt": "hi", "responses": {"a": "A", "b": "B", "c": "C"}, "domain": "chat",
      "judges": [{"name": "j1", "scores": {"a": 3, "b": 2, "c": 1}},
                 {"name": "j2", "scores": {"b": 3, "c": 2, "a": 1}},
                 {"name": "j3", "scores": {"c": 3, "a": 2, "b": 1}}]})");
  ConsensusItem item = consensus_item_from_json(line, {"in.jsonl", 4, 0});
  EXPECT_EQ(item.candidates, kAbc);
  ConsensusOptions o;
  o.drop_unsupported = true;
  ordered_json out = consensus_record(item, build_consensus(item.candidates, item.judges, o), o);
  EXPECT_EQ(out["id"], "q1");
  EXPECT_FALSE(out.contains("judges"));
  EXPECT_EQ(out["responses"].size(), 2u);  // c dropped
  EXPECT_EQ(out["ranking"], (ordered_json{"a", "b"}));
  EXPECT_EQ(out["agreement"]["dropped"], (ordered_json{"c"}));
  EXPECT_EQ(out["domain"], "chat");

  try {
    (void)consensus_item_from_json(ordered_json::parse(R"({"id": "x", "judges": [{"scores": 3}]})"),
                                   {"in.jsonl", 9, 0});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in.jsonl:9: judges[0].scores"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace principia::rewards
