#include "trainer/evaluate.h"

#include <cmath>
#include <filesystem>

#include "core/files.h"
#include "core/rng.h"
#include "model/generation.h"
#include "model/transformer.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"

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
  return o;
}

ordered_json evaluate(model::Transformer& model, const JudgeFormat& format,
                      const rewards::CompositeReward& reward, const std::vector<data::Record>& items,
                      const EvalOptions& options, std::vector<ordered_json>* judgments_out) {
  struct Pending {
    size_t item;
    int64_t sample;
    rewards::NameMapping mapping;
  };
  rewards::EvalMetrics metrics;
  std::vector<double> component_sums(reward.names().size(), 0.0);
  double total_sum = 0;
  int64_t judgments = 0;
  model::SamplingOptions sampling;
  sampling.greedy = options.greedy;
  sampling.max_new_tokens = options.max_new_tokens;
  sampling.temperature = options.temperature;
  sampling.top_p = options.top_p;
  sampling.top_k = options.top_k;
  sampling.eos_ids = format.stop_ids();
  sampling.use_config_eos = false;

  std::vector<model::GenerationRequest> requests;
  std::vector<Pending> pending;
  rewards::RewardBreakdown breakdown;
  // The first judgments verbatim, to read what the judge writes (the score file format, so
  // `principia score` can re-score them).
  constexpr size_t kSamplesKept = 8;
  ordered_json samples = ordered_json::array();
  auto flush = [&]() {
    if (requests.empty()) return;
    auto gens = model::generate(model, requests, sampling);
    for (size_t n = 0; n < gens.size(); ++n) {
      const std::string text = format.decode_response(gens[n].ids);
      rewards::Judgment j = rewards::parse_judgment(text);
      rewards::remap_names(j, pending[n].mapping);
      rewards::Gold gold = gold_of(items[pending[n].item]);
      metrics.add(j, gold);
      reward.score(j, gold, &breakdown);
      if (samples.size() < kSamplesKept || judgments_out) {
        ordered_json mapping = ordered_json::object();
        for (const auto& [shown, real] : pending[n].mapping) mapping[shown] = real;
        ordered_json sample;
        sample["id"] = items[pending[n].item].id;
        sample["output"] = text;
        sample["mapping"] = mapping;
        sample["reward"] = breakdown.total;
        if (samples.size() < kSamplesKept) samples.push_back(sample);
        if (judgments_out) {
          ordered_json all;
          all["id"] = items[pending[n].item].id;
          all["sample"] = pending[n].sample;
          all["output"] = text;
          all["mapping"] = std::move(mapping);
          all["format_valid"] = rewards::is_format_valid(j, gold);
          all["reward"] = breakdown.total;
          ordered_json components = ordered_json::object();
          for (size_t c = 0; c < reward.names().size(); ++c) components[reward.names()[c]] = breakdown.values[c];
          all["components"] = std::move(components);
          judgments_out->push_back(std::move(all));
        }
      }
      total_sum += breakdown.total;
      for (size_t c = 0; c < component_sums.size(); ++c) component_sums[c] += breakdown.values[c];
      ++judgments;
    }
    requests.clear();
    pending.clear();
  };
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t s = 0; s < options.samples; ++s) {
      // A fixed random order per item: position bias cannot inflate the score.
      auto perm = sample_permutation(options.seed ^ 0xe7a1ULL, 0, int64_t(i), s, items[i].size());
      auto rendered = format.render(items[i], perm);
      auto ids = format.prompt_ids(rendered);
      requests.push_back({std::vector<int64_t>(ids.begin(), ids.end()),
                          Rng::derive(options.seed, {0xe7a1ULL, i, uint64_t(s)}).next()});
      pending.push_back({i, s, rendered.mapping});
      if (int64_t(requests.size()) >= options.batch) flush();
    }
  }
  flush();

  ordered_json out;
  out["items"] = items.size();
  out["judgments"] = judgments;
  out["metrics"] = metrics.to_json();
  ordered_json r;
  r["total"] = judgments ? total_sum / double(judgments) : 0.0;
  for (size_t c = 0; c < component_sums.size(); ++c)
    r[reward.names()[c]] = judgments ? component_sums[c] / double(judgments) : 0.0;
  out["reward"] = r;
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

void write_eval(const std::string& run_dir, const std::string& name, const ordered_json& eval,
                const std::vector<ordered_json>* judgments) {
  std::filesystem::create_directories(run_dir + "/eval");
  if (judgments) {
    std::string lines;
    for (const auto& j : *judgments) lines += j.dump() + "\n";
    write_file_atomic(run_dir + "/eval/" + name + ".judgments.jsonl", lines);
  }
  write_file_atomic(run_dir + "/eval/" + name + ".json", eval.dump(2) + "\n");
  write_file_atomic(run_dir + "/eval/" + name + ".md",
                    "# eval " + name + "\n\n" + eval_table({{name, EvalSummary::of(eval)}}));
}

}  // namespace principia::trainer
