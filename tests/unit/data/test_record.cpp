// Record parsing and file validation: every kind of bad record gives one file:line reason.
#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/record.h"
#include "data/validate.h"
#include "tests/common/test_data.h"

namespace principia::data {
namespace {

const char* kGood =
    R"({"id": "a1", "principle": "be brief", "prompt": "hi", "responses": {"x": "short", "y": "long answer", "z": "mid"}, "scores": {"x": 5, "y": 2, "z": 2}})";

TEST(Record, ParsesAndDerivesStableRanking) {
  ParseResult res = parse_record(kGood);
  ASSERT_TRUE(res.ok()) << res.problem.reason;
  const Record& r = *res.record;
  EXPECT_EQ(r.id, "a1");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.responses[1].first, "y");
  EXPECT_EQ(r.scores, (std::vector<double>{5, 2, 2}));
  // y and z tie: file order kept.
  EXPECT_EQ(r.ranking, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(r.ranking_indices(), (std::vector<int>{0, 1, 2}));
}

TEST(Record, RoundTripsThroughJson) {
  std::string line =
      R"({"id": "b", "principle": "p", "prompt": "q", "responses": {"m": "é\n\"", "n": "t"}, "scores": {"m": 1.5, "n": 4}, "ranking": ["n", "m"], "domain": "d", "category": "c", "meta": {"k": [1, 2]}})";
  Record r = parse_record_or_throw(line, {"f.jsonl", 1, 0});
  Record back = parse_record_or_throw(record_to_line(r), {"g", 1, 0});
  EXPECT_EQ(back.responses, r.responses);
  EXPECT_EQ(back.scores, r.scores);
  EXPECT_EQ(back.ranking, r.ranking);
  EXPECT_EQ(back.domain, "d");
  EXPECT_EQ(back.category, "c");
  EXPECT_EQ(back.meta, r.meta);
}

TEST(Record, GivenRankingMayOrderTiesEitherWay) {
  std::string line =
      R"({"id": "a", "principle": "p", "prompt": "q", "responses": {"x": "1", "y": "2", "z": "3"}, "scores": {"x": 2, "y": 2, "z": 4}, "ranking": ["z", "y", "x"]})";
  ParseResult res = parse_record(line);
  ASSERT_TRUE(res.ok()) << res.problem.reason;
  EXPECT_EQ(res.record->ranking, (std::vector<std::string>{"z", "y", "x"}));
}

TEST(Record, Utf8Validator) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xe4\xb8\xad\xf0\x9f\x98\x80"));
  size_t at = 99;
  EXPECT_FALSE(is_valid_utf8("ab\xc0\xaf", &at));  // overlong '/'
  EXPECT_EQ(at, 2u);
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));          // truncated
}

TEST(Record, RandomlyMutatedLinesNeverThrow) {
  // A cheap fuzz: byte flips, truncations and insertions of JSON punctuation.
  const std::string base = kGood;
  const char kBytes[] = "{}[]\",:0123456789.eE-+ntfalsu\\\xff\xc3\x80 ";
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    int edits = 1 + int(next() >> 60) % 4;
    for (int e = 0; e < edits; ++e) {
      size_t pos = (next() >> 33) % (s.size() + 1);
      char c = kBytes[(next() >> 33) % (sizeof(kBytes) - 1)];
      switch ((next() >> 33) % 3) {
        case 0: if (pos < s.size()) s[pos] = c; break;
        case 1: s.insert(s.begin() + long(pos), c); break;
        default: s.resize(pos); break;
      }
    }
    ParseResult res;
    ASSERT_NO_THROW(res = parse_record(s)) << s;
    if (res.ok()) {
      ++parsed;
      EXPECT_FALSE(check_record(*res.record).has_value());
    } else {
      EXPECT_FALSE(res.problem.reason.empty());
    }
  }
  EXPECT_GT(parsed, 0);
}

struct BadCase {
  const char* kind;
  std::string line;
};

