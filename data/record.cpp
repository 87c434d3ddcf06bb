#include "data/record.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>

#include "core/text.h"

namespace principia::data {
namespace {

const std::vector<std::string>& known_keys() {
  static const std::vector<std::string> keys = {"id",      "principle", "prompt", "responses",
                                                "scores",  "ranking",   "domain", "category",
                                                "meta"};
  return keys;
}

std::string quote_name(std::string_view s) {
  std::string q = "\"";
  q += s.size() > 60 ? std::string(s.substr(0, 57)) + "..." : std::string(s);
  return q + "\"";
}

std::string format_score(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// A SAX pass that finds duplicate keys (with their path) and keeps nlohmann's syntax message.
// nlohmann's DOM parser keeps the last of duplicated keys silently, so this runs first.
class DuplicateKeyFinder {
 public:
  using json = ordered_json;
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) {
    frames_.push_back({true, {}, ""});
    return true;
  }
  bool key(json::string_t& k) {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second && !duplicate_) {
      duplicate_ = true;
      duplicate_key_ = k;
      for (size_t i = 0; i + 1 < frames_.size(); ++i)
        if (frames_[i].object) duplicate_path_.push_back(frames_[i].current_key);
    }
    f.current_key = k;
    return true;
  }
  bool end_object() {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    frames_.push_back({false, {}, ""});
    return true;
  }
  bool end_array() {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    syntax_error_ = json_error_message(ex.what());
    return false;
  }

  bool duplicate_ = false;
  std::string duplicate_key_;
  std::vector<std::string> duplicate_path_;  // object keys leading to the duplicate's object
  std::string syntax_error_;

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string current_key;
  };
  std::vector<Frame> frames_;
};

// NaN / Infinity outside strings: Python's json.dumps writes them, JSON does not allow them.
bool has_bare_nonfinite(std::string_view s) {
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (s.compare(i, 3, "NaN") == 0 || s.compare(i, 8, "Infinity") == 0) {
      return true;
    }
  }
  return false;
}

RecordProblem problem(Problem kind, std::string reason) { return {kind, std::move(reason)}; }

const char* type_name(const ordered_json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

std::optional<RecordProblem> require_string(const ordered_json& obj, const char* key,
                                            bool required, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return problem(Problem::kMissingField, std::string("missing field \"") + key + "\"");
    return std::nullopt;
  }
  if (!it->is_string())
    return problem(Problem::kWrongType,
                   std::string(key) + ": must be a string, got " + type_name(*it));
  *out = it->get<std::string>();
  return std::nullopt;
}

