// Reward components by name, and the weighted composite a run's `reward.components` builds.
//
// total = Σ wᵢ·rᵢ / Σ wᵢ: weights are normalised so the total stays in [0,1] whatever
// the YAML says (the default 0.15 + 0.85 already sums to 1). Per-component values are kept so
// runs can log each one.
//
// Most components score one judgment against gold. Group components score each judgment of a
// group (the G samples of one item, which in GRPO see the candidates in different orders)
// against the others; a composite holding one must be called through score_group. Today's only
// group component:
// - consistency: (τ(ranking_i, majority) + 1) / 2, where majority is majority_ranking()
//   (ranking_agreement.h: Borda count over the group's valid rankings, ties by name) and τ is
//   Kendall's τ between the two rankings; 0 for a sample whose ranking is not valid (not a
//   permutation of gold's candidates), and 0 for every sample when fewer than `min_valid`
//   (param, integer >= 1, default 2) of the group's rankings are valid: one ranking alone
//   always agrees with itself. The sample's own ranking takes part in the majority.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "rewards/gold.h"
#include "rewards/judgment.h"
#include "rewards/reward_input.h"

namespace principia::rewards {

using ComponentFn = std::function<double(const RewardInput&)>;
// One value per judgment of the group, written to values (resized to judgments.size()).
using GroupComponentFn = std::function<void(const std::vector<Judgment>& judgments,
                                            const Gold& gold, std::vector<double>* values)>;

// Every registered per-judgment name, in a stable order.
const std::vector<std::string>& component_names();
// Every registered group component name ("consistency").
const std::vector<std::string>& group_component_names();

// Builds component `name` from its params. `key_path` is the config path of the list entry
// ("reward.components[2]"); errors name `<key_path>.name` or `<key_path>.params.<key>`.
ComponentFn make_component(const std::string& name, const nlohmann::json& params,
                           const std::string& key_path, const SourceLocation& where);
GroupComponentFn make_group_component(const std::string& name, const nlohmann::json& params,
                                      const std::string& key_path, const SourceLocation& where);

struct RewardBreakdown {
  double total = 0;
  std::vector<double> values;  // one per component, in config order
};

class CompositeReward {
 public:
  // Throws principia::Error for an empty list, an unknown or repeated name, bad params or
  // weights that sum to 0. `require_valid_format`: config::RewardConfig's.
  explicit CompositeReward(const std::vector<config::RewardComponentConfig>& components,
                           bool require_valid_format = false);

  const std::vector<std::string>& names() const { return names_; }
  const std::vector<double>& weights() const { return weights_; }  // as configured

  // `judgment` must already use real names (remap_names). Reuses out's buffers; thread-safe.
  // Throws principia::Error naming reward.components[i].name when a group component is listed.
  void score(const Judgment& judgment, const Gold& gold, RewardBreakdown* out) const;
  RewardBreakdown score(const Judgment& judgment, const Gold& gold) const {
    RewardBreakdown b;
    score(judgment, gold, &b);
    return b;
  }

  bool has_group_components() const { return first_group_ >= 0; }
  // The judgments of one group (real names), all against `gold`: (*out)[i] is judgment i's
  // breakdown. Per-judgment components, the weights, the total and require_valid_format are
  // exactly those of score(); a group component's value is also zeroed by require_valid_format
  // for an invalid judgment, whose ranking still counts towards the group's majority.
  // `generated` (optional): how each judgment was generated, for `overlong`.
  void score_group(const std::vector<Judgment>& judgments, const Gold& gold,
                   std::vector<RewardBreakdown>* out,
                   const std::vector<Generated>* generated = nullptr) const;

 private:
  std::vector<std::string> names_;
  std::vector<double> weights_;
  double weight_sum_ = 0;
  std::vector<ComponentFn> fns_;              // empty for a group component
  std::vector<GroupComponentFn> group_fns_;  // empty for a per-judgment component
  int first_group_ = -1;                     // index of the first group component
  SourceLocation first_group_where_;
  // `format` and `overlong`: kept for an invalid judgment under require_valid_format.
  std::vector<bool> is_format_;
  bool require_valid_format_ = false;
};

}  // namespace principia::rewards