std::vector<BadCase> bad_cases() {
  auto rec = [](const std::string& body) { return "{" + body + "}"; };
  const std::string base = R"("id": "ID", "principle": "p", "prompt": "q", )";
  const std::string two = R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 1, "b": 2})";
  std::vector<BadCase> c = {
      {"not_json", R"({"id": "x", "principle": )"},
      {"not_json", "[1, 2"},
      {"invalid_utf8", rec(base + "\"responses\": {\"a\": \"bad \xff byte\", " + R"("b": "y"}, "scores": {"a": 1, "b": 2})")},
      {"invalid_utf8", rec(base + R"("responses": {"a": "\ud800", "b": "y"}, "scores": {"a": 1, "b": 2})")},
      {"too_large", rec(base + R"("responses": {"a": ")" + std::string(5000, 'z') + R"(", "b": "y"}, "scores": {"a": 1, "b": 2})")},
      {"missing_field", rec(R"("id": "ID", "prompt": "q", )" + two)},
      {"missing_field", rec(base + R"("responses": {"a": "x", "b": "y"})")},
      {"wrong_type", rec(R"("id": 7, "principle": "p", "prompt": "q", )" + two)},
      {"wrong_type", rec(base + R"("responses": ["x", "y"], "scores": {"a": 1, "b": 2})")},
      {"wrong_type", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": "1", "b": 2})")},
      {"wrong_type", "[1, 2, 3]"},
      {"empty_field", rec(R"("id": "", "principle": "p", "prompt": "q", )" + two)},
      {"unknown_field", rec(base + two + R"(, "respones": {})")},
      {"duplicate_key", rec(base + two + R"(, "meta": {"k": 1, "k": 2})")},
      {"response_count", rec(base + R"("responses": {"a": "x"}, "scores": {"a": 1})")},
      {"response_count", rec(base + [] {
         std::string r = "\"responses\": {", s = "\"scores\": {";
         for (int i = 0; i < 17; ++i) {
           r += (i ? ", " : "") + std::string("\"n") + std::to_string(i) + "\": \"t\"";
           s += (i ? ", " : "") + std::string("\"n") + std::to_string(i) + "\": 3";
         }
         return r + "}, " + s + "}";
       }())},
      {"duplicate_name", rec(base + R"("responses": {"a": "x", "a": "y", "b": "z"}, "scores": {"a": 1, "b": 2})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 1})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": NaN, "b": 2})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 0.5, "b": 2})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 1, "b": 6})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 1, "b": null})")},
      {"bad_score", rec(base + R"("responses": {"a": "x", "b": "y"}, "scores": {"a": 1, "b": 2, "c": 3})")},
      {"bad_ranking", rec(base + two + R"(, "ranking": ["b"])")},
      {"bad_ranking", rec(base + two + R"(, "ranking": ["b", "b"])")},
      {"bad_ranking", rec(base + two + R"(, "ranking": ["b", "c"])")},
      {"bad_ranking", rec(base + two + R"(, "ranking": ["a", "b"])")},
      // a teacher's scores (the SFT target) are checked like the gold
      {"wrong_type", rec(base + two + R"(, "meta": {"teacher_scores": [1, 2]})")},
      {"wrong_type", rec(base + two + R"(, "meta": {"teacher_scores": {"a": "1", "b": 2}})")},
      {"bad_score", rec(base + two + R"(, "meta": {"teacher_scores": {"a": 1}})")},
      {"bad_score", rec(base + two + R"(, "meta": {"teacher_scores": {"a": 1, "b": 2, "c": 3}})")},
      {"bad_score", rec(base + two + R"(, "meta": {"teacher_scores": {"a": 1, "b": 7}})")},
  };
  return c;
}

TEST(Record, EachBadKindIsClassified) {
  for (const auto& c : bad_cases()) {
    ParseResult res = parse_record(c.line, 4096);
    ASSERT_FALSE(res.ok()) << c.kind << ": " << c.line;
    EXPECT_STREQ(problem_kind(res.problem.kind), c.kind) << res.problem.reason << "\n" << c.line;
    EXPECT_FALSE(res.problem.reason.empty());
  }
}

