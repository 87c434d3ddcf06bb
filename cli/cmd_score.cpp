// `principia score`: rewards and metrics of a judge's outputs against gold records.
// `principia consensus`: consensus records from several judges' scores and rankings.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "rewards/consensus.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "rewards/records.h"
#include "rewards/registry.h"

namespace principia::cli {
namespace {

using namespace principia::rewards;

const CommandSpec kScoreSpec{
    "principia score --gold DATA.jsonl --judgments OUT.jsonl [--reward R.yaml] [--skip-bad] "
    "[--per-item FILE]",
    "Parses every judgment, maps shown names back to real ones (`mapping`), scores it with the\n"
    "reward components (default: format 0.15 + weighted_pair 0.85; total = sum w*r / sum w) and\n"
    "computes ranking metrics against the gold record with the same `id`. Prints one JSON object:\n"
    "counts, parse stages, mean reward per component and metrics (overall, by domain, by\n"
    "category). Pairwise accuracy counts a predicted tie as half right.\n"
    "\n"
    "DATA.jsonl: dataset records {\"id\", \"responses\": {name: text}, \"scores\": {name: 1..5},\n"
    "\"domain\"?, \"category\"?, ...}. OUT.jsonl: {\"id\", \"output\": judge text,\n"
    "\"mapping\"?: {shown name: real name}}; several lines may share an id (samples).",
    {{"--gold", "DATA.jsonl", "gold records (dataset format)"},
     {"--judgments", "OUT.jsonl", "judge outputs, one {id, output, mapping?} per line"},
     {"--reward", "R.yaml",
      "reward components and require_valid_format (a bare reward section or a config's `reward:`)"},
     {"--skip-bad", "", "skip malformed lines (counted, summary on stderr) instead of failing"},
     {"--per-item", "FILE", "also write one JSON line per judgment: rewards, stage, diagnostics"}},
    0,
    0};

const CommandSpec kConsensusSpec{
    "principia consensus JUDGES.jsonl OUT.jsonl [--method support-dp|kemeny] [--min-support K] "
    "[--drop-unsupported] [--score-agg mean|median] [--skip-bad]",
    "Builds dataset records with consensus scores and a best-to-worst ranking from several\n"
    "judges. Input, one item a line: the item's own fields (\"id\", \"principle\", \"prompt\",\n"
    "\"responses\": {name: text}, \"domain\"?, \"category\"?, ...) plus\n"
    "  \"judges\": [{\"name\"?: str, \"scores\": {name: number}, \"ranking\"?: [names best->worst]}]\n"
    "(a judge needs scores, a ranking or both; candidates are the `responses` names, else every\n"
    "name the judges mention; at most 16). A judge prefers a to b when it scored a higher (its\n"
    "ranking decides pairs it did not score).\n"
    "\n"
    "support-dp: for each judge's ranking, the longest subsequence whose every pair is preferred\n"
    "by at least K judges (exact, dynamic programming); the longest over judges is the ranking;\n"
    "other candidates are appended by score, or dropped with --drop-unsupported.\n"
    "kemeny: the ranking with the fewest pairwise disagreements with the judges (exact DP).\n"
    "Scores: mean (or median) over judges, then made non-increasing along the ranking (isotonic\n"
    "regression) so that they agree. Each output record carries an `agreement` object.",
    {{"--method", "NAME", "support-dp (default) or kemeny"},
     {"--min-support", "K", "judges needed to support a pair (default: a majority)"},
     {"--drop-unsupported", "", "support-dp: drop candidates outside the supported ranking"},
     {"--score-agg", "NAME", "mean (default) or median"},
     {"--skip-bad", "", "skip malformed lines (counted, summary on stderr) instead of failing"}},
    2,
    2};

// One JSONL input line as a JSON value, or a bad-line report. Returns false to skip the line.
bool usable_line(const std::string& file, const JsonlLine& line, bool skip_bad,
                 BadLineReport* bad) {
  if (line.error.empty()) return true;
  if (!skip_bad)
    throw Error(SourceLocation{file, static_cast<int>(line.line_no), 0}, "", line.error);
  bad->add(file, line.line_no, "not JSON", line.error);
  return false;
}

// e.what() of an Error raised at `where`, without the "file:line: " prefix the bad-line report
// adds itself.
std::string without_location(const Error& e, const SourceLocation& where) {
  std::string what = e.what();
  std::string prefix = where.str() + ": ";
  return what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what;
}

ordered_json judgment_diagnostics(const Judgment& j, const Gold& gold) {
  ordered_json d = ordered_json::object();
  NameCheck names = check_names(j, gold);
  if (j.json_parsed && !names.missing.empty()) d["missing"] = names.missing;
  if (!names.unknown.empty()) d["unknown"] = names.unknown;
  if (j.json_parsed && !j.ranking_is_permutation) d["ranking_not_permutation"] = true;
  if (!j.invalid_scores.empty()) d["invalid_scores"] = j.invalid_scores;
  if (!j.duplicate_score_names.empty()) d["duplicate_score_names"] = j.duplicate_score_names;
  if (!j.duplicate_ranking_names.empty())
    d["duplicate_ranking_names"] = j.duplicate_ranking_names;
  if (j.ranking_non_strings) d["ranking_non_strings"] = j.ranking_non_strings;
  if (j.ranking_key_typo) d["ranking_key_typo"] = true;
  return d;
}

}  // namespace

int cmd_score(const Argv& argv) {
  Args args = parse_args(kScoreSpec, argv);
  const std::string gold_path = args.require("--gold");
  const std::string judgments_path = args.require("--judgments");
  const bool skip_bad = args.has("--skip-bad");

  config::RewardConfig reward_config;
  if (args.has("--reward")) reward_config = config::load_reward_config(args.get("--reward"));
  else reward_config.components = config::default_reward_components();
  CompositeReward reward(reward_config.components, reward_config.require_valid_format);
  // A group component compares the samples of one item, which a judgments file does not group.
  for (size_t i = 0; i < reward_config.components.size(); ++i) {
    const auto& names = group_component_names();
    const auto& c = reward_config.components[i];
    if (std::find(names.begin(), names.end(), c.name) != names.end())
      throw Error(c.where, "reward.components[" + std::to_string(i) + "].name",
                  "'" + c.name + "' scores a group of samples of one item; `principia score` scores judgments one at a time");
  }

  BadLineReport bad;
  std::map<std::string, GoldRecord> gold;
  {
    JsonlReader reader(gold_path);
    while (auto line = reader.next()) {
      if (!usable_line(gold_path, *line, skip_bad, &bad)) continue;
      SourceLocation where{gold_path, static_cast<int>(line->line_no), 0};
      try {
        GoldRecord rec = gold_from_json(line->value, where);
        if (gold.count(rec.id)) throw Error(where, "id", "'" + rec.id + "' appears twice");
        std::string id = rec.id;
        gold.emplace(std::move(id), std::move(rec));
      } catch (const Error& e) {
        if (!skip_bad) throw;
        bad.add(gold_path, line->line_no, "bad gold record", without_location(e, where));
      }
    }
  }

  std::ostringstream per_item;
  const bool want_per_item = args.has("--per-item");
  EvalMetrics metrics;
  std::vector<double> sums(reward.names().size(), 0.0);
  double total_sum = 0;
  int64_t judged = 0;
  std::map<std::string, int64_t> stages;
  std::map<std::string, int64_t> judged_ids;
  RewardBreakdown breakdown;
  {
    JsonlReader reader(judgments_path);
    while (auto line = reader.next()) {
      if (!usable_line(judgments_path, *line, skip_bad, &bad)) continue;
      SourceLocation where{judgments_path, static_cast<int>(line->line_no), 0};
      JudgmentLine jl;
      const GoldRecord* g = nullptr;
      try {
        jl = judgment_line_from_json(line->value, where);
        auto it = gold.find(jl.id);
        if (it == gold.end()) throw Error(where, "id", "'" + jl.id + "' is not in " + gold_path);
        g = &it->second;
      } catch (const Error& e) {
        if (!skip_bad) throw;
        bad.add(judgments_path, line->line_no, "bad judgment line", without_location(e, where));
        continue;
      }
      Judgment j = parse_judgment(jl.output);
      remap_names(j, jl.mapping);
      reward.score(j, g->gold, &breakdown);
      metrics.add(j, g->gold);
      ++judged;
      ++judged_ids[jl.id];
      ++stages[parse_stage_name(j.stage)];
      total_sum += breakdown.total;
      for (size_t i = 0; i < sums.size(); ++i) sums[i] += breakdown.values[i];
      if (want_per_item) {
        ordered_json item;
        item["id"] = jl.id;
        item["line"] = line->line_no;
        item["stage"] = parse_stage_name(j.stage);
        item["reward"] = breakdown.total;
        ordered_json parts = ordered_json::object();
        for (size_t i = 0; i < sums.size(); ++i) parts[reward.names()[i]] = breakdown.values[i];
        item["components"] = parts;
        item["diagnostics"] = judgment_diagnostics(j, g->gold);
        per_item << item.dump() << "\n";
      }
    }
  }
  if (bad.count() > 0) std::cerr << bad.summary() << "\n";
  if (want_per_item) write_file_atomic(args.get("--per-item"), per_item.str());

  ordered_json out;
  out["gold_records"] = gold.size();
  out["judgments"] = judged;
  out["gold_without_judgment"] = gold.size() - judged_ids.size();
  out["bad_lines_skipped"] = bad.count();
  ordered_json stage_counts = ordered_json::object();
  for (auto s : {ParseStage::kDirect, ParseStage::kRepaired, ParseStage::kBracketExtraction,
                 ParseStage::kNone})
    stage_counts[parse_stage_name(s)] = stages[parse_stage_name(s)];
  out["parse_stages"] = stage_counts;
  ordered_json r;
  ordered_json weights = ordered_json::object(), means = ordered_json::object();
  for (size_t i = 0; i < sums.size(); ++i) {
    weights[reward.names()[i]] = reward.weights()[i];
    means[reward.names()[i]] = judged ? ordered_json(sums[i] / judged) : ordered_json(nullptr);
  }
  r["weights"] = weights;
  r["require_valid_format"] = reward_config.require_valid_format;
  r["mean_total"] = judged ? ordered_json(total_sum / judged) : ordered_json(nullptr);
  r["mean"] = means;
  out["reward"] = r;
  out["metrics"] = metrics.to_json();
  std::cout << out.dump(2) << "\n";
  return 0;
}

int cmd_consensus(const Argv& argv) {
  Args args = parse_args(kConsensusSpec, argv);
  const std::string in_path = args.positional()[0];
  const std::string out_path = args.positional()[1];
  ConsensusOptions options;
  std::string method = args.get("--method", "support-dp");
  if (method == "kemeny") {
    options.method = ConsensusMethod::kKemeny;
  } else if (method != "support-dp") {
    throw UsageError("--method must be support-dp or kemeny (got '" + method + "')",
                     kConsensusSpec.help_text());
  }
  std::string agg = args.get("--score-agg", "mean");
  if (agg == "median") {
    options.aggregation = ScoreAggregation::kMedian;
  } else if (agg != "mean") {
    throw UsageError("--score-agg must be mean or median (got '" + agg + "')",
                     kConsensusSpec.help_text());
  }
  int64_t k = args.get_int("--min-support", 0);
  if (k < 0 || k > 1000000)
    throw UsageError("--min-support must be a positive number of judges",
                     kConsensusSpec.help_text());
  options.min_support = static_cast<int>(k);
  options.drop_unsupported = args.has("--drop-unsupported");
  if (options.drop_unsupported && options.method == ConsensusMethod::kKemeny)
    throw UsageError("--drop-unsupported applies to --method support-dp",
                     kConsensusSpec.help_text());
  const bool skip_bad = args.has("--skip-bad");

  BadLineReport bad;
  std::string out_text;
  int64_t items = 0, dropped = 0, adjusted = 0;
  double agreement_sum = 0;
  JsonlReader reader(in_path);
  while (auto line = reader.next()) {
    if (!usable_line(in_path, *line, skip_bad, &bad)) continue;
    SourceLocation where{in_path, static_cast<int>(line->line_no), 0};
    try {
      ConsensusItem item = consensus_item_from_json(line->value, where);
      ConsensusResult result;
      try {
        result = build_consensus(item.candidates, item.judges, options);
      } catch (const Error& e) {
        throw Error(where, "", e.what());
      }
      if (result.names.size() < 2 && options.drop_unsupported)
        throw Error(where, "", "fewer than 2 candidates are supported; nothing to write");
      out_text += consensus_record(item, result, options).dump() + "\n";
      ++items;
      dropped += static_cast<int64_t>(result.dropped.size());
      adjusted += result.scores_adjusted > 0;
      agreement_sum += result.judge_agreement;
    } catch (const Error& e) {
      if (!skip_bad) throw;
      bad.add(in_path, line->line_no, "bad item", without_location(e, where));
    }
  }
  if (bad.count() > 0) std::cerr << bad.summary() << "\n";
  write_file_atomic(out_path, out_text);
  ordered_json summary;
  summary["items"] = items;
  summary["bad_lines_skipped"] = bad.count();
  summary["method"] = method;
  summary["candidates_dropped"] = dropped;
  summary["items_with_adjusted_scores"] = adjusted;
  summary["mean_judge_agreement"] =
      items ? ordered_json(agreement_sum / items) : ordered_json(nullptr);
  summary["output"] = out_path;
  std::cout << summary.dump() << "\n";
  return 0;
}

}  // namespace principia::cli
