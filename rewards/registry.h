// Reward components by name, and the weighted composite a run's `reward.components` builds.
//
// total = Σ wᵢ·rᵢ / Σ wᵢ: weights are normalised so the total stays in [0,1] whatever
// the YAML says (the default 0.15 + 0.85 already sums to 1). Per-component values are kept so
// runs can log each one.
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

// Every registered name, in a stable order.
const std::vector<std::string>& component_names();

// Builds component `name` from its params. `key_path` is the config path of the list entry
// ("reward.components[2]"); errors name `<key_path>.name` or `<key_path>.params.<key>`.
ComponentFn make_component(const std::string& name, const nlohmann::json& params,
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
  void score(const Judgment& judgment, const Gold& gold, RewardBreakdown* out) const;
  RewardBreakdown score(const Judgment& judgment, const Gold& gold) const {
    RewardBreakdown b;
    score(judgment, gold, &b);
    return b;
  }

 private:
  std::vector<std::string> names_;
  std::vector<double> weights_;
  double weight_sum_ = 0;
  std::vector<ComponentFn> fns_;
  std::vector<bool> is_format_;  // the `format` component: kept for an invalid judgment
  bool require_valid_format_ = false;
};

}  // namespace principia::rewards