TEST(Validate, OneFileLineMessagePerBadRecord) {
  auto dir = testing::temp_dir("data_validate");
  std::string path = (dir / "mixed.jsonl").string();
  auto cases = bad_cases();
  {
    std::ofstream out(path, std::ios::binary);
    out << kGood << "\n\n";  // line 1 good, line 2 blank
    for (const auto& c : cases) out << c.line << "\n";
    out << R"({"id": "a1", "principle": "p", "prompt": "q", "responses": {"a": "x", "b": "y"}, "scores": {"a": 1, "b": 2}})"
        << "\n";  // duplicate id of line 1
  }
  ReadOptions opts;
  opts.max_record_bytes = 4096;
  ReadSummary summary(1000);
  std::vector<int64_t> good_lines;
  for_each_record(path, opts, summary, [&](Record&&, const LinePosition& at) {
    int64_t line = at.line_no;
    good_lines.push_back(line);
  });
  EXPECT_EQ(good_lines, std::vector<int64_t>{1});
  EXPECT_EQ(summary.good, 1);
  EXPECT_EQ(summary.bad, int64_t(cases.size()) + 1);
  std::string text = summary.report.summary();
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string tag = path + ":" + std::to_string(i + 3) + ": ";
    EXPECT_NE(text.find(tag), std::string::npos) << tag << "\n" << text;
  }
  EXPECT_NE(text.find("duplicate_id=1"), std::string::npos) << text;
  const auto bad_scores = std::count_if(cases.begin(), cases.end(), [](const BadCase& c) {
    return std::string(c.kind) == "bad_score";
  });
  EXPECT_NE(text.find("bad_score=" + std::to_string(bad_scores)), std::string::npos) << text;

  // Fail-fast mode throws one Error holding the listing; skip mode returns the good count.
  EXPECT_THROW(read_records_checked(path, opts, false, 5, [](Record&&, const LinePosition&) {}),
               Error);
  EXPECT_EQ(read_records_checked(path, opts, true, 5, [](Record&&, const LinePosition&) {}), 1);
}

TEST(Validate, CommandListsEveryBadRecordWithFileAndLine) {
  std::string bin = testing::principia_binary();
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "principia binary not built: " << bin;
  auto dir = testing::temp_dir("data_validate_cli");
  std::string path = (dir / "bad.jsonl").string();
  auto cases = bad_cases();
  {
    std::ofstream out(path, std::ios::binary);
    out << kGood << "\n";
    for (const auto& c : cases) out << c.line << "\n";
  }
  std::string output;
  int rc = testing::run_command(bin + " data validate " + path + " --max-record-bytes 4096 --max-errors 100", &output);
  EXPECT_EQ(rc, 2) << output;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string tag = path + ":" + std::to_string(i + 2) + ": ";
    EXPECT_NE(output.find(tag), std::string::npos) << tag << "\n" << output;
  }
  EXPECT_NE(output.find(std::to_string(cases.size()) + " bad record(s):"), std::string::npos) << output;
  rc = testing::run_command(bin + " data validate " + path + " --max-record-bytes 4096 --skip-bad", &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("1 good, " + std::to_string(cases.size()) + " bad"), std::string::npos) << output;
}

TEST(Validate, HugeLineIsNotHeldInMemory) {
  auto dir = testing::temp_dir("data_validate_huge");
  std::string path = (dir / "huge.jsonl").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(3 << 20, 'x') << "\n" << kGood << "\n";
  }
  ReadOptions opts;
  opts.max_record_bytes = 1024;
  ReadSummary summary;
  int n = 0;
  for_each_record(path, opts, summary, [&](Record&& r, const LinePosition& at) {
    int64_t line = at.line_no;
    EXPECT_EQ(line, 2);
    EXPECT_EQ(r.id, "a1");
    ++n;
  });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(summary.bad, 1);
  EXPECT_NE(summary.report.summary().find(":1: record is 3145728 bytes"), std::string::npos)
      << summary.report.summary();
}

TEST(Validate, MissingFileIsAnError) {
  ReadSummary summary;
  EXPECT_THROW(for_each_record("/nonexistent/x.jsonl", {}, summary, [](Record&&, const LinePosition&) {}),
               Error);
}

}  // namespace
}  // namespace principia::data