// Fields of a parsed JSON object -> Record (structure and types only; check_record does the rest).
std::optional<RecordProblem> fields_to_record(const ordered_json& j, Record& r) {
  if (!j.is_object())
    return problem(Problem::kWrongType, std::string("a record must be a JSON object, got ") +
                                            type_name(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const auto& keys = known_keys();
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
      std::string hint = closest_match(it.key(), keys);
      return problem(Problem::kUnknownField,
                     "unknown field " + quote_name(it.key()) +
                         (hint.empty() ? std::string(" (extra information belongs in \"meta\")")
                                       : " (did you mean \"" + hint + "\"?)"));
    }
  }
  if (auto p = require_string(j, "id", true, &r.id)) return p;
  if (auto p = require_string(j, "principle", true, &r.principle)) return p;
  if (auto p = require_string(j, "prompt", true, &r.prompt)) return p;
  if (auto p = require_string(j, "domain", false, &r.domain)) return p;
  if (auto p = require_string(j, "category", false, &r.category)) return p;

  auto resp = j.find("responses");
  if (resp == j.end()) return problem(Problem::kMissingField, "missing field \"responses\"");
  if (!resp->is_object())
    return problem(Problem::kWrongType,
                   std::string("responses: must be an object {name: text}, got ") +
                       type_name(*resp));
  for (auto it = resp->begin(); it != resp->end(); ++it) {
    if (!it->is_string())
      return problem(Problem::kWrongType, "responses." + it.key() + ": must be a string, got " +
                                              type_name(*it));
    r.responses.emplace_back(it.key(), it->get<std::string>());
  }
  if (r.responses.size() < kMinResponses || r.responses.size() > kMaxResponses)
    return problem(Problem::kResponseCount,
                   "responses: " + std::to_string(r.responses.size()) + " responses, need " +
                       std::to_string(kMinResponses) + ".." + std::to_string(kMaxResponses));

  auto sc = j.find("scores");
  if (sc == j.end()) return problem(Problem::kMissingField, "missing field \"scores\"");
  if (!sc->is_object())
    return problem(Problem::kWrongType,
                   std::string("scores: must be an object {name: number}, got ") + type_name(*sc));
  r.scores.assign(r.responses.size(), std::nan(""));
  for (auto it = sc->begin(); it != sc->end(); ++it) {
    int idx = r.index_of(it.key());
    if (idx < 0)
      return problem(Problem::kBadScore,
                     "scores: " + quote_name(it.key()) + " is not one of the responses");
    if (it->is_null())
      return problem(Problem::kBadScore, "scores." + it.key() + ": is null (missing score)");
    if (!it->is_number())
      return problem(Problem::kWrongType, "scores." + it.key() + ": must be a number, got " +
                                              type_name(*it));
    r.scores[idx] = it->get<double>();
  }
  for (size_t i = 0; i < r.responses.size(); ++i)
    if (std::isnan(r.scores[i]) && sc->find(r.responses[i].first) == sc->end())
      return problem(Problem::kBadScore,
                     "scores: no score for response " + quote_name(r.responses[i].first));

  auto rk = j.find("ranking");
  if (rk != j.end()) {
    if (!rk->is_array())
      return problem(Problem::kWrongType,
                     std::string("ranking: must be an array of names, got ") + type_name(*rk));
    for (const auto& v : *rk) {
      if (!v.is_string())
        return problem(Problem::kWrongType,
                       std::string("ranking: entries must be names (strings), got ") +
                           type_name(v));
      r.ranking.push_back(v.get<std::string>());
    }
  }
  auto meta = j.find("meta");
  if (meta != j.end()) {
    if (!meta->is_object())
      return problem(Problem::kWrongType,
                     std::string("meta: must be an object, got ") + type_name(*meta));
    r.meta = *meta;
    // A teacher's scores, the SFT target where present (trainer/judge_task.h): checked like the
    // gold, so a bad one stops the load at its line instead of an SFT run half-way.
    auto ts = meta->find("teacher_scores");
    if (ts != meta->end()) {
      if (!ts->is_object())
        return problem(Problem::kWrongType,
                       std::string("meta.teacher_scores: must be an object {name: number}, got ") +
                           type_name(*ts));
      for (auto it = ts->begin(); it != ts->end(); ++it) {
        if (r.index_of(it.key()) < 0)
          return problem(Problem::kBadScore, "meta.teacher_scores: " + quote_name(it.key()) +
                                                 " is not one of the responses");
        if (!it->is_number())
          return problem(Problem::kWrongType, "meta.teacher_scores." + it.key() +
                                                  ": must be a number, got " + type_name(*it));
        const double v = it->get<double>();
        if (!(v >= kMinScore && v <= kMaxScore))
          return problem(Problem::kBadScore, "meta.teacher_scores." + it.key() + ": " +
                                                 format_score(v) + " is outside [1, 5]");
      }
      for (const auto& [name, text] : r.responses)
        if (ts->find(name) == ts->end())
          return problem(Problem::kBadScore,
                         "meta.teacher_scores: no score for response " + quote_name(name));
    }
  }
  return std::nullopt;
}

}  // namespace

