// The synthetic principle task: reproducible gold, distinct scores, the principle matters,
// the split holds principles out, tiny texts over a small vocabulary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/text.h"
#include "data/synth.h"
#include "data/validate.h"
#include "tests/common/test_data.h"

namespace principia::data {
namespace {

// Words as the task counts them: tokens with a letter or digit (list markers "-" are not words).
size_t word_count(const std::string& s) {
  size_t n = 0;
  for (const auto& t : principia::split(s, ' '))
    n += std::any_of(t.begin(), t.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
  return n;
}

TEST(Synth, TwentyPrinciplesFiveHeldOutOnePerDimension) {
  EXPECT_EQ(synth_principles().size(), 20u);
  auto eval = synth_principles(SynthSplit::kEval);
  auto train = synth_principles(SynthSplit::kTrain);
  EXPECT_EQ(eval.size(), 5u);
  EXPECT_EQ(train.size(), 15u);
  std::set<std::string> dims;
  for (const auto& p : eval) {
    dims.insert(p.dimension);
    // The same attribute with the other polarity is trained.
    bool opposite_trained = false;
    for (const auto& t : train) opposite_trained |= t.attribute == p.attribute && t.more != p.more;
    EXPECT_TRUE(opposite_trained) << p.id;
  }
  EXPECT_EQ(dims.size(), 5u);
  EXPECT_TRUE(synth_principle("style.exclaim.fewer").held_out);
  EXPECT_FALSE(synth_principle("structure.length.fewer").held_out);
  EXPECT_THROW(synth_principle("style.nope.more"), Error);
}

TEST(Synth, LevelsAreCountedFromText) {
  const int kTopic = 0, kNumbers = 1, kList = 2, kLength = 3, kExclaim = 6, kPolite = 8;
  std::string prompt = "tell me about the ocean";
  EXPECT_EQ(synth_level(kTopic, prompt, "the ocean is calm ocean!"), 2);
  EXPECT_EQ(synth_level(kNumbers, prompt, "3 cats and 12 dogs"), 2);
  EXPECT_EQ(synth_level(kList, prompt, "- red cat - big dog"), 2);
  EXPECT_EQ(synth_level(kLength, prompt, "a b c d"), 0);
  EXPECT_EQ(synth_level(kLength, prompt, "a b c d e"), 1);
  EXPECT_EQ(synth_level(kLength, prompt, "a b c d e f g h i j k l m n"), 4);
  EXPECT_EQ(synth_level(kExclaim, prompt, "wow! so! many! marks! here! ok!"), 4);  // capped
  EXPECT_EQ(synth_level(kPolite, prompt, "please be kind, thanks"), 2);
  SynthPrinciple more = synth_principle("content.topic.more");
  SynthPrinciple fewer = synth_principle("content.topic.fewer");
  EXPECT_EQ(synth_score(more, prompt, "ocean ocean"), 3);
  EXPECT_EQ(synth_score(fewer, prompt, "ocean ocean"), 3);
  EXPECT_EQ(synth_score(fewer, prompt, "nothing here"), 5);
}

TEST(Synth, EvidenceQuotesTheCountedUnitsInOrder) {
  const int kTopic = 0, kNumbers = 1, kList = 2, kLength = 3, kSteps = 5, kExclaim = 6;
  std::string prompt = "tell me about the ocean";
  using V = std::vector<std::string>;
  EXPECT_EQ(synth_evidence(kTopic, prompt, "the ocean is calm Ocean!"), (V{"ocean", "ocean"}));
  EXPECT_EQ(synth_evidence(kNumbers, prompt, "3 cats and 12 dogs"), (V{"3", "12"}));
  EXPECT_EQ(synth_evidence(kList, prompt, "- red cat - big dog"), (V{"-", "-"}));
  EXPECT_EQ(synth_evidence(kSteps, prompt, "then the cat first sleeps"), (V{"then", "first"}));
  EXPECT_EQ(synth_evidence(kExclaim, prompt, "wow! so! many! marks! here!"), (V(4, "!")));  // capped
  EXPECT_TRUE(synth_evidence(kLength, prompt, "a b c d e").empty());  // counted, not quoted
  // The quoted units are what the level counts, on real items of every principle.
  SynthOptions o;
  o.split = SynthSplit::kAll;
  for (int64_t i = 0; i < 200; ++i) {
    Record r = synth_record(o, i);
    const SynthPrinciple& p = synth_principle(r.category);
    if (p.attribute == kLength) continue;
    for (const auto& [name, text] : r.responses)
      EXPECT_EQ(int(synth_evidence(p.attribute, r.prompt, text).size()),
                synth_level(p.attribute, r.prompt, text))
          << r.id << " " << name << ": " << text;
  }
}

TEST(Synth, FirstIndexGivesLaterItemsOfTheSameStream) {
  auto dir = testing::temp_dir("data_synth_first_index");
  SynthOptions o;
  o.n = 5;
  o.first_index = 100;
  std::vector<Record> got;
  write_synth_jsonl(o, (dir / "s.jsonl").string());
  read_records_checked((dir / "s.jsonl").string(), {}, false, 5,
                       [&](Record&& r, const LinePosition&) { got.push_back(std::move(r)); });
  ASSERT_EQ(got.size(), 5u);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(got[size_t(i)].id, synth_record(o, 100 + i).id);
  EXPECT_EQ(got[0].id, "synth-s0-train-100");
  o.first_index = -1;
  EXPECT_THROW(write_synth_jsonl(o, (dir / "t.jsonl").string()), Error);
}

TEST(Synth, LenientTeacherRaisesLowScoresOnItsShareOfItemsAndLeavesTheItemsAlone) {
  EXPECT_EQ(lenient_teacher_score(1), 3);
  EXPECT_EQ(lenient_teacher_score(2), 3);
  EXPECT_EQ(lenient_teacher_score(3), 3);
  EXPECT_EQ(lenient_teacher_score(5), 5);
  SynthOptions gold, taught;
  taught.lenient_teacher_rate = 0.6;
  int lenient = 0, changed = 0;
  const int n = 2000;
  for (int64_t i = 0; i < n; ++i) {
    const Record a = synth_record(gold, i), b = synth_record(taught, i);
    EXPECT_FALSE(a.meta.contains("teacher_scores"));
    // Same item, same gold: the teacher draws from its own stream.
    ASSERT_EQ(a.id, b.id);
    ASSERT_EQ(a.responses, b.responses);
    ASSERT_EQ(a.scores, b.scores);
    const auto& t = b.meta.at("teacher_scores");
    ASSERT_EQ(t.size(), b.responses.size());
    std::vector<double> got;
    for (const auto& [id, text] : b.responses) got.push_back(t.at(id).get<double>());
    std::vector<double> raised;
    for (double s : b.scores) raised.push_back(lenient_teacher_score(s));
    // Each item is either wholly gold or wholly lenient.
    EXPECT_TRUE(got == b.scores || got == raised) << b.id;
    lenient += got == raised;
    if (i < 50) EXPECT_TRUE(parse_record(record_to_line(b), 1 << 20).ok()) << "the checks refuse it";
    changed += got != b.scores;
  }
  // Items without a score below 3 look the same under both teachers, so `lenient` over-counts.
  EXPECT_NEAR(double(lenient) / n, 0.6 + 0.4 * 0.1, 0.05);  // 3 of 5 levels: P(no low score) = 0.1
  EXPECT_NEAR(double(changed) / n, 0.6 * 0.9, 0.05);
  taught.lenient_teacher_rate = 1.5;
  EXPECT_THROW(synth_record(taught, 0), Error);
}

TEST(Synth, RecordsAreValidTinyAndReproducible) {
  for (SynthSplit split : {SynthSplit::kTrain, SynthSplit::kEval, SynthSplit::kAll}) {
    for (int k : {2, 3, 4, 5}) {
      SynthOptions o;
      o.seed = 7;
      o.candidates = k;
      o.split = split;
      std::map<std::string, int> by_principle;
      for (int64_t i = 0; i < 400; ++i) {
        Record r = synth_record(o, i);
        ASSERT_FALSE(check_record(r).has_value()) << check_record(r)->reason;
        ASSERT_EQ(r.size(), size_t(k));
        EXPECT_LE(word_count(r.prompt), 10u) << r.prompt;
        EXPECT_LE(word_count(r.principle), 12u) << r.principle;
        const SynthPrinciple& p = synth_principle(r.category);
        EXPECT_EQ(r.domain, p.dimension);
        EXPECT_EQ(r.meta["split"], p.held_out ? "eval" : "train");
        if (split == SynthSplit::kTrain) {
          EXPECT_FALSE(p.held_out);
        }
        if (split == SynthSplit::kEval) {
          EXPECT_TRUE(p.held_out);
        }
        std::set<double> distinct;
        for (size_t c = 0; c < r.size(); ++c) {
          const std::string& text = r.responses[c].second;
          EXPECT_LE(word_count(text), 15u) << text;
          // Gold is exactly the programmatic score of the text.
          EXPECT_EQ(r.scores[c], synth_score(p, r.prompt, text)) << p.id << ": " << text;
          distinct.insert(r.scores[c]);
        }
        EXPECT_EQ(distinct.size(), r.size()) << "scores must be distinct";
        // Same (seed, split, index) -> the same record.
        if (i % 50 == 0) {
          EXPECT_EQ(record_to_line(synth_record(o, i)), record_to_line(r));
        }
        ++by_principle[p.id];
      }
      size_t expected = split == SynthSplit::kTrain ? 15 : split == SynthSplit::kEval ? 5 : 20;
      EXPECT_EQ(by_principle.size(), expected);
    }
  }
}

TEST(Synth, ThePrincipleMustBeRead) {
  // Under the decoy attribute's principle, the same candidates rank differently in most items.
  SynthOptions o;
  o.seed = 3;
  int differs = 0, n = 300;
  for (int i = 0; i < n; ++i) {
    Record r = synth_record(o, i);
    const SynthPrinciple& p = synth_principle(r.category);
    SynthPrinciple other = p;
    other.more = !p.more;  // reversed polarity reverses the ranking
    std::vector<double> s;
    for (auto& [name, text] : r.responses) s.push_back(synth_score(other, r.prompt, text));
    auto rev = ranking_from_scores(r.responses, s);
    std::vector<std::string> expected_rev(r.ranking.rbegin(), r.ranking.rend());
    EXPECT_EQ(rev, expected_rev);
    // Decoy principle.
    std::string decoy = r.meta["decoy"].get<std::string>();
    const SynthPrinciple& d = synth_principle(p.dimension == "" ? "" : [&] {
      for (const auto& q : synth_principles())
        if (q.id.find("." + decoy + ".") != std::string::npos && q.more) return q.id;
      return std::string();
    }());
    std::vector<double> ds;
    for (auto& [name, text] : r.responses) ds.push_back(synth_score(d, r.prompt, text));
    differs += ranking_from_scores(r.responses, ds) != r.ranking;
  }
  EXPECT_GT(differs, n / 2);
}

TEST(Synth, DifferentSeedsDifferAndVocabularyIsSmall) {
  SynthOptions a, b;
  b.seed = 1;
  EXPECT_NE(record_to_line(synth_record(a, 0)), record_to_line(synth_record(b, 0)));
  auto vocab = synth_vocabulary();
  EXPECT_GT(vocab.size(), 80u);
  EXPECT_LT(vocab.size(), 300u);
  std::set<std::string> v(vocab.begin(), vocab.end());
  for (int i = 0; i < 200; ++i) {
    Record r = synth_record(a, i);
    for (auto& [name, text] : r.responses)
      for (auto& w : principia::split(text, ' ')) {
        std::string bare = w;
        while (!bare.empty() && bare.back() == '!') bare.pop_back();
        EXPECT_TRUE(v.count(bare)) << "\"" << bare << "\" not in the vocabulary";
      }
  }
}

TEST(Synth, WritesAValidFile) {
  auto dir = testing::temp_dir("data_synth");
  std::string path = (dir / "s.jsonl").string();
  SynthOptions o;
  o.n = 50;
  EXPECT_EQ(write_synth_jsonl(o, path), 50);
  int64_t n = read_records_checked(path, {}, false, 5, [](Record&&, const LinePosition&) {});
  EXPECT_EQ(n, 50);
  o.candidates = 6;
  EXPECT_THROW(write_synth_jsonl(o, path), Error);
}

}  // namespace
}  // namespace principia::data
