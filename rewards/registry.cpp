#include "rewards/registry.h"

#include <cmath>

#include "core/text.h"
#include "rewards/components/components.h"
#include "rewards/metrics.h"
#include "rewards/ranking_agreement.h"

namespace principia::rewards {
namespace {

// Reads a component's params object, checking types and ranges and rejecting unknown keys.
class ParamReader {
 public:
  ParamReader(const nlohmann::json& params, std::string key_path, SourceLocation where)
      : params_(params), path_(std::move(key_path)), where_(std::move(where)) {
    if (!params_.is_null() && !params_.is_object())
      throw Error(where_, path_, "must be a mapping of parameter names to values");
  }

  double number(const std::string& key, double fallback, double min, double max) {
    const nlohmann::json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number()) throw Error(where_, path_ + "." + key, "must be a number");
    double x = v->get<double>();
    if (!std::isfinite(x) || x < min || x > max)
      throw Error(where_, path_ + "." + key,
                  "must be between " + fmt(min) + " and " + fmt(max) + " (got " + fmt(x) + ")");
    return x;
  }

  int64_t integer(const std::string& key, int64_t fallback, int64_t min) {
    const nlohmann::json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number_integer() || v->get<int64_t>() < min)
      throw Error(where_, path_ + "." + key, "must be an integer >= " + std::to_string(min));
    return v->get<int64_t>();
  }

  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& options) {
    const nlohmann::json* v = find(key);
    if (!v) return fallback;
    if (!v->is_string() ||
        std::find(options.begin(), options.end(), v->get<std::string>()) == options.end())
      throw Error(where_, path_ + "." + key, "must be one of: " + join(options, ", "));
    return v->get<std::string>();
  }

  // Every key must have been asked for.
  void finish() const {
    if (!params_.is_object()) return;
    for (auto it = params_.begin(); it != params_.end(); ++it) {
      if (std::find(known_.begin(), known_.end(), it.key()) != known_.end()) continue;
      std::string msg = "unknown parameter";
      std::string hint = closest_match(it.key(), known_);
      if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
      msg += known_.empty() ? "; this component takes no parameters"
                            : "; known: " + join(known_, ", ");
      throw Error(where_, path_ + "." + it.key(), msg);
    }
  }

 private:
  const nlohmann::json* find(const std::string& key) {
    known_.push_back(key);
    if (!params_.is_object()) return nullptr;
    auto it = params_.find(key);
    return it == params_.end() ? nullptr : &*it;
  }
  static std::string fmt(double x) {
    std::string s = std::to_string(x);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  const nlohmann::json& params_;
  std::string path_;
  SourceLocation where_;
  std::vector<std::string> known_;
};

struct Entry {
  const char* name;
  ComponentFn (*make)(ParamReader& params);
};

const Entry kRegistry[] = {
    {"format",
     [](ParamReader& r) -> ComponentFn {
       FormatParams p;
       p.min_reasoning_chars = r.number("min_reasoning_chars", p.min_reasoning_chars, 0, 1e9);
       return [p](const RewardInput& in) { return format_reward(in, p); };
     }},
    {"weighted_pair",
     [](ParamReader& r) -> ComponentFn {
       WeightedPairParams p;
       p.gap_weight = r.number("gap_weight", p.gap_weight, 0, 1e6);
       p.tie_cost = r.number("tie_cost", p.tie_cost, 0, 1);
       return [p](const RewardInput& in) { return weighted_pair_reward(in, p); };
     }},
    {"kendall_tau",
     [](ParamReader&) -> ComponentFn {
       return [](const RewardInput& in) { return kendall_tau_reward(in); };
     }},
    {"score_closeness",
     [](ParamReader& r) -> ComponentFn {
       ScoreClosenessParams p;
       p.max_error = r.number("max_error", p.max_error, 1e-9, 1e6);
       return [p](const RewardInput& in) { return score_closeness_reward(in, p); };
     }},
    {"distribution_match",
     [](ParamReader& r) -> ComponentFn {
       DistributionMatchParams p;
       p.mean_weight = r.number("mean_weight", p.mean_weight, 0, 1);
       return [p](const RewardInput& in) { return distribution_match_reward(in, p); };
     }},
    {"top1",
     [](ParamReader&) -> ComponentFn {
       return [](const RewardInput& in) { return top1_reward(in); };
     }},
    {"overlong",
     [](ParamReader& r) -> ComponentFn {
       OverlongParams p;
       p.buffer = r.number("buffer", p.buffer, 1, 1e9);
       return [p](const RewardInput& in) { return overlong_penalty(in, p); };
     }},
    {"ndcg",
     [](ParamReader& r) -> ComponentFn {
       NdcgParams p;
       p.k = static_cast<size_t>(r.integer("k", 0, 0));
       p.gain = r.choice("gain", "exponential", {"exponential", "linear"}) == "linear"
                    ? NdcgGain::kLinear
                    : NdcgGain::kExponential;
       return [p](const RewardInput& in) { return ndcg_reward(in, p); };
     }},
};

