#include "rewards/judgment_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "rewards/lenient_json.h"

namespace principia::rewards {

const char* parse_stage_name(ParseStage stage) {
  switch (stage) {
    case ParseStage::kNone: return "none";
    case ParseStage::kDirect: return "direct";
    case ParseStage::kRepaired: return "repaired";
    case ParseStage::kBracketExtraction: return "bracket_extraction";
  }
  return "none";
}

namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kFence = "```";

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A score value -> number in [1,5]; false for anything else (NaN, ±inf, out of range, text).
bool valid_score(const JsonScalar& v, double* out) {
  double x = 0;
  if (v.kind == JsonScalar::Kind::kNumber) {
    x = v.number;
  } else if (v.kind == JsonScalar::Kind::kString) {
    std::string_view t = trim_view(v.text);
    if (t.empty()) return false;
    if (t.front() == '+') t.remove_prefix(1);
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
    if (ec != std::errc() || ptr != t.data() + t.size()) return false;
  } else {
    return false;
  }
  if (!std::isfinite(x) || x < 1.0 || x > 5.0) return false;
  *out = x;
  return true;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (same_name(x, s)) return true;
  return false;
}

// Which spelling of the ranking key this is: 0 none, 1 canonical, 2 a known variant.
int ranking_key_kind(const std::string& key) {
  if (key == "best-to-worst") return 1;
  if (key == "best-to-worse" || key == "best_to_worst" || key == "best_to_worse" ||
      key == "best-to-worst-ranking" || key == "ranking")
    return 2;
  return 0;
}

void reset_body(Judgment* j) {
  j->stage = ParseStage::kNone;
  j->json_parsed = j->used_bracket_extraction = false;
  j->has_scores_key = j->has_ranking_key = j->ranking_key_typo = false;
  j->scores.clear();
  j->ranking.clear();
  j->invalid_scores.clear();
  j->duplicate_score_names.clear();
  j->duplicate_ranking_names.clear();
  j->ranking_non_strings = 0;
  j->ranking_is_permutation = false;
}

bool read_scores(LenientJsonReader& r, Judgment* j) {
  j->scores.clear();
  j->invalid_scores.clear();
  j->duplicate_score_names.clear();
  j->has_scores_key = true;
  JsonScalar value;
  return r.read_object([&](const std::string& name) {
    bool is_scalar = r.read_scalar(&value);
    if (r.failed()) return false;
    if (j->scores.size() + j->invalid_scores.size() >= kMaxJudgedNames) return true;
    double score = 0;
    bool ok = is_scalar && valid_score(value, &score);
    auto it = std::find_if(j->scores.begin(), j->scores.end(),
                           [&](const ScoreEntry& e) { return same_name(e.name, name); });
    auto bad = std::find_if(j->invalid_scores.begin(), j->invalid_scores.end(),
                            [&](const std::string& n) { return same_name(n, name); });
    bool seen = it != j->scores.end() || bad != j->invalid_scores.end();
    if (seen && !contains(j->duplicate_score_names, name)) j->duplicate_score_names.push_back(name);
    // Last value wins, as in a Python dict.
    if (it != j->scores.end()) {
      if (ok) {
        it->value = score;
      } else {
        j->scores.erase(it);
        j->invalid_scores.push_back(name);
      }
    } else if (bad != j->invalid_scores.end()) {
      if (ok) {
        j->invalid_scores.erase(bad);
        j->scores.push_back({name, score});
      }
    } else if (ok) {
      j->scores.push_back({name, score});
    } else {
      j->invalid_scores.push_back(name);
    }
    return true;
  });
}

bool read_ranking(LenientJsonReader& r, Judgment* j) {
  j->ranking.clear();
  j->duplicate_ranking_names.clear();
  j->ranking_non_strings = 0;
  j->has_ranking_key = true;
  JsonScalar value;
  return r.read_array([&] {
    bool is_scalar = r.read_scalar(&value);
    if (r.failed()) return false;
    if (!is_scalar || value.kind != JsonScalar::Kind::kString) {
      ++j->ranking_non_strings;
      return true;
    }
    if (j->ranking.size() >= kMaxJudgedNames) return true;
    if (contains(j->ranking, value.text)) {
      if (!contains(j->duplicate_ranking_names, value.text))
        j->duplicate_ranking_names.push_back(value.text);
    }
    j->ranking.push_back(value.text);
    return true;
  });
}

// Reads `text` as exactly one JSON object holding the judgment. On failure *j's body fields
// are left reset.
bool read_body(std::string_view text, Judgment* j, bool* repaired) {
  reset_body(j);
  LenientJsonReader r(text);
  if (r.peek() != '{') return false;
  bool ok = r.read_object([&](const std::string& key) {
    if (key == "scores") {
      if (r.peek() == '{') return read_scores(r, j);
      j->has_scores_key = false;
      j->scores.clear();
      j->invalid_scores.clear();
      return r.skip_value();
    }
    int kind = ranking_key_kind(key);
    if (kind != 0) {
      if (r.peek() == '[') {
        j->ranking_key_typo = kind == 2;
        return read_ranking(r, j);
      }
      return r.skip_value();
    }
    return r.skip_value();
  });
  if (!ok || !r.at_end()) {
    reset_body(j);
    return false;
  }
  *repaired = r.repaired() || j->ranking_key_typo;
  j->json_parsed = true;
  return true;
}

// The body narrowed to the inside of a ``` fence (language tag dropped), if it has one.
std::string_view strip_fence(std::string_view body) {
  size_t open = body.find(kFence);
  if (open == std::string_view::npos) return body;
  size_t start = open + kFence.size();
  // A language tag ("json") runs to the end of the fence line.
  size_t line_end = body.find('\n', start);
  if (line_end != std::string_view::npos) {
    std::string_view tag = body.substr(start, line_end - start);
    bool is_tag = std::all_of(tag.begin(), tag.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == ' ' || c == '\r' || c == '-' || c == '_';
    });
    if (is_tag) start = line_end + 1;
  }
  size_t close = body.find(kFence, start);
  if (close == std::string_view::npos) return body.substr(start);
  return body.substr(start, close - start);
}

