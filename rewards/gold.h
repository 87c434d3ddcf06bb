// Gold quality for one item: the candidates' names (in dataset order) and their consensus
// scores in [1,5]. Domain and category only feed the metric breakdowns.
#pragma once

#include <string>
#include <vector>

#include "rewards/judgment.h"

namespace principia::rewards {

struct Gold {
  std::vector<std::string> names;
  std::vector<double> scores;  // same length as names
  std::string domain;          // optional
  std::string category;        // optional

  size_t size() const { return names.size(); }
  // Index of `name`, or -1.
  int index_of(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (same_name(names[i], name)) return static_cast<int>(i);
    return -1;
  }
};

// Candidate names of a judgment (already mapped to real names) against gold.
struct NameCheck {
  std::vector<std::string> missing;  // gold candidates without a valid score
  std::vector<std::string> unknown;  // names in scores or ranking that gold does not have
};
inline NameCheck check_names(const Judgment& judgment, const Gold& gold) {
  NameCheck c;
  for (const auto& name : gold.names)
    if (!judgment.score_of(name)) c.missing.push_back(name);
  auto note_unknown = [&](const std::string& name) {
    if (gold.index_of(name) >= 0) return;
    for (const auto& u : c.unknown)
      if (u == name) return;
    c.unknown.push_back(name);
  };
  for (const auto& s : judgment.scores) note_unknown(s.name);
  for (const auto& name : judgment.invalid_scores) note_unknown(name);
  for (const auto& name : judgment.ranking) note_unknown(name);
  return c;
}

}  // namespace principia::rewards