struct GroupEntry {
  const char* name;
  GroupComponentFn (*make)(ParamReader& params);
};

const GroupEntry kGroupRegistry[] = {
    {"consistency",
     [](ParamReader& r) -> GroupComponentFn {
       const int64_t min_valid = r.integer("min_valid", 2, 1);
       return [min_valid](const std::vector<Judgment>& judgments, const Gold& gold,
                          std::vector<double>* values) {
         values->assign(judgments.size(), 0.0);
         std::vector<std::vector<std::string>> rankings;
         rankings.reserve(judgments.size());
         for (const auto& j : judgments) rankings.push_back(j.ranking);
         const std::vector<std::string> majority = majority_ranking(rankings, gold.names);
         if (majority.empty()) return;
         std::vector<int> reference, pos;
         ranking_positions(majority, gold.names, &reference);
         std::vector<double> agreement(judgments.size(), -1.0);  // -1: invalid ranking
         int64_t valid = 0;
         for (size_t i = 0; i < rankings.size(); ++i)
           if (ranking_positions(rankings[i], gold.names, &pos)) {
             agreement[i] = (ranking_kendall_tau(pos, reference) + 1.0) / 2.0;
             ++valid;
           }
         if (valid < min_valid) return;
         for (size_t i = 0; i < agreement.size(); ++i) (*values)[i] = std::max(0.0, agreement[i]);
       };
     }},
};

bool is_group_component(const std::string& name) {
  for (const auto& e : kGroupRegistry)
    if (name == e.name) return true;
  return false;
}

std::vector<std::string> all_component_names() {
  std::vector<std::string> all = component_names();
  all.insert(all.end(), group_component_names().begin(), group_component_names().end());
  return all;
}

[[noreturn]] void unknown_component(const std::string& name, const std::string& key_path,
                                    const SourceLocation& where) {
  std::string msg = "unknown reward component '" + name + "'";
  const std::vector<std::string> known = all_component_names();
  std::string hint = closest_match(name, known);
  if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
  msg += "; known: " + join(known, ", ");
  throw Error(where, key_path + ".name", msg);
}

}  // namespace

const std::vector<std::string>& group_component_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : kGroupRegistry) v.push_back(e.name);
    return v;
  }();
  return names;
}

const std::vector<std::string>& component_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : kRegistry) v.push_back(e.name);
    return v;
  }();
  return names;
}

ComponentFn make_component(const std::string& name, const nlohmann::json& params,
                           const std::string& key_path, const SourceLocation& where) {
  for (const auto& e : kRegistry) {
    if (name != e.name) continue;
    ParamReader reader(params, key_path + ".params", where);
    ComponentFn fn = e.make(reader);
    reader.finish();
    return fn;
  }
  if (is_group_component(name))
    throw Error(where, key_path + ".name",
                "'" + name +
                    "' scores a group of judgments, not one: build it with make_group_component");
  unknown_component(name, key_path, where);
}