void check_permutation(Judgment* j) {
  j->ranking_score_index.assign(j->ranking.size(), -1);
  bool all_named = true;
  for (size_t r = 0; r < j->ranking.size(); ++r) {
    const std::string& name = j->ranking[r];
    for (size_t i = 0; i < j->scores.size(); ++i)
      if (same_name(j->scores[i].name, name)) {
        j->ranking_score_index[r] = static_cast<int>(i);
        break;
      }
    if (j->ranking_score_index[r] < 0 && !contains(j->invalid_scores, name)) all_named = false;
  }
  size_t named = j->scores.size() + j->invalid_scores.size();
  j->ranking_is_permutation = all_named && !j->ranking.empty() && j->ranking.size() == named &&
                              j->ranking_non_strings == 0 && j->duplicate_ranking_names.empty();
}

}  // namespace

Judgment parse_judgment(std::string_view output) {
  Judgment j;
  size_t open = output.find(kThinkOpen);
  size_t close = output.find(kThinkClose, open == std::string_view::npos ? 0 : open);
  j.think_open = open != std::string_view::npos;
  j.think_close =
      close != std::string_view::npos || output.find(kThinkClose) != std::string_view::npos;

  std::string_view body = output;
  if (close != std::string_view::npos) {
    // Reasoning: inside the block; with only a closing tag (a chat template that pre-fills
    // "<think>"), everything before it.
    size_t start = j.think_open ? open + kThinkOpen.size() : 0;
    j.reasoning.assign(trim_view(output.substr(start, close - start)));
    body = output.substr(close + kThinkClose.size());
  }

  bool repaired = false;
  if (read_body(trim_view(strip_fence(body)), &j, &repaired)) {
    j.stage = repaired ? ParseStage::kRepaired : ParseStage::kDirect;
  } else {
    size_t first = body.find('{');
    size_t last = body.rfind('}');
    if (first != std::string_view::npos && last != std::string_view::npos && first < last &&
        read_body(body.substr(first, last - first + 1), &j, &repaired)) {
      j.stage = ParseStage::kBracketExtraction;
      j.used_bracket_extraction = true;
    }
  }
  check_permutation(&j);
  return j;
}

void remap_names(Judgment& judgment, const NameMapping& mapping) {
  auto map_one = [&](std::string& name) {
    for (const auto& [shown, real] : mapping)
      if (same_name(shown, name)) {
        name = real;
        return;
      }
  };
  for (auto& s : judgment.scores) map_one(s.name);
  for (auto& n : judgment.ranking) map_one(n);
  for (auto& n : judgment.invalid_scores) map_one(n);
  for (auto& n : judgment.duplicate_score_names) map_one(n);
  for (auto& n : judgment.duplicate_ranking_names) map_one(n);
}

}  // namespace principia::rewards