int Record::index_of(std::string_view name) const {
  for (size_t i = 0; i < responses.size(); ++i)
    if (responses[i].first == name) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> Record::names() const {
  std::vector<std::string> out;
  out.reserve(responses.size());
  for (const auto& [name, text] : responses) out.push_back(name);
  return out;
}

std::vector<int> Record::ranking_indices() const {
  std::vector<int> out;
  out.reserve(ranking.size());
  for (const auto& name : ranking) out.push_back(index_of(name));
  return out;
}

const char* problem_kind(Problem p) {
  switch (p) {
    case Problem::kNotJson: return "not_json";
    case Problem::kInvalidUtf8: return "invalid_utf8";
    case Problem::kTooLarge: return "too_large";
    case Problem::kMissingField: return "missing_field";
    case Problem::kWrongType: return "wrong_type";
    case Problem::kEmptyField: return "empty_field";
    case Problem::kUnknownField: return "unknown_field";
    case Problem::kDuplicateKey: return "duplicate_key";
    case Problem::kResponseCount: return "response_count";
    case Problem::kDuplicateName: return "duplicate_name";
    case Problem::kBadScore: return "bad_score";
    case Problem::kBadRanking: return "bad_ranking";
    case Problem::kDuplicateId: return "duplicate_id";
  }
  return "unknown";
}

bool is_valid_utf8(std::string_view s, size_t* bad_offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  auto fail = [&](size_t at) {
    if (bad_offset) *bad_offset = at;
    return false;
  };
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return fail(i);
    if (i + len > n) return fail(i);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return fail(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return fail(i);
    i += len;
  }
  return true;
}

std::vector<std::string> ranking_from_scores(
    const std::vector<std::pair<std::string, std::string>>& responses,
    const std::vector<double>& scores) {
  std::vector<size_t> order(responses.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::vector<std::string> out;
  for (size_t i : order) out.push_back(responses[i].first);
  return out;
}

std::optional<RecordProblem> check_record(const Record& r) {
  auto utf8 = [](const std::string& s, const std::string& field) -> std::optional<RecordProblem> {
    size_t at = 0;
    if (!is_valid_utf8(s, &at))
      return problem(Problem::kInvalidUtf8,
                     field + ": invalid UTF-8 at byte " + std::to_string(at));
    return std::nullopt;
  };
  if (r.id.empty()) return problem(Problem::kEmptyField, "id: must not be empty");
  if (r.principle.empty()) return problem(Problem::kEmptyField, "principle: must not be empty");
  for (auto* f : {&r.id, &r.principle, &r.prompt, &r.domain, &r.category}) {
    const char* name = f == &r.id          ? "id"
                       : f == &r.principle ? "principle"
                       : f == &r.prompt    ? "prompt"
                       : f == &r.domain    ? "domain"
                                           : "category";
    if (auto p = utf8(*f, name)) return p;
  }
  if (r.responses.size() < kMinResponses || r.responses.size() > kMaxResponses)
    return problem(Problem::kResponseCount,
                   "responses: " + std::to_string(r.responses.size()) + " responses, need " +
                       std::to_string(kMinResponses) + ".." + std::to_string(kMaxResponses));
  std::set<std::string_view> seen;
  for (const auto& [name, text] : r.responses) {
    if (name.empty()) return problem(Problem::kEmptyField, "responses: a response name is empty");
    if (auto p = utf8(name, "responses (a name)")) return p;
    if (auto p = utf8(text, "responses." + name)) return p;
    if (!seen.insert(name).second)
      return problem(Problem::kDuplicateName, "responses: name " + quote_name(name) + " appears twice");
  }
  if (r.scores.size() != r.responses.size())
    return problem(Problem::kBadScore, "scores: " + std::to_string(r.scores.size()) +
                                           " scores for " + std::to_string(r.responses.size()) +
                                           " responses");
  for (size_t i = 0; i < r.scores.size(); ++i) {
    double s = r.scores[i];
    const std::string& name = r.responses[i].first;
    if (std::isnan(s)) return problem(Problem::kBadScore, "scores." + name + ": is NaN");
    if (!(s >= kMinScore && s <= kMaxScore))
      return problem(Problem::kBadScore,
                     "scores." + name + ": " + format_score(s) + " is outside [1, 5]");
  }
  {  // the ranking is always present here (derived from the scores when the file has none)
    if (r.ranking.size() != r.responses.size())
      return problem(Problem::kBadRanking,
                     "ranking: has " + std::to_string(r.ranking.size()) + " names for " +
                         std::to_string(r.responses.size()) + " responses (must be a permutation)");
    std::set<std::string_view> ranked;
    for (const auto& name : r.ranking) {
      if (r.index_of(name) < 0)
        return problem(Problem::kBadRanking, "ranking: " + quote_name(name) + " is not a response");
      if (!ranked.insert(name).second)
        return problem(Problem::kBadRanking, "ranking: " + quote_name(name) + " appears twice");
    }
    for (size_t i = 0; i + 1 < r.ranking.size(); ++i) {
      double a = r.scores[r.index_of(r.ranking[i])], b = r.scores[r.index_of(r.ranking[i + 1])];
      if (a < b)
        return problem(Problem::kBadRanking,
                       "ranking: " + quote_name(r.ranking[i]) + " (score " + format_score(a) +
                           ") is ranked above " + quote_name(r.ranking[i + 1]) + " (score " +
                           format_score(b) + "), contradicting the scores");
    }
  }
  return std::nullopt;
}

ParseResult parse_record(std::string_view line, uint64_t max_record_bytes) {
  ParseResult out;
  auto fail = [&](Problem kind, std::string reason) {
    out.problem = problem(kind, std::move(reason));
    return out;
  };
  if (line.size() > max_record_bytes)
    return fail(Problem::kTooLarge, "record is " + std::to_string(line.size()) +
                                        " bytes, over the limit of " +
                                        std::to_string(max_record_bytes));
  size_t bad = 0;
  if (!is_valid_utf8(line, &bad))
    return fail(Problem::kInvalidUtf8, "invalid UTF-8 at byte " + std::to_string(bad) +
                                           " of the line");
  DuplicateKeyFinder finder;
  bool parsed = ordered_json::sax_parse(line, &finder);
  if (!parsed) {
    if (has_bare_nonfinite(line))
      return fail(Problem::kBadScore,
                  "a number is NaN or Infinity, which JSON does not allow (scores must be "
                  "numbers in [1, 5])");
    if (finder.syntax_error_.find("surrogate") != std::string::npos)
      return fail(Problem::kInvalidUtf8, "invalid \\u escape: " + finder.syntax_error_);
    return fail(Problem::kNotJson, "not valid JSON: " + (finder.syntax_error_.empty()
                                                             ? std::string("parse error")
                                                             : finder.syntax_error_));
  }
  if (finder.duplicate_) {
    const auto& path = finder.duplicate_path_;
    if (path.size() == 1 && (path[0] == "responses" || path[0] == "scores"))
      return fail(Problem::kDuplicateName,
                  path[0] + ": name " + quote_name(finder.duplicate_key_) + " appears twice");
    std::string where = path.empty() ? std::string("the record") : join(path, ".");
    return fail(Problem::kDuplicateKey,
                "duplicate key " + quote_name(finder.duplicate_key_) + " in " + where);
  }
  ordered_json j = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Problem::kNotJson, "not valid JSON");
  Record r;
  if (auto p = fields_to_record(j, r)) {
    out.problem = *p;
    return out;
  }
  if (r.ranking.empty() && j.find("ranking") == j.end())
    r.ranking = ranking_from_scores(r.responses, r.scores);
  if (auto p = check_record(r)) {
    out.problem = *p;
    return out;
  }
  out.record = std::move(r);
  return out;
}

Record parse_record_or_throw(std::string_view line, const SourceLocation& where,
                             uint64_t max_record_bytes) {
  ParseResult res = parse_record(line, max_record_bytes);
  if (!res.ok()) throw Error(where, "", res.problem.reason);
  return std::move(*res.record);
}

ordered_json record_to_json(const Record& r) {
  ordered_json j = ordered_json::object();
  j["id"] = r.id;
  j["principle"] = r.principle;
  j["prompt"] = r.prompt;
  ordered_json responses = ordered_json::object();
  for (const auto& [name, text] : r.responses) responses[name] = text;
  j["responses"] = std::move(responses);
  ordered_json scores = ordered_json::object();
  for (size_t i = 0; i < r.responses.size() && i < r.scores.size(); ++i) {
    double s = r.scores[i];
    if (s == std::floor(s) && std::abs(s) < 1e15)
      scores[r.responses[i].first] = static_cast<int64_t>(s);  // 4, not 4.0
    else
      scores[r.responses[i].first] = s;
  }
  j["scores"] = std::move(scores);
  j["ranking"] = r.ranking;
  if (!r.domain.empty()) j["domain"] = r.domain;
  if (!r.category.empty()) j["category"] = r.category;
  if (!r.meta.empty()) j["meta"] = r.meta;
  return j;
}

std::string record_to_line(const Record& r) {
  return record_to_json(r).dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace principia::data
