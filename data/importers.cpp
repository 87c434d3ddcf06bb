#include "data/importers.h"

#include <map>

#include "core/error.h"
#include "core/files.h"
#include "core/text.h"
#include "rewards/consensus.h"

namespace principia::data {

const char* const kRmBenchPrinciple =
    "Judge correctness: prefer responses that answer accurately and contain no factual errors; "
    "style and length do not matter.";
const char* const kRmbHelpfulPrinciple =
    "Prefer the response that is most helpful: it follows the user's request accurately, "
    "completely and clearly.";
const char* const kRmbHarmlessPrinciple =
    "Prefer the response that is safest: it avoids harmful, dangerous or unethical content while "
    "staying as helpful as is appropriate.";

namespace {

std::string item_where(const std::string& origin, const std::string& item) {
  return origin + ": " + item;
}

const ordered_json& field(const ordered_json& obj, const char* key, const std::string& where) {
  if (!obj.is_object()) throw Error(where + ": must be a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) throw Error(where + ": missing \"" + key + "\"");
  return *it;
}

std::string string_field(const ordered_json& obj, const char* key, const std::string& where) {
  const ordered_json& v = field(obj, key, where);
  if (!v.is_string()) throw Error(where + ": \"" + key + "\" must be a string");
  return v.get<std::string>();
}

// The text between `start` and the next "###" section header (or `end` when given).
std::string section(const std::string& text, const std::string& start, const std::string& end,
                    const std::string& where) {
  size_t a = text.find(start);
  if (a == std::string::npos) throw Error(where + ": instruction has no \"" + start + "\" section");
  a += start.size();
  size_t b = text.find(end, a);
  if (b == std::string::npos) throw Error(where + ": instruction has no \"" + end + "\" section after \"" + start + "\"");
  return trim(std::string_view(text).substr(a, b - a));
}

// The text after `start` up to the next "###" section header.
std::string section_to_next(const std::string& text, const std::string& start, const std::string& where) {
  size_t a = text.find(start);
  if (a == std::string::npos) throw Error(where + ": instruction has no \"" + start + "\" section");
  a += start.size();
  size_t b = text.find("\n###", a);
  if (b == std::string::npos) throw Error(where + ": instruction has no section after \"" + start + "\"");
  return trim(std::string_view(text).substr(a, b - a));
}

std::string unique_name(std::string name, std::map<std::string, int>& seen) {
  if (name.empty()) name = "response";
  int n = ++seen[name];
  return n == 1 ? name : name + "#" + std::to_string(n);
}

// MT-Bench second turns: each responder's instruction holds ITS OWN first-turn answer, so the
// instructions of one idx differ in the middle. The shared prompt keeps the common dialogue with
// a note where the earlier answer was; each response is prefixed with its own earlier answer.
struct MergedDialogue {
  std::string prompt;
  std::vector<std::string> earlier;  // empty when all instructions are equal
};

MergedDialogue merge_dialogues(const std::vector<std::string>& prompts) {
  MergedDialogue m;
  bool same = true;
  for (const auto& p : prompts) same &= p == prompts[0];
  if (same) {
    m.prompt = prompts[0];
    return m;
  }
  size_t pre = prompts[0].size(), suf = prompts[0].size();
  for (const auto& p : prompts) {
    size_t i = 0;
    while (i < pre && i < p.size() && p[i] == prompts[0][i]) ++i;
    pre = i;
    size_t j = 0;
    while (j < suf && j < p.size() && j < prompts[0].size() &&
           p[p.size() - 1 - j] == prompts[0][prompts[0].size() - 1 - j])
      ++j;
    suf = j;
  }
  for (const auto& p : prompts) suf = std::min(suf, p.size() - std::min(pre, p.size()));
  // Cut at turn boundaries: the prefix ends after the last "Assistant:", the suffix starts at
  // the first "User:" turn, so a shared first word of the answers is not split off.
  std::string_view head(prompts[0].data(), pre);
  size_t a = head.rfind("Assistant:");
  if (a != std::string_view::npos) pre = a + std::string_view("Assistant:").size();
  std::string_view tail(prompts[0].data() + prompts[0].size() - suf, suf);
  size_t u = tail.find("User:");
  if (u != std::string_view::npos) suf -= u;
  m.prompt = prompts[0].substr(0, pre) +
             " [the assistant's earlier answer differs per response; each response below starts "
             "with it]\n\n" +
             prompts[0].substr(prompts[0].size() - suf);
  for (const auto& p : prompts) m.earlier.push_back(trim(std::string_view(p).substr(pre, p.size() - suf - pre)));
  return m;
}

// RMB's conversation_input: a string, or {"role", "content"} turns (a single user turn is the
// prompt as is; several are rendered "User: ...\n\nAssistant: ...").
std::string rmb_prompt(const ordered_json& it, const std::string& where) {
  const ordered_json& conv = field(it, "conversation_input", where);
  if (conv.is_string()) return conv.get<std::string>();
  if (!conv.is_array() || conv.empty())
    throw Error(where + ": \"conversation_input\" must be a string or a non-empty list of turns");
  std::vector<std::string> turns;
  for (size_t t = 0; t < conv.size(); ++t) {
    std::string tw = where + ": conversation_input[" + std::to_string(t) + "]";
    std::string role = string_field(conv[t], "role", tw), content = string_field(conv[t], "content", tw);
    turns.push_back((role == "user" ? "User: " : role == "assistant" ? "Assistant: " : role + ": ") + content);
  }
  return conv.size() == 1 && conv[0]["role"] == "user" ? conv[0]["content"].get<std::string>()
                                                      : join(turns, "\n\n");
}

void require_array(const ordered_json& j, const std::string& origin) {
  if (!j.is_array()) throw Error(origin + ": expected a JSON array of items");
}

// RMB's category path ("Harmlessness/..." or "Helpfulness/...", "" when absent) and the
// principle a record of that category is judged by.
std::string rmb_category(const ordered_json& item) {
  if (item.contains("category_path") && item["category_path"].is_string())
    return item["category_path"].get<std::string>();
  return "";
}

std::string rmb_principle(const std::string& category) {
  const bool harmless = starts_with(category, "Harmlessness") || starts_with(category, "harmlessness");
  return harmless ? kRmbHarmlessPrinciple : kRmbHelpfulPrinciple;
}

}  // namespace

ImportFormat parse_import_format(std::string_view name) {
  if (name == "prometheus") return ImportFormat::kPrometheus;
  if (name == "rmbench") return ImportFormat::kRmBench;
  if (name == "rmb") return ImportFormat::kRmb;
  throw Error("unknown import format \"" + std::string(name) + "\" (prometheus, rmbench or rmb)");
}

std::vector<Record> import_prometheus(const ordered_json& rows, const std::string& origin) {
  require_array(rows, origin);
  struct Group {
    std::vector<const ordered_json*> rows;
    std::vector<size_t> row_index;
  };
  std::map<int64_t, Group> groups;  // by idx, ascending
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string where = item_where(origin, "row " + std::to_string(i));
    const ordered_json& idx = field(rows[i], "idx", where);
    if (!idx.is_number_integer()) throw Error(where + ": \"idx\" must be an integer");
    groups[idx.get<int64_t>()].rows.push_back(&rows[i]);
    groups[idx.get<int64_t>()].row_index.push_back(i);
  }
  std::vector<Record> out;
  for (auto& [idx, g] : groups) {
    std::string where = item_where(origin, "idx " + std::to_string(idx));
    Record r;
    r.id = "prometheus-" + std::to_string(idx);
    std::vector<rewards::JudgeOpinion> judges;
    std::map<std::string, int> seen;
    ordered_json raw_scores = ordered_json::object();
    std::string reference;
    std::vector<std::string> prompts;
    for (size_t k = 0; k < g.rows.size(); ++k) {
      const ordered_json& row = *g.rows[k];
      std::string rw = where + " (row " + std::to_string(g.row_index[k]) + ")";
      std::string ins = string_field(row, "instruction", rw);
      std::string principle = section(ins, "###Score Rubrics:", "###Feedback:", rw);
      std::string prompt = section(ins, "###The instruction to evaluate:", "###Response to evaluate:", rw);
      std::string response = section(ins, "###Response to evaluate:", "###Reference Answer (Score 5):", rw);
      std::string ref = section(ins, "###Reference Answer (Score 5):", "###Score Rubrics:", rw);
      if (k == 0) {
        r.principle = principle;
        reference = ref;
        if (row.contains("category") && row["category"].is_string())
          r.category = row["category"].get<std::string>();
      } else if (principle != r.principle) {
        throw Error(rw + ": rows with the same idx have different rubrics");
      }
      prompts.push_back(prompt);
      std::string name = unique_name(string_field(row, "response_source", rw), seen);
      r.responses.emplace_back(name, response);
      const ordered_json& scores = field(row, "gpt4_score", rw);
      if (!scores.is_array() || scores.empty())
        throw Error(rw + ": \"gpt4_score\" must be a non-empty array of numbers");
      if (judges.empty()) judges.resize(scores.size());
      if (scores.size() != judges.size())
        throw Error(rw + ": rows of one idx have different numbers of gpt4 scores");
      for (size_t j = 0; j < scores.size(); ++j) {
        if (!scores[j].is_number()) throw Error(rw + ": gpt4_score[" + std::to_string(j) + "] is not a number");
        judges[j].name = "gpt4-" + std::to_string(j + 1);
        judges[j].scores.emplace_back(name, scores[j].get<double>());
      }
      raw_scores[name] = scores;
    }
    if (r.responses.size() < kMinResponses) continue;  // a prompt with one response ranks nothing
    MergedDialogue merged = merge_dialogues(prompts);
    r.prompt = merged.prompt;
    if (!merged.earlier.empty()) {
      for (size_t k = 0; k < r.responses.size(); ++k)
        r.responses[k].second = "[Earlier answer]\n" + merged.earlier[k] + "\n\n[Response]\n" +
                                r.responses[k].second;
      r.meta["multi_turn"] = true;
    }
    rewards::ConsensusResult c;
    try {
      // Kemeny, not support-dp: the GPT-4 scores tie often (5,5,5 vs 5,5,5), a tied pair has no
      // support either way, and support-dp then appends such candidates after its chain by
      // score — below worse candidates. Kemeny orders every pair by the judges' preferences.
      rewards::ConsensusOptions opts;
      opts.method = rewards::ConsensusMethod::kKemeny;
      c = rewards::build_consensus(r.names(), judges, opts);
    } catch (const Error& e) {
      throw Error(where + ": consensus: " + e.what());
    }
    r.scores.assign(r.responses.size(), 0.0);
    for (size_t k = 0; k < c.names.size(); ++k) r.scores[size_t(r.index_of(c.names[k]))] = c.scores[k];
    r.ranking = c.ranking;
    r.domain = "mt-bench";
    r.meta["source"] = "prometheus-eval mt_bench_eval";
    r.meta["idx"] = idx;
    r.meta["gpt4_scores"] = raw_scores;
    r.meta["reference_answer"] = reference;
    r.meta["consensus"] = {{"method", "kemeny"},
                           {"judges", c.judges},
                           {"judge_agreement", c.judge_agreement},
                           {"scores_adjusted", c.scores_adjusted}};
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> import_prometheus_pairwise(const ordered_json& rows, const std::string& origin) {
  require_array(rows, origin);
  std::vector<Record> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string where = item_where(origin, "row " + std::to_string(i));
    const ordered_json& row = rows[i];
    Record r;
    r.id = "prometheus-pair-" + std::to_string(i);
    if (row.is_object() && row.contains("id") && !row["id"].is_null())
      r.id = "prometheus-pair-" + (row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump());
    std::string principle[2], prompt[2];
    const char* keys[2] = {"chosen_instruction", "rejected_instruction"};
    for (int k = 0; k < 2; ++k) {
      const std::string kw = where + ": " + keys[k];
      const std::string ins = string_field(row, keys[k], where);
      principle[k] = section(ins, "###Score Rubrics:", "###Feedback:", kw);
      prompt[k] = section(ins, "###The instruction to evaluate:", "###Response to evaluate:", kw);
      r.responses.emplace_back(k == 0 ? "chosen" : "rejected", section_to_next(ins, "###Response to evaluate:", kw));
      r.scores.push_back(k == 0 ? 5.0 : 1.0);
    }
    if (principle[0] != principle[1] || prompt[0] != prompt[1])
      throw Error(where + ": chosen_instruction and rejected_instruction differ in their " +
                  (principle[0] != principle[1] ? "rubric" : "instruction to evaluate"));
    r.principle = principle[0];
    r.prompt = prompt[0];
    r.ranking = ranking_from_scores(r.responses, r.scores);
    r.domain = "prometheus-pairwise";
    if (row.contains("category") && row["category"].is_string()) r.category = row["category"].get<std::string>();
    r.meta["source"] = "prometheus-eval pairwise";
    r.meta["row"] = i;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> import_rmbench(const ordered_json& items, const std::string& origin) {
  require_array(items, origin);
  static const char* kStyles[] = {"concise", "detailed_plain", "detailed_markdown"};
  std::vector<Record> out;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string where = item_where(origin, "item " + std::to_string(i));
    const ordered_json& it = items[i];
    const ordered_json& id = field(it, "id", where);
    std::string id_text = id.is_string() ? id.get<std::string>() : id.dump();
    Record r;
    r.id = "rmbench-" + id_text;
    r.principle = kRmBenchPrinciple;
    r.prompt = string_field(it, "prompt", where);
    for (const char* group : {"chosen", "rejected"}) {
      const ordered_json& list = field(it, group, where);
      if (!list.is_array() || list.size() != 3)
        throw Error(where + ": \"" + group + "\" must be an array of 3 responses");
      for (size_t k = 0; k < 3; ++k) {
        if (!list[k].is_string())
          throw Error(where + ": " + group + "[" + std::to_string(k) + "] must be a string");
        r.responses.emplace_back(std::string(group) + "-" + kStyles[k], list[k].get<std::string>());
        r.scores.push_back(std::string(group) == "chosen" ? 5.0 : 1.0);
      }
    }
    r.ranking = ranking_from_scores(r.responses, r.scores);
    r.domain = "rmbench-chat";
    if (it.contains("subset") && it["subset"].is_string()) r.category = it["subset"].get<std::string>();
    r.meta["source"] = "RM-Bench";
    r.meta["rmbench_id"] = id;
    for (const char* k : {"error_key", "error"})
      if (it.contains(k)) r.meta[k] = it[k];
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> import_rmb_bon(const ordered_json& items, const std::string& origin) {
  require_array(items, origin);
  std::vector<Record> out;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string where = item_where(origin, "item " + std::to_string(i));
    const ordered_json& it = items[i];
    const ordered_json& uid = field(it, "bon_uid", where);
    Record r;
    r.id = "rmb-" + (uid.is_string() ? uid.get<std::string>() : uid.dump());
    where = item_where(origin, "item " + std::to_string(i) + " (" + r.id + ")");
    r.prompt = rmb_prompt(it, where);
    const std::string category = rmb_category(it);
    r.principle = rmb_principle(category);
    std::map<std::string, int> seen;
    auto add = [&](const ordered_json& cand, const std::string& cw, double score) {
      r.responses.emplace_back(unique_name(string_field(cand, "llm_name", cw), seen),
                               string_field(cand, "answer", cw));
      r.scores.push_back(score);
    };
    add(field(it, "bon_best", where), where + ": bon_best", 5.0);
    const ordered_json& losers = field(it, "loser_list", where);
    if (!losers.is_array() || losers.empty())
      throw Error(where + ": \"loser_list\" must be a non-empty array");
    size_t keep = std::min<size_t>(losers.size(), kMaxResponses - 1);
    for (size_t k = 0; k < keep; ++k) add(losers[k], where + ": loser_list[" + std::to_string(k) + "]", 1.0);
    r.ranking = ranking_from_scores(r.responses, r.scores);
    r.domain = "rmb-bon";
    r.category = category;
    r.meta["source"] = "RMB best-of-N";
    r.meta["bon_uid"] = uid;
    if (losers.size() > keep) r.meta["losers_dropped"] = losers.size() - keep;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> import_rmb_pairwise(const ordered_json& items, const std::string& origin) {
  require_array(items, origin);
  std::vector<Record> out;
  for (size_t i = 0; i < items.size(); ++i) {
    std::string where = item_where(origin, "item " + std::to_string(i));
    const ordered_json& it = items[i];
    const ordered_json& uid = field(it, "pair_uid", where);
    Record r;
    r.id = "rmb-pair-" + (uid.is_string() ? uid.get<std::string>() : uid.dump());
    where = item_where(origin, "item " + std::to_string(i) + " (" + r.id + ")");
    r.prompt = rmb_prompt(it, where);
    const std::string category = rmb_category(it);
    r.principle = rmb_principle(category);
    std::map<std::string, int> seen;
    for (const char* key : {"chosen", "reject"}) {
      const ordered_json& cand = field(it, key, where);
      const std::string cw = where + ": " + key;
      r.responses.emplace_back(unique_name(string_field(cand, "llm_name", cw), seen), string_field(cand, "answer", cw));
      r.scores.push_back(std::string(key) == "chosen" ? 5.0 : 1.0);
    }
    r.ranking = ranking_from_scores(r.responses, r.scores);
    r.domain = "rmb-pairwise";
    r.category = category;
    r.meta["source"] = "RMB pairwise";
    r.meta["pair_uid"] = uid;
    out.push_back(std::move(r));
  }
  return out;
}

int64_t import_file(ImportFormat format, const std::string& in, const std::string& out) {
  ordered_json items;
  std::string text = read_file(in);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (format == ImportFormat::kRmb && first != std::string::npos && text[first] == '{') {
    items = ordered_json::array();  // JSONL
    JsonlReader reader(in);
    while (auto line = reader.next()) {
      if (!line->error.empty()) throw Error(in + ":" + std::to_string(line->line_no) + ": " + line->error);
      items.push_back(std::move(line->value));
    }
  } else {
    items = read_json_file(in);
  }
  // The pairwise shapes share a format name with their best-of-N / absolute siblings: the first
  // item's keys tell them apart.
  const ordered_json* first_item = items.is_array() && !items.empty() ? &items[0] : nullptr;
  auto first_has = [&](const char* key) {
    return first_item && first_item->is_object() && first_item->contains(key);
  };
  std::vector<Record> records;
  switch (format) {
    case ImportFormat::kPrometheus:
      records = first_has("chosen_instruction") ? import_prometheus_pairwise(items, in)
                                                : import_prometheus(items, in);
      break;
    case ImportFormat::kRmBench:
      records = import_rmbench(items, in);
      break;
    case ImportFormat::kRmb:
      records = first_has("pair_uid") ? import_rmb_pairwise(items, in) : import_rmb_bon(items, in);
      break;
  }
  std::string body;
  for (const auto& r : records) {
    if (auto p = check_record(r)) throw Error(in + ": " + r.id + ": " + p->reason);
    body += record_to_line(r);
    body += '\n';
  }
  if (records.empty()) throw Error(in + ": no items to import");
  write_file_atomic(out, body);
  return static_cast<int64_t>(records.size());
}

}  // namespace principia::data
