#include "data/synth.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/rng.h"
#include "core/text.h"

namespace principia::data {
namespace {

enum Attribute : int {
  kTopic, kNumbers, kList, kLength, kReasons, kSteps, kExclaim, kEmphasis, kPolite, kHedge,
  kAttributeCount
};

const std::array<const char*, kAttributeCount> kAttributeNames = {
    "topic", "numbers", "list", "length", "reasons",
    "steps", "exclaim", "emphasis", "polite", "hedge"};
const std::array<const char*, kAttributeCount> kDimensionOf = {
    "content", "content", "structure", "structure", "logic",
    "logic",   "style",   "style",     "tone",      "tone"};
// How principles name each attribute (a plural noun phrase).
const std::array<const char*, kAttributeCount> kAttributePhrase = {
    "mentions of the topic", "numbers",          "list items",     "words",        "reasons",
    "step words",            "exclamation marks", "emphatic words", "polite words", "hedging words"};
// Held out for evaluation: one (attribute, polarity) per dimension.
const std::array<std::pair<int, bool>, 5> kHeldOut = {
    {{kNumbers, false}, {kList, true}, {kSteps, false}, {kExclaim, false}, {kHedge, true}}};

// The words a count attribute inserts (one word per unit). topic/numbers/list/exclaim/length are
// handled separately.
const std::vector<std::string> kReasonWords = {"because", "since"};
const std::vector<std::string> kStepWords = {"first", "then", "next", "finally"};
const std::vector<std::string> kEmphasisWords = {"very", "really", "truly"};
const std::vector<std::string> kPoliteWords = {"please", "thanks", "kindly"};
const std::vector<std::string> kHedgeWords = {"maybe", "perhaps", "probably"};
const std::vector<std::string> kDigits = {"2", "3", "4", "5", "6", "7", "8", "9"};

const std::vector<std::string> kNouns = {
    "ocean",  "river", "forest", "garden", "bread",  "coffee", "music",  "winter", "summer",
    "city",   "train", "bike",   "school", "library", "kitchen", "mountain", "desert", "island",
    "market", "park",  "museum", "soup",   "tea",    "dog",    "cat",    "bird",   "horse",
    "rain",   "snow",  "moon"};
const std::vector<std::string> kAdjectives = {
    "calm", "bright", "quiet", "warm",  "cold",  "green", "old",    "new",  "big",  "small",
    "fresh", "busy",  "soft",  "loud",  "clean", "dark",  "sweet",  "simple", "slow", "fast"};
const std::vector<std::string> kVerbs = {"helps", "grows", "moves", "shines", "stays",
                                         "feels", "looks", "works", "changes", "rests"};
const std::vector<std::string> kPromptTemplates = {
    "tell me about the", "what do you think of the", "describe the",
    "say something about the", "why do people like the", "how would you explain the"};
const std::vector<std::string> kPrincipleTemplates = {
    "prefer answers with {pol} {x}", "{pol} {x} is better", "the best answer has the {sup} {x}",
    "judge by {x}: {pol} is better", "a good answer uses {pol} {x}"};

const std::string& pick(Rng& rng, const std::vector<std::string>& v) { return v[rng.below(v.size())]; }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

// Lowercase token with trailing/leading punctuation (other than '-') removed.
std::string bare(std::string_view token) {
  size_t b = 0, e = token.size();
  while (b < e && !std::isalnum(static_cast<unsigned char>(token[b])) && token[b] != '-') ++b;
  while (e > b && !std::isalnum(static_cast<unsigned char>(token[e - 1]))) --e;
  std::string out(token.substr(b, e - b));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool is_word(std::string_view t) {
  return std::any_of(t.begin(), t.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

bool in(const std::vector<std::string>& v, const std::string& w) {
  return std::find(v.begin(), v.end(), w) != v.end();
}

std::string topic_of(std::string_view prompt) {
  auto t = tokens(prompt);
  for (auto it = t.rbegin(); it != t.rend(); ++it)
    if (is_word(*it)) return bare(*it);
  return "";
}

int length_level(int words) {
  if (words <= 4) return 0;
  if (words <= 7) return 1;
  if (words <= 10) return 2;
  if (words <= 13) return 3;
  return 4;
}
// A word count inside each length bin, away from the edges.
const std::array<std::array<int, 2>, 5> kLengthTargets = {{{3, 4}, {6, 7}, {9, 10}, {12, 13}, {14, 15}}};

const std::vector<std::string>& unit_words(int attribute) {
  static const std::vector<std::string> none;
  switch (attribute) {
    case kReasons: return kReasonWords;
    case kSteps: return kStepWords;
    case kEmphasis: return kEmphasisWords;
    case kPolite: return kPoliteWords;
    case kHedge: return kHedgeWords;
    case kNumbers: return kDigits;
    default: return none;
  }
}
// Attributes realised as inserted words (each unit adds one word).
bool adds_words(int a) { return a == kTopic || !unit_words(a).empty(); }

// A clause of `size` (2..4) words about a noun other than the topic.
std::vector<std::string> make_clause(Rng& rng, int size, const std::string& topic) {
  std::string noun;
  do noun = pick(rng, kNouns); while (noun == topic);
  const std::string& adj = pick(rng, kAdjectives);
  if (size == 2) return {adj, noun};
  if (size == 3) {
    if (rng.below(2)) return {noun, "is", adj};
    return {"the", noun, pick(rng, kVerbs)};
  }
  if (rng.below(2)) return {"the", noun, "is", adj};
  return {"the", noun, "looks", adj};
}

// Builds a response with exactly want[a] units of each attribute (list: list-marked clauses,
// exclaim: words ending in '!'), and, when length_words > 0, exactly that many words.
// `droppable` lists attributes whose units may be removed (in that order) to fit the budget.
std::string build_response(Rng& rng, std::array<int, kAttributeCount> want, int length_words,
                           const std::vector<int>& droppable, const std::string& topic) {
  constexpr int kMaxWords = 15;
  auto unit_count = [&] {
    int u = 0;
    for (int a = 0; a < kAttributeCount; ++a)
      if (adds_words(a)) u += want[a];
    return u;
  };
  int budget = length_words > 0 ? length_words : kMaxWords;
  auto minimum_words = [&] { return unit_count() + 2 * std::max(1, want[kList]); };
  // Drop distractor units until the clauses' minimum (2 words each) fits.
  for (int a : droppable)
    if (adds_words(a) || a == kList)
      while (want[a] > 0 && minimum_words() > budget) --want[a];
  int m = std::max(1, want[kList]);
  int units = unit_count();
  if (units + 2 * m > budget)
    throw Error("synth: internal: cannot fit the wanted attributes in " + std::to_string(budget) +
                " words");
  std::vector<int> sizes;
  if (length_words > 0) {
    int words = length_words - units;
    m = std::max(m, (words + 3) / 4);
    sizes.assign(m, 2);
    int extra = words - 2 * m;
    while (extra > 0) {  // spread the remaining words over clauses of at most 4 words
      int c = static_cast<int>(rng.below(m));
      if (sizes[c] < 4) ++sizes[c], --extra;
    }
  } else {
    for (int c = 0; c < m; ++c) sizes.push_back(2 + static_cast<int>(rng.below(3)));
    int total = units;
    for (int s : sizes) total += s;
    for (int c = 0; c < m && total > kMaxWords; ++c) total -= sizes[c] - 2, sizes[c] = 2;
    // Enough words to carry the exclamation marks (one per word).
    for (int c = 0; total < want[kExclaim]; c = (c + 1) % m)
      if (sizes[c] < 4) ++sizes[c], ++total;
  }
  std::vector<std::vector<std::string>> clauses;
  for (int s : sizes) clauses.push_back(make_clause(rng, s, topic));
  // Insert unit words at random places (after a clause's list marker, which is added last).
  auto insert_word = [&](const std::string& w) {
    auto& c = clauses[rng.below(clauses.size())];
    c.insert(c.begin() + static_cast<std::ptrdiff_t>(rng.below(c.size() + 1)), w);
  };
  for (int i = 0; i < want[kTopic]; ++i) insert_word(topic);
  for (int a = 0; a < kAttributeCount; ++a)
    for (int i = 0; i < want[a] && !unit_words(a).empty(); ++i) insert_word(pick(rng, unit_words(a)));
  // Exclamation marks on distinct words.
  std::vector<std::pair<size_t, size_t>> slots;
  for (size_t c = 0; c < clauses.size(); ++c)
    for (size_t w = 0; w < clauses[c].size(); ++w) slots.emplace_back(c, w);
  rng.shuffle(slots);
  for (int i = 0; i < want[kExclaim] && i < static_cast<int>(slots.size()); ++i)
    clauses[slots[i].first][slots[i].second] += "!";
  // List markers on the first want[kList] clauses, in a random clause order.
  rng.shuffle(clauses);
  std::vector<std::string> out;
  for (size_t c = 0; c < clauses.size(); ++c) {
    if (static_cast<int>(c) < want[kList]) out.push_back("-");
    for (auto& w : clauses[c]) out.push_back(w);
  }
  return join(out, " ");
}

std::vector<SynthPrinciple> make_principles() {
  std::vector<SynthPrinciple> out;
  for (int a = 0; a < kAttributeCount; ++a)
    for (bool more : {true, false}) {
      SynthPrinciple p;
      p.attribute = a;
      p.more = more;
      p.dimension = kDimensionOf[a];
      p.id = p.dimension + "." + kAttributeNames[a] + (more ? ".more" : ".fewer");
      p.held_out = std::find(kHeldOut.begin(), kHeldOut.end(), std::make_pair(a, more)) !=
                   kHeldOut.end();
      out.push_back(p);
    }
  return out;
}

std::string principle_text(const SynthPrinciple& p, size_t template_index) {
  std::string s = kPrincipleTemplates[template_index];
  s = replace_all(s, "{pol}", p.more ? "more" : "fewer");
  s = replace_all(s, "{sup}", p.more ? "most" : "fewest");
  return replace_all(s, "{x}", kAttributePhrase[p.attribute]);
}

uint64_t split_code(SynthSplit s) { return static_cast<uint64_t>(s) + 1; }
constexpr uint64_t kTeacherKey = 0x7465616368ULL;  // "teach": the weak teacher's own stream

}  // namespace

SynthSplit parse_synth_split(std::string_view name) {
  if (name == "train") return SynthSplit::kTrain;
  if (name == "eval") return SynthSplit::kEval;
  if (name == "all") return SynthSplit::kAll;
  throw Error("unknown synthetic split \"" + std::string(name) + "\" (train, eval or all)");
}

const char* synth_split_name(SynthSplit s) {
  return s == SynthSplit::kTrain ? "train" : s == SynthSplit::kEval ? "eval" : "all";
}

const std::vector<std::string>& synth_attributes() {
  static const std::vector<std::string> names(kAttributeNames.begin(), kAttributeNames.end());
  return names;
}

const std::vector<SynthPrinciple>& synth_principles() {
  static const std::vector<SynthPrinciple> all = make_principles();
  return all;
}

std::vector<SynthPrinciple> synth_principles(SynthSplit split) {
  std::vector<SynthPrinciple> out;
  for (const auto& p : synth_principles())
    if (split == SynthSplit::kAll || p.held_out == (split == SynthSplit::kEval)) out.push_back(p);
  return out;
}

const SynthPrinciple& synth_principle(std::string_view id) {
  for (const auto& p : synth_principles())
    if (p.id == id) return p;
  throw Error("unknown synthetic principle \"" + std::string(id) + "\"");
}

// How many units of `attribute` one whitespace token carries (never called for length).
static int units_in(int attribute, const std::string& topic, std::string_view token) {
  const std::string w = bare(token);
  switch (attribute) {
    case kTopic: return !topic.empty() && w == topic;
    case kNumbers:
      return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
    case kList: return token == "-";
    case kExclaim: return static_cast<int>(std::count(token.begin(), token.end(), '!'));
    default: return in(unit_words(attribute), w);
  }
}

int synth_level(int attribute, std::string_view prompt, std::string_view response) {
  auto toks = tokens(response);
  int count = 0;
  if (attribute == kLength) {
    for (auto t : toks) count += is_word(t);
    return length_level(count);
  }
  const std::string topic = attribute == kTopic ? topic_of(prompt) : "";
  for (auto t : toks) count += units_in(attribute, topic, t);
  return std::min(count, 4);
}

std::vector<std::string> synth_evidence(int attribute, std::string_view prompt,
                                        std::string_view response) {
  std::vector<std::string> out;
  if (attribute == kLength) return out;  // words are counted, not quoted
  const std::string topic = attribute == kTopic ? topic_of(prompt) : "";
  for (auto t : tokens(response)) {
    const int n = units_in(attribute, topic, t);
    for (int i = 0; i < n && out.size() < 4; ++i)
      out.push_back(attribute == kExclaim ? "!" : attribute == kList ? "-" : bare(t));
  }
  return out;
}

int synth_score(const SynthPrinciple& p, std::string_view prompt, std::string_view response) {
  int level = synth_level(p.attribute, prompt, response);
  return p.more ? 1 + level : 5 - level;
}

double lenient_teacher_score(double gold) { return std::max(gold, 3.0); }

Record synth_record(const SynthOptions& options, int64_t index) {
  if (options.candidates < 2 || options.candidates > 5)
    throw Error("synth: --candidates must be 2..5 (candidates take distinct levels of five), got " +
                std::to_string(options.candidates));
  if (!(options.lenient_teacher_rate >= 0 && options.lenient_teacher_rate <= 1))
    throw Error("synth: --lenient-teacher-rate must be in [0, 1], got " +
                std::to_string(options.lenient_teacher_rate));
  Rng rng = Rng::derive(options.seed, {split_code(options.split), static_cast<uint64_t>(index)});
  auto principles = synth_principles(options.split);
  const SynthPrinciple& p = principles[rng.below(principles.size())];
  size_t tmpl = rng.below(kPrincipleTemplates.size());
  const std::string& topic = pick(rng, kNouns);
  std::string prompt = pick(rng, kPromptTemplates) + " " + topic;

  // The decoy: another attribute (not length: it cannot be set independently of the others).
  int decoy;
  do decoy = static_cast<int>(rng.below(kAttributeCount));
  while (decoy == p.attribute || decoy == kLength);
  std::vector<int> levels = rng.permutation(5), decoy_levels = rng.permutation(5);
  levels.resize(options.candidates);
  decoy_levels.resize(options.candidates);

  Record r;
  r.id = "synth-s" + std::to_string(options.seed) + "-" + synth_split_name(options.split) + "-" +
         std::to_string(index);
  r.principle = principle_text(p, tmpl);
  r.prompt = prompt;
  r.domain = p.dimension;
  r.category = p.id;
  for (int c = 0; c < options.candidates; ++c) {
    std::array<int, kAttributeCount> want{};
    std::vector<int> droppable;
    for (int a = 0; a < kAttributeCount; ++a)
      if (a != p.attribute && a != decoy && a != kLength) {
        want[a] = rng.below(4) == 0 ? 1 : 0;  // background noise
        droppable.push_back(a);
      }
    droppable.push_back(decoy);
    if (decoy != kLength) want[decoy] = decoy_levels[c];
    int length_words = 0;
    if (p.attribute == kLength) {
      const auto& choices = kLengthTargets[levels[c]];
      length_words = choices[rng.below(2)];
    } else {
      want[p.attribute] = levels[c];
    }
    std::string text = build_response(rng, want, length_words, droppable, topic);
    int got = synth_level(p.attribute, prompt, text);
    if (got != levels[c])
      throw Error("synth: internal: built level " + std::to_string(got) + " instead of " +
                  std::to_string(levels[c]) + " for " + p.id + ": \"" + text + "\"");
    r.responses.emplace_back("r" + std::to_string(c + 1), std::move(text));
    r.scores.push_back(p.more ? 1 + levels[c] : 5 - levels[c]);
  }
  r.ranking = ranking_from_scores(r.responses, r.scores);
  r.meta = ordered_json::object();
  r.meta["split"] = p.held_out ? "eval" : "train";
  r.meta["attribute"] = kAttributeNames[p.attribute];
  r.meta["polarity"] = p.more ? "more" : "fewer";
  r.meta["template"] = tmpl;
  r.meta["decoy"] = kAttributeNames[decoy];
  r.meta["seed"] = options.seed;
  r.meta["index"] = index;
  if (options.lenient_teacher_rate > 0) {
    // Its own stream: the item is the same whatever the rate.
    Rng teacher = Rng::derive(options.seed,
                              {split_code(options.split), static_cast<uint64_t>(index), kTeacherKey});
    const bool lenient = teacher.uniform() < options.lenient_teacher_rate;
    auto scores = ordered_json::object();
    for (size_t c = 0; c < r.scores.size(); ++c) {
      const double s = lenient ? lenient_teacher_score(r.scores[c]) : r.scores[c];
      scores[r.responses[c].first] = static_cast<int>(s);
    }
    r.meta["teacher_scores"] = std::move(scores);
  }
  return r;
}

int64_t write_synth_jsonl(const SynthOptions& options, const std::string& path) {
  if (options.n < 1) throw Error("synth: --n must be at least 1");
  if (options.first_index < 0) throw Error("synth: --first-index must be >= 0");
  // Streamed to PATH.tmp, then renamed: memory stays O(1) for millions of items.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(tmp + ": cannot open for writing");
    for (int64_t i = 0; i < options.n; ++i)
      out << record_to_line(synth_record(options, options.first_index + i)) << '\n';
    out.flush();
    if (!out) throw Error(tmp + ": write failed (disk full?)");
  }
  fsync_path(tmp);
  rename_durable(tmp, path);
  return options.n;
}

std::vector<std::string> synth_vocabulary() {
  std::set<std::string> words;
  auto add_text = [&](const std::string& s) {
    for (auto t : tokens(s)) words.insert(bare(t));
  };
  for (const auto* v : {&kReasonWords, &kStepWords, &kEmphasisWords, &kPoliteWords, &kHedgeWords,
                        &kDigits, &kNouns, &kAdjectives, &kVerbs})
    for (const auto& w : *v) words.insert(w);
  for (const auto& t : kPromptTemplates) add_text(t);
  for (const auto& p : synth_principles())
    for (size_t t = 0; t < kPrincipleTemplates.size(); ++t) add_text(principle_text(p, t));
  words.insert("is");
  words.insert("the");
  words.insert("-");
  words.erase("");
  return {words.begin(), words.end()};
}

}  // namespace principia::data