GroupComponentFn make_group_component(const std::string& name, const nlohmann::json& params,
                                      const std::string& key_path, const SourceLocation& where) {
  for (const auto& e : kGroupRegistry) {
    if (name != e.name) continue;
    ParamReader reader(params, key_path + ".params", where);
    GroupComponentFn fn = e.make(reader);
    reader.finish();
    return fn;
  }
  unknown_component(name, key_path, where);
}

CompositeReward::CompositeReward(const std::vector<config::RewardComponentConfig>& components,
                                 bool require_valid_format)
    : require_valid_format_(require_valid_format) {
  if (components.empty()) throw Error("reward.components: the list is empty");
  for (size_t i = 0; i < components.size(); ++i) {
    const auto& c = components[i];
    std::string path = "reward.components[" + std::to_string(i) + "]";
    for (const auto& seen : names_)
      if (seen == c.name)
        throw Error(c.where, path + ".name",
                    "component '" + c.name + "' is listed twice; list each component once");
    if (!std::isfinite(c.weight) || c.weight < 0)
      throw Error(c.where, path + ".weight", "must be a finite number >= 0");
    if (is_group_component(c.name)) {
      group_fns_.push_back(make_group_component(c.name, c.params, path, c.where));
      fns_.emplace_back();
      if (first_group_ < 0) {
        first_group_ = static_cast<int>(i);
        first_group_where_ = c.where;
      }
    } else {
      fns_.push_back(make_component(c.name, c.params, path, c.where));
      group_fns_.emplace_back();
    }
    names_.push_back(c.name);
    is_format_.push_back(c.name == "format" || c.name == "overlong");
    weights_.push_back(c.weight);
    weight_sum_ += c.weight;
  }
  if (weight_sum_ <= 0)
    throw Error(components.front().where, "reward.components",
                "the weights sum to 0; give at least one component a positive weight");
}

void CompositeReward::score(const Judgment& judgment, const Gold& gold,
                            RewardBreakdown* out) const {
  if (first_group_ >= 0)
    throw Error(first_group_where_, "reward.components[" + std::to_string(first_group_) + "].name",
                "'" + names_[first_group_] +
                    "' needs the group: use score_group (it compares each judgment with the "
                    "other samples of its item, so it cannot score judgments one at a time)");
  thread_local RewardInput scratch;  // aligned scores; keeps the hot path allocation-free
  align(judgment, gold, &scratch);
  out->values.resize(fns_.size());
  const bool gated = require_valid_format_ && !is_format_valid(judgment, gold, scratch);
  double total = 0;
  for (size_t i = 0; i < fns_.size(); ++i) {
    out->values[i] = gated && !is_format_[i] ? 0.0 : fns_[i](scratch);
    total += weights_[i] * out->values[i];
  }
  out->total = total / weight_sum_;
}

void CompositeReward::score_group(const std::vector<Judgment>& judgments, const Gold& gold,
                                  std::vector<RewardBreakdown>* out,
                                  const std::vector<Generated>* generated) const {
  thread_local RewardInput scratch;
  thread_local std::vector<std::vector<double>> group_values;
  group_values.resize(fns_.size());
  for (size_t c = 0; c < fns_.size(); ++c)
    if (group_fns_[c]) group_fns_[c](judgments, gold, &group_values[c]);
  out->resize(judgments.size());
  for (size_t i = 0; i < judgments.size(); ++i) {
    RewardBreakdown& b = (*out)[i];
    align(judgments[i], gold, &scratch);
    if (generated) scratch.generated = (*generated)[i];
    b.values.resize(fns_.size());
    const bool gated = require_valid_format_ && !is_format_valid(judgments[i], gold, scratch);
    double total = 0;
    for (size_t c = 0; c < fns_.size(); ++c) {
      const double value = group_fns_[c] ? group_values[c][i] : fns_[c](scratch);
      b.values[c] = gated && !is_format_[c] ? 0.0 : value;
      total += weights_[c] * b.values[c];
    }
    b.total = total / weight_sum_;
  }
}

}  // namespace principia::rewards
