// Eval's candidate orders (eval.permutations) and the scoring of generated judgments: a judge
// that follows the candidates and one that follows the positions, on hand-made records.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "core/jsonl.h"
#include "data/record.h"
#include "rewards/registry.h"
#include "trainer/evaluate.h"
#include "trainer/judge_task.h"

namespace principia::trainer {
namespace {

data::Record record(const std::string& id, const std::string& domain) {
  data::Record r;
  r.id = id;
  r.principle = "p";
  r.prompt = "q";
  r.responses = {{"x", "best"}, {"y", "middle"}, {"z", "worst"}};
  r.scores = {5, 3, 1};
  r.ranking = {"x", "y", "z"};
  r.domain = domain;
  return r;
}

// Shown name model-(j+1) is response order[j], as JudgeFormat::render maps them.
rewards::NameMapping mapping_of(const data::Record& r, const std::vector<size_t>& order) {
  rewards::NameMapping m;
  for (size_t j = 0; j < order.size(); ++j)
    m.emplace_back("model-" + std::to_string(j + 1), r.responses[order[j]].first);
  return m;
}

// A complete judgment ranking the shown names in `shown` order (best first).
std::string judgment_text(const std::vector<std::string>& shown) {
  ordered_json scores = ordered_json::object();
  for (size_t i = 0; i < shown.size(); ++i) scores[shown[i]] = 5 - 2 * int(i);
  return "<think>" + std::string(60, 'r') + "</think>\n" +
         ordered_json{{"scores", scores}, {"best-to-worst", shown}}.dump();
}

// Real-name ranking of a position-biased judge (always model-1, model-2, model-3).
std::vector<std::string> real_ranking(const data::Record& r, const std::vector<size_t>& order) {
  std::vector<std::string> out;
  for (size_t i : order) out.push_back(r.responses[i].first);
  return out;
}

// Kendall τ of two rankings of x, y, z, counted directly.
double tau(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  auto pos = [](const std::vector<std::string>& r, const std::string& n) {
    for (size_t i = 0; i < r.size(); ++i)
      if (r[i] == n) return int(i);
    return -1;
  };
  const std::vector<std::string> names = {"x", "y", "z"};
  double s = 0;
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = i + 1; j < 3; ++j)
      s += ((pos(a, names[i]) < pos(a, names[j])) == (pos(b, names[i]) < pos(b, names[j]))) ? 1 : -1;
  return s / 3;
}

TEST(EvalOrders, FirstIsTheUsualOrderOthersDiffer) {
  for (size_t item = 0; item < 20; ++item) {
    auto orders = eval_orders(11, item, 0, 4, 5);
    ASSERT_EQ(orders.size(), 5u);
    EXPECT_EQ(orders[0], sample_permutation(11 ^ 0xe7a1ULL, 0, int64_t(item), 0, 4));
    EXPECT_EQ(std::set<std::vector<size_t>>(orders.begin(), orders.end()).size(), 5u) << item;
    EXPECT_EQ(orders, eval_orders(11, item, 0, 4, 5));  // reproducible
    EXPECT_NE(orders, eval_orders(12, item, 0, 4, 5));  // seeded
  }
  // Three candidates, all six orders: the last ones come from few free choices, still distinct.
  for (size_t item = 0; item < 50; ++item) {
    auto all = eval_orders(2, item, 1, 3, 6);
    EXPECT_EQ(std::set<std::vector<size_t>>(all.begin(), all.end()).size(), 6u) << item;
  }
  // Two candidates have two orders: every extra order is the other one.
  auto two = eval_orders(3, 1, 0, 2, 4);
  for (size_t k = 1; k < two.size(); ++k) EXPECT_NE(two[k], two[0]);
  EXPECT_EQ(eval_orders(3, 1, 0, 1, 3), (std::vector<std::vector<size_t>>(3, {0})));
  EXPECT_EQ(eval_orders(3, 1, 0, 3, 1).size(), 1u);
}

TEST(ScoreEval, ConsistencyOfAFaithfulAndAPositionBiasedJudge) {
  const std::vector<data::Record> items = {record("faithful", "a"), record("biased", "a"),
                                           record("half", "b")};
  EvalOptions options;
  options.permutations = 3;
  options.seed = 5;
  config::RewardComponentConfig f, w;
  f.name = "format";
  f.weight = 0.15;
  w.name = "weighted_pair";
  w.weight = 0.85;
  rewards::CompositeReward reward({f, w});

  std::vector<EvalOutput> outputs;
  std::vector<std::vector<std::string>> biased_real;
  for (size_t i = 0; i < items.size(); ++i) {
    auto orders = eval_orders(options.seed, i, 0, 3, 3);
    for (size_t k = 0; k < 3; ++k) {
      EvalOutput o;
      o.mapping = mapping_of(items[i], orders[k]);
      std::vector<std::string> shown(3);
      if (i == 1) {  // by position
        shown = {"model-1", "model-2", "model-3"};
        biased_real.push_back(real_ranking(items[i], orders[k]));
      } else {  // by the candidates: x, y, z whatever their shown names
        for (size_t j = 0; j < 3; ++j) shown[orders[k][j]] = "model-" + std::to_string(j + 1);
      }
      o.text = i == 2 && k == 1 ? "no answer" : judgment_text(shown);
      outputs.push_back(o);
    }
  }
  std::vector<ordered_json> lines;
  const ordered_json e = score_eval(items, reward, options, outputs, &lines);

  EXPECT_EQ(e["judgments"], 3);  // the usual metrics: first order only
  EXPECT_EQ(e["metrics"]["overall"]["format_valid_rate"], 1.0);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_FALSE(lines[0].contains("permutation"));
  EXPECT_EQ(lines[1]["permutation"], 1);
  EXPECT_EQ(lines[7]["format_valid"], false);

  const double biased_tau =
      (tau(biased_real[0], biased_real[1]) + tau(biased_real[0], biased_real[2]) +
       tau(biased_real[1], biased_real[2])) /
      3;
  const double biased_top1 = ((biased_real[0][0] == biased_real[1][0]) +
                              (biased_real[0][0] == biased_real[2][0]) +
                              (biased_real[1][0] == biased_real[2][0])) /
                             3.0;
  ASSERT_LT(biased_tau, 1.0);  // the orders differ, so a position-following judge disagrees
  const auto& pc = e["permutation_consistency"];
  EXPECT_EQ(pc["permutations"], 3);
  EXPECT_EQ(pc["items"], 3);
  EXPECT_EQ(pc["items_scored"], 3);
  EXPECT_NEAR(pc["kendall_tau_mean"].get<double>(), (1.0 + biased_tau + 1.0) / 3, 1e-12);
  EXPECT_NEAR(pc["top1_agreement"].get<double>(), (1.0 + biased_top1 + 1.0) / 3, 1e-12);
  EXPECT_NEAR(pc["permutation_invalid_rate"].get<double>(), 1.0 / 9, 1e-12);
  EXPECT_NEAR(pc["by_domain"]["a"]["kendall_tau_mean"].get<double>(), (1.0 + biased_tau) / 2,
              1e-12);
  EXPECT_EQ(pc["by_domain"]["b"]["kendall_tau_mean"], 1.0);
  EXPECT_NEAR(pc["by_domain"]["b"]["permutation_invalid_rate"].get<double>(), 1.0 / 3, 1e-12);

  // One order: the same first-order numbers, no block.
  EvalOptions one = options;
  one.permutations = 1;
  std::vector<EvalOutput> first;
  for (size_t n = 0; n < outputs.size(); n += 3) first.push_back(outputs[n]);
  const ordered_json e1 = score_eval(items, reward, one, first);
  EXPECT_FALSE(e1.contains("permutation_consistency"));
  EXPECT_EQ(e1["metrics"], e["metrics"]);
  EXPECT_EQ(e1["reward"], e["reward"]);
  EXPECT_EQ(e1["samples"], e["samples"]);
  EXPECT_THROW(score_eval(items, reward, options, first), Error);
}

}  // namespace
}  // namespace principia::trainer
