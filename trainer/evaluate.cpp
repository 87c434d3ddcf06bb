#include "trainer/evaluate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/files.h"
#include "core/rng.h"
#include "model/generation.h"
#include "model/transformer.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "rewards/ranking_agreement.h"

namespace principia::trainer {

EvalOptions EvalOptions::from(const config::Config& cfg) {
  EvalOptions o;
  o.greedy = cfg.eval.greedy;
  o.samples = cfg.eval.greedy ? 1 : cfg.eval.samples;
  o.max_new_tokens = cfg.eval.max_new_tokens > 0 ? cfg.eval.max_new_tokens : cfg.rollout.max_new_tokens;
  o.temperature = cfg.rollout.temperature;
  o.top_p = cfg.rollout.top_p;
  o.top_k = cfg.rollout.top_k;
  o.seed = uint64_t(cfg.run.seed);
  o.write_judgments = cfg.eval.write_judgments;
  o.permutations = cfg.eval.permutations;
  return o;
}

std::vector<std::vector<size_t>> eval_orders(uint64_t seed, size_t item, int64_t sample,
                                             size_t candidates, int64_t permutations) {
  std::vector<std::vector<size_t>> orders;
  // A fixed random order per item: position bias cannot inflate the score.
  orders.push_back(sample_permutation(seed ^ 0xe7a1ULL, 0, int64_t(item), sample, candidates));
  uint64_t available = 1;  // candidates!, counted only as far as `permutations`
  for (size_t n = 2; n <= candidates && available < uint64_t(permutations); ++n) available *= n;
  for (int64_t k = 1; k < permutations; ++k) {
    const bool all_distinct = available >= uint64_t(k) + 1;
    std::vector<size_t> p;
    bool found = false;
    for (uint64_t attempt = 0; attempt < 64 && !found && candidates >= 2; ++attempt) {
      p = orders.front();
      Rng::derive(seed, {0x9e3d5ULL, item, uint64_t(sample), uint64_t(k), attempt}).shuffle(p);
      found = p != orders.front();
      for (size_t o = 1; found && all_distinct && o < orders.size(); ++o) found = p != orders[o];
    }
    if (!found) {  // unlucky draws: walk the orders after the first to a new one
      p = orders.front();
      do {
        std::next_permutation(p.begin(), p.end());
      } while (all_distinct && std::find(orders.begin(), orders.end(), p) != orders.end());
    }
    orders.push_back(std::move(p));
  }
  return orders;
}

ordered_json evaluate(model::Transformer& model, const JudgeFormat& format,
                      const rewards::CompositeReward& reward, const std::vector<data::Record>& items,
                      const EvalOptions& options, std::vector<ordered_json>* judgments_out) {
  const int64_t orders = std::max<int64_t>(1, options.permutations);
  // Item-major, then sample, then order: with one order, the order K = 1 always used.
  std::vector<EvalOutput> outputs(items.size() * size_t(options.samples * orders));
  model::SamplingOptions sampling;
  sampling.greedy = options.greedy;
  sampling.max_new_tokens = options.max_new_tokens;
  sampling.temperature = options.temperature;
  sampling.top_p = options.top_p;
  sampling.top_k = options.top_k;
  sampling.eos_ids = format.stop_ids();
  sampling.use_config_eos = false;

  std::vector<model::GenerationRequest> requests;
  std::vector<EvalOutput*> pending;
  auto flush = [&]() {
    if (requests.empty()) return;
    auto gens = model::generate(model, requests, sampling);
    for (size_t n = 0; n < gens.size(); ++n) pending[n]->text = format.decode_response(gens[n].ids);
    requests.clear();
    pending.clear();
  };
  size_t next = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t s = 0; s < options.samples; ++s) {
      auto perms = eval_orders(options.seed, i, s, items[i].size(), orders);
      for (int64_t k = 0; k < orders; ++k) {
        auto rendered = format.render(items[i], perms[size_t(k)]);
        auto ids = format.prompt_ids(rendered);
        const uint64_t gen_seed =
            k == 0 ? Rng::derive(options.seed, {0xe7a1ULL, i, uint64_t(s)}).next()
                   : Rng::derive(options.seed, {0xe7a1ULL, i, uint64_t(s), uint64_t(k)}).next();
        requests.push_back({std::vector<int64_t>(ids.begin(), ids.end()), gen_seed});
        EvalOutput& d = outputs[next++];
        d.mapping = rendered.mapping;
        pending.push_back(&d);
        if (int64_t(requests.size()) >= options.batch) flush();
      }
    }
  }
  flush();
  return score_eval(items, reward, options, outputs, judgments_out);
}

