#include "rewards/records.h"

#include <cmath>

namespace principia::rewards {
namespace {

std::string id_of(const ordered_json& obj, const SourceLocation& where) {
  auto it = obj.find("id");
  if (it == obj.end()) throw Error(where, "id", "missing");
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  throw Error(where, "id", "must be a string");
}

const ordered_json& object_field(const ordered_json& obj, const std::string& key,
                                 const SourceLocation& where) {
  auto it = obj.find(key);
  if (it == obj.end()) throw Error(where, key, "missing");
  if (!it->is_object()) throw Error(where, key, "must be an object");
  return *it;
}

std::string optional_string(const ordered_json& obj, const std::string& key,
                            const SourceLocation& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(where, key, "must be a string");
  return it->get<std::string>();
}

double score_value(const ordered_json& v, const std::string& path, const SourceLocation& where,
                   bool require_range) {
  if (!v.is_number()) throw Error(where, path, "must be a number");
  double x = v.get<double>();
  if (!std::isfinite(x) || (require_range && (x < 1 || x > 5)))
    throw Error(where, path, "must be a number in [1, 5]");
  return x;
}

}  // namespace

GoldRecord gold_from_json(const ordered_json& record, const SourceLocation& where) {
  if (!record.is_object()) throw Error(where, "", "a record must be a JSON object");
  GoldRecord r;
  r.id = id_of(record, where);
  const ordered_json& scores = object_field(record, "scores", where);
  auto responses = record.find("responses");
  if (responses != record.end()) {
    if (!responses->is_object()) throw Error(where, "responses", "must be an object");
    for (auto it = responses->begin(); it != responses->end(); ++it)
      r.gold.names.push_back(it.key());
  } else {
    for (auto it = scores.begin(); it != scores.end(); ++it) r.gold.names.push_back(it.key());
  }
  if (r.gold.names.size() < 2) throw Error(where, "responses", "needs at least 2 candidates");
  for (const auto& name : r.gold.names) {
    auto s = scores.find(name);
    if (s == scores.end()) throw Error(where, "scores." + name, "missing");
    r.gold.scores.push_back(score_value(*s, "scores." + name, where, true));
  }
  for (auto it = scores.begin(); it != scores.end(); ++it)
    if (r.gold.index_of(it.key()) < 0)
      throw Error(where, "scores." + it.key(), "names no response");
  r.gold.domain = optional_string(record, "domain", where);
  r.gold.category = optional_string(record, "category", where);
  return r;
}

JudgmentLine judgment_line_from_json(const ordered_json& line, const SourceLocation& where) {
  if (!line.is_object()) throw Error(where, "", "a judgment line must be a JSON object");
  JudgmentLine j;
  j.id = id_of(line, where);
  auto out = line.find("output");
  if (out == line.end()) throw Error(where, "output", "missing");
  if (!out->is_string()) throw Error(where, "output", "must be a string");
  j.output = out->get<std::string>();
  auto mapping = line.find("mapping");
  if (mapping != line.end() && !mapping->is_null()) {
    if (!mapping->is_object()) throw Error(where, "mapping", "must be an object {shown: real}");
    for (auto it = mapping->begin(); it != mapping->end(); ++it) {
      if (!it->is_string()) throw Error(where, "mapping." + it.key(), "must be a string");
      j.mapping.emplace_back(it.key(), it->get<std::string>());
    }
  }
  return j;
}

ConsensusItem consensus_item_from_json(const ordered_json& line, const SourceLocation& where) {
  if (!line.is_object()) throw Error(where, "", "an item must be a JSON object");
  ConsensusItem item;
  (void)id_of(line, where);
  auto judges = line.find("judges");
  if (judges == line.end()) throw Error(where, "judges", "missing");
  if (!judges->is_array() || judges->empty())
    throw Error(where, "judges", "must be a non-empty list of {name?, scores, ranking?}");
  auto add_candidate = [&](const std::string& name) {
    for (const auto& c : item.candidates)
      if (c == name) return;
    item.candidates.push_back(name);
  };
  auto responses = line.find("responses");
  if (responses != line.end()) {
    if (!responses->is_object()) throw Error(where, "responses", "must be an object");
    for (auto it = responses->begin(); it != responses->end(); ++it) add_candidate(it.key());
  }
  const bool candidates_fixed = !item.candidates.empty();
  for (size_t i = 0; i < judges->size(); ++i) {
    const ordered_json& jv = (*judges)[i];
    std::string path = "judges[" + std::to_string(i) + "]";
    if (!jv.is_object()) throw Error(where, path, "must be an object");
    JudgeOpinion judge;
    judge.name = optional_string(jv, "name", where);
    auto scores = jv.find("scores");
    if (scores != jv.end()) {
      if (!scores->is_object()) throw Error(where, path + ".scores", "must be an object");
      for (auto it = scores->begin(); it != scores->end(); ++it) {
        judge.scores.emplace_back(
            it.key(), score_value(*it, path + ".scores." + it.key(), where, false));
        if (!candidates_fixed) add_candidate(it.key());
      }
    }
    auto ranking = jv.find("ranking");
    if (ranking != jv.end()) {
      if (!ranking->is_array()) throw Error(where, path + ".ranking", "must be a list of names");
      for (const auto& name : *ranking) {
        if (!name.is_string()) throw Error(where, path + ".ranking", "must be a list of names");
        judge.ranking.push_back(name.get<std::string>());
        if (!candidates_fixed) add_candidate(judge.ranking.back());
      }
    }
    if (judge.scores.empty() && judge.ranking.empty())
      throw Error(where, path, "needs scores or a ranking");
    item.judges.push_back(std::move(judge));
  }
  item.fields = line;
  item.fields.erase("judges");
  item.fields.erase("scores");
  item.fields.erase("ranking");
  return item;
}

ordered_json consensus_record(const ConsensusItem& item, const ConsensusResult& result,
                              const ConsensusOptions& options) {
  ordered_json out = item.fields;
  if (out.contains("responses") && !result.dropped.empty())
    for (const auto& name : result.dropped) out["responses"].erase(name);
  ordered_json scores = ordered_json::object();
  for (size_t i = 0; i < result.names.size(); ++i) scores[result.names[i]] = result.scores[i];
  out["scores"] = scores;
  out["ranking"] = result.ranking;
  ordered_json a;
  a["method"] = options.method == ConsensusMethod::kKemeny ? "kemeny" : "support-dp";
  a["judges"] = result.judges;
  a["min_support"] = result.min_support;
  a["supported_pair_share"] = result.supported_pair_share;
  a["disagreements"] = result.disagreements;
  a["judge_agreement"] = result.judge_agreement;
  a["mean_judge_tau"] =
      result.mean_judge_tau_defined ? ordered_json(result.mean_judge_tau) : ordered_json(nullptr);
  if (options.method == ConsensusMethod::kSupportDp) {
    a["chain_judge"] = result.chain_judge;
    a["unsupported"] = result.unsupported;
    a["dropped"] = result.dropped;
  }
  a["scores_adjusted"] = result.scores_adjusted;
  if (result.scores_adjusted > 0) {
    ordered_json raw = ordered_json::object();
    for (size_t i = 0; i < result.names.size(); ++i)
      raw[result.names[i]] = result.aggregated_scores[i];
    a["aggregated_scores"] = raw;
  }
  out["agreement"] = a;
  return out;
}

}  // namespace principia::rewards
