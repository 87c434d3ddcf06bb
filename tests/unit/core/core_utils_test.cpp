// core utilities: sha256, rng, text helpers, atomic writes, JSONL reader, progress.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/jsonl.h"
#include "core/progress.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/text.h"
#include "tests/common/test_data.h"

namespace principia {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Streaming in odd pieces gives the same digest.
  Sha256 h;
  for (size_t i = 0; i < million.size(); i += 997) h.update(million.data() + i, std::min<size_t>(997, million.size() - i));
  EXPECT_EQ(h.hex_digest(), sha256_hex(million));
}

TEST(Rng, DeterministicAndRestorable) {
  Rng a(7), b(7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  auto st = a.state();
  uint64_t x = a.next();
  a.set_state(st);
  EXPECT_EQ(a.next(), x);
  EXPECT_NE(Rng::derive(1, {2, 3}).next(), Rng::derive(1, {3, 2}).next());
  EXPECT_EQ(Rng::derive(1, {2, 3}).next(), Rng::derive(1, {2, 3}).next());
}

TEST(Rng, PermutationIsAPermutationAndUniformish) {
  Rng r(3);
  std::vector<int> first_counts(4, 0);
  for (int t = 0; t < 4000; ++t) {
    auto p = r.permutation(4);
    std::set<int> s(p.begin(), p.end());
    ASSERT_EQ(s.size(), 4u);
    first_counts[p[0]]++;
  }
  for (int c : first_counts) EXPECT_NEAR(c, 1000, 150);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LT(r.below(5), 5u);
  }
}

TEST(Text, EditDistanceAndClosestMatch) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(closest_match("lrr", {"lr", "betas", "eps"}), "lr");
  EXPECT_EQ(closest_match("zzzzzz", {"lr", "betas"}), "");
  EXPECT_EQ(split("a.b..c", '.'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(trim("  x y \n"), "x y");
}

TEST(Files, AtomicWriteReplacesWholeFile) {
  auto dir = testing::temp_dir("files");
  std::string p = (dir / "f.txt").string();
  write_file_atomic(p, "first");
  write_file_atomic(p, "second");
  EXPECT_EQ(read_file(p), "second");
  for (auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename(), "f.txt") << "temp file left behind";
  EXPECT_THROW(read_file((dir / "missing").string()), Error);
  EXPECT_THROW(write_file_atomic((dir / "no/such/dir/f").string(), "x"), Error);
}

TEST(Jsonl, ReportsBadLinesWithNumbers) {
  auto dir = testing::temp_dir("jsonl");
  std::string p = (dir / "a.jsonl").string();
  std::ofstream(p) << "{\"a\": 1, \"z\": 2, \"b\": 3}\n\n{bad json\r\n[1,2]\n";
  JsonlReader r(p);
  auto l1 = r.next();
  ASSERT_TRUE(l1);
  EXPECT_EQ(l1->line_no, 1);
  EXPECT_TRUE(l1->error.empty());
  EXPECT_EQ(l1->value.begin().key(), "a");
  EXPECT_EQ(std::next(l1->value.begin()).key(), "z");  // order kept
  auto l3 = r.next();
  ASSERT_TRUE(l3);
  EXPECT_EQ(l3->line_no, 3);
  EXPECT_NE(l3->error.find("not valid JSON"), std::string::npos);
  auto l4 = r.next();
  ASSERT_TRUE(l4);
  EXPECT_EQ(l4->line_no, 4);
  EXPECT_FALSE(r.next());
  EXPECT_THROW(JsonlReader((dir / "missing.jsonl").string()), Error);

  BadLineReport rep(1);
  rep.add("a.jsonl", 3, "json", "not valid JSON");
  rep.add("a.jsonl", 9, "json", "not valid JSON");
  rep.add("a.jsonl", 10, "schema", "missing id");
  std::string s = rep.summary();
  EXPECT_NE(s.find("a.jsonl:3: not valid JSON"), std::string::npos) << s;
  EXPECT_NE(s.find("json=2"), std::string::npos) << s;
  EXPECT_NE(s.find("schema=1"), std::string::npos) << s;
  EXPECT_EQ(s.find("a.jsonl:9"), std::string::npos) << s;
}

TEST(Progress, RendersRateAndEta) {
  Progress p("steps", 100, nullptr);
  p.set(25);
  std::string line = p.render(5.0);
  EXPECT_NE(line.find("25/100"), std::string::npos) << line;
  EXPECT_NE(line.find("5.00/s"), std::string::npos) << line;
  EXPECT_NE(line.find("eta 15.0s"), std::string::npos) << line;
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(187), "3m07s");
}

TEST(Progress, WritesPeriodicLinesWhenNotATerminal) {
  auto dir = testing::temp_dir("progress");
  std::string path = (dir / "out.txt").string();
  std::FILE* f = std::fopen(path.c_str(), "w");
  {
    Progress p("work", 3, f, /*line_every_s=*/0.0);
    p.advance();
    p.advance();
    p.advance();
  }
  std::fclose(f);
  std::string out = read_file(path);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("3/3"), std::string::npos) << out;
}

}  // namespace
}  // namespace principia