ordered_json score_eval(const std::vector<data::Record>& items,
                        const rewards::CompositeReward& reward, const EvalOptions& options,
                        const std::vector<EvalOutput>& outputs,
                        std::vector<ordered_json>* judgments_out) {
  const int64_t orders = std::max<int64_t>(1, options.permutations);
  const int64_t per_item = options.samples * orders;  // judgments of one item
  if (outputs.size() != items.size() * size_t(per_item))
    throw Error("score_eval: " + std::to_string(outputs.size()) + " outputs for " +
                std::to_string(items.size()) + " items x " + std::to_string(per_item));
  struct Judged {
    const EvalOutput* output;
    rewards::Judgment judgment;  // real names
  };
  std::vector<Judged> judged(outputs.size());
  for (size_t n = 0; n < outputs.size(); ++n) {
    judged[n].output = &outputs[n];
    judged[n].judgment = rewards::parse_judgment(outputs[n].text);
    rewards::remap_names(judged[n].judgment, outputs[n].mapping);
  }
  auto slot = [&](size_t item, int64_t sample, int64_t order) -> const Judged& {
    return judged[item * size_t(per_item) + size_t(sample * orders + order)];
  };

  rewards::EvalMetrics metrics;
  rewards::PermutationConsistency consistency(orders);
  std::vector<double> component_sums(reward.names().size(), 0.0);
  double total_sum = 0;
  int64_t judgments = 0;
  // The first judgments verbatim, to read what the judge writes (the score file format, so
  // `principia score` can re-score them).
  constexpr size_t kSamplesKept = 8;
  ordered_json samples = ordered_json::array();
  std::vector<rewards::Judgment> group;
  std::vector<rewards::RewardBreakdown> breakdowns;
  // The samples of item i under order k, scored together: a group component compares them.
  auto score_order = [&](size_t i, int64_t k, const rewards::Gold& gold) {
    breakdowns.resize(size_t(options.samples));
    if (reward.has_group_components()) {
      group.clear();
      for (int64_t s = 0; s < options.samples; ++s) group.push_back(slot(i, s, k).judgment);
      reward.score_group(group, gold, &breakdowns);
    } else {
      for (int64_t s = 0; s < options.samples; ++s)
        reward.score(slot(i, s, k).judgment, gold, &breakdowns[size_t(s)]);
    }
  };
  auto judgment_line = [&](size_t i, int64_t s, int64_t k, const rewards::Gold& gold) {
    const Judged& d = slot(i, s, k);
    const rewards::RewardBreakdown& breakdown = breakdowns[size_t(s)];
    ordered_json mapping = ordered_json::object();
    for (const auto& [shown, real] : d.output->mapping) mapping[shown] = real;
    ordered_json all;
    all["id"] = items[i].id;
    all["sample"] = s;
    if (k > 0) all["permutation"] = k;
    all["output"] = d.output->text;
    all["mapping"] = std::move(mapping);
    all["format_valid"] = rewards::is_format_valid(d.judgment, gold);
    all["reward"] = breakdown.total;
    ordered_json components = ordered_json::object();
    for (size_t c = 0; c < reward.names().size(); ++c)
      components[reward.names()[c]] = breakdown.values[c];
    all["components"] = std::move(components);
    return all;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    const rewards::Gold gold = gold_of(items[i]);
    score_order(i, 0, gold);
    for (int64_t s = 0; s < options.samples; ++s) {
      const Judged& d = slot(i, s, 0);
      const rewards::RewardBreakdown& breakdown = breakdowns[size_t(s)];
      metrics.add(d.judgment, gold);
      if (samples.size() < kSamplesKept) {
        ordered_json mapping = ordered_json::object();
        for (const auto& [shown, real] : d.output->mapping) mapping[shown] = real;
        ordered_json sample;
        sample["id"] = items[i].id;
        sample["output"] = d.output->text;
        sample["mapping"] = std::move(mapping);
        sample["reward"] = breakdown.total;
        samples.push_back(std::move(sample));
      }
      if (judgments_out) judgments_out->push_back(judgment_line(i, s, 0, gold));
      total_sum += breakdown.total;
      for (size_t c = 0; c < component_sums.size(); ++c) component_sums[c] += breakdown.values[c];
      ++judgments;
    }
    if (orders == 1) continue;
    if (judgments_out)
      for (int64_t k = 1; k < orders; ++k) {
        score_order(i, k, gold);
        for (int64_t s = 0; s < options.samples; ++s)
          judgments_out->push_back(judgment_line(i, s, k, gold));
      }
    rewards::RankingAgreement item;
    std::vector<std::vector<std::string>> rankings(static_cast<size_t>(orders));
    for (int64_t s = 0; s < options.samples; ++s) {
      for (int64_t k = 0; k < orders; ++k) rankings[size_t(k)] = slot(i, s, k).judgment.ranking;
      item.add(rewards::ranking_agreement(rankings, gold.names));
    }
    consistency.add_item(gold.domain, item);
  }

  ordered_json out;
  out["items"] = items.size();
  out["judgments"] = judgments;
  out["metrics"] = metrics.to_json();
  ordered_json r;
  r["total"] = judgments ? total_sum / double(judgments) : 0.0;
  for (size_t c = 0; c < component_sums.size(); ++c)
    r[reward.names()[c]] = judgments ? component_sums[c] / double(judgments) : 0.0;
  out["reward"] = r;
  if (orders > 1) out["permutation_consistency"] = consistency.to_json();
  out["samples"] = samples;
  return out;
}

EvalSummary EvalSummary::of(const ordered_json& eval) {
  auto num = [](const ordered_json& j, const char* k) {
    return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN;
  };
  const auto& o = eval["metrics"]["overall"];
  EvalSummary s;
  s.format_valid_rate = num(o, "format_valid_rate");
  s.pairwise_accuracy = num(o, "pairwise_accuracy");
  s.kendall_tau = num(o, "kendall_tau_b");
  s.ndcg = num(o, "ndcg");
  s.reward = num(eval["reward"], "total");
  s.weighted_pair = num(eval["reward"], "weighted_pair");
  return s;
}

std::string eval_table(const std::vector<std::pair<std::string, EvalSummary>>& rows) {
  std::string out =
      "| model | format valid | pairwise acc | kendall tau-b | ndcg | weighted_pair | reward |\n"
      "|---|---|---|---|---|---|---|\n";
  char buf[256];
  for (const auto& [label, s] : rows) {
    std::snprintf(buf, sizeof buf, "| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", label.c_str(),
                  s.format_valid_rate, s.pairwise_accuracy, s.kendall_tau, s.ndcg, s.weighted_pair, s.reward);
    out += buf;
  }
  return out;
}

namespace {

// The markdown section for evaluate()'s "permutation_consistency" block.
std::string permutation_section(const ordered_json& pc) {
  auto cell = [](const ordered_json& v) {
    if (!v.is_number()) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v.get<double>());
    return std::string(buf);
  };
  auto row = [&](const std::string& label, const ordered_json& s) {
    return "| " + label + " | " + s["items"].dump() + " | " + s["items_scored"].dump() + " | " +
           cell(s["kendall_tau_mean"]) + " | " + cell(s["top1_agreement"]) + " | " +
           cell(s["permutation_invalid_rate"]) + " |\n";
  };
  std::string out =
      "## Permutation consistency\n\n"
      "Each item was judged under " + pc["permutations"].dump() +
      " candidate orders. The metrics above are computed on the first order only (the one "
      "eval.permutations = 1 uses), so they stay comparable. Kendall tau: per item, the mean "
      "Kendall tau over pairs of its rankings (mapped back to the real candidates), then the "
      "mean over items; top-1 agreement: per item, the share of those pairs that rank the same "
      "candidate first, then the mean over items. Only complete rankings of the item's "
      "candidates take part in pairs; invalid is the share of rankings that were not (unparsed, "
      "partial, unknown or repeated names). Scored: items with at least one pair of complete "
      "rankings.\n\n"
      "| domain | items | scored | kendall tau | top-1 agreement | invalid |\n"
      "|---|---|---|---|---|---|\n";
  out += row("all", pc);
  for (const auto& [domain, s] : pc["by_domain"].items()) out += row(domain, s);
  return out;
}

}  // namespace

void write_eval(const std::string& run_dir, const std::string& name, const ordered_json& eval,
                const std::vector<ordered_json>* judgments) {
  std::filesystem::create_directories(run_dir + "/eval");
  if (judgments) {
    std::string lines;
    for (const auto& j : *judgments) lines += j.dump() + "\n";
    write_file_atomic(run_dir + "/eval/" + name + ".judgments.jsonl", lines);
  }
  write_file_atomic(run_dir + "/eval/" + name + ".json", eval.dump(2) + "\n");
  std::string md = "# eval " + name + "\n\n" + eval_table({{name, EvalSummary::of(eval)}});
  if (eval.contains("permutation_consistency"))
    md += "\n" + permutation_section(eval["permutation_consistency"]);
  write_file_atomic(run_dir + "/eval/" + name + ".md", md);
}

}  // namespace principia::trainer
