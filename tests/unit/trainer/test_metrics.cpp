// metrics.jsonl lines, CRC32C vectors, the hand-encoded Event bytes and TFRecord framing,
// and a read-back of a written event file (framing + CRCs checked by an independent reader).
#include "trainer/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "tests/common/test_data.h"
#include "trainer/tensorboard.h"

namespace principia::trainer {
namespace {

std::string bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(char(b));
  return s;
}

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  // RFC 3720 B.4: 32 zero bytes, 32 0xFF bytes, 0..31
  std::string zeros(32, '\0'), ones(32, '\xff'), inc;
  for (int i = 0; i < 32; ++i) inc.push_back(char(i));
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  // streaming: crc of "12345" continued with "6789"
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283u);
}

TEST(TfRecord, FrameLayout) {
  // "abc": length 3 as uint64 LE, masked crc of those 8 bytes, "abc", masked crc of "abc".
  // masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8, computed independently:
  //   masked(03 00 00 00 00 00 00 00) = 0x0e4999b0, masked("abc") = 0x21f1576e
  std::string f = tfrecord_frame("abc");
  ASSERT_EQ(f.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(f.substr(0, 8), bytes({3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(f.substr(8, 4), bytes({0xb0, 0x99, 0x49, 0x0e}));
  EXPECT_EQ(f.substr(12, 3), "abc");
  EXPECT_EQ(f.substr(15, 4), bytes({0x6e, 0x57, 0xf1, 0x21}));
}

TEST(EventProto, ScalarsEventBytes) {
  // Event{wall_time=1.0, step=5, summary{value{tag:"a", simple_value:1.0}}}
  //   09 <1.0 as LE double: 00 00 00 00 00 00 f0 3f>     field 1, wire type 1
  //   10 05                                              field 2, varint
  //   2a 0a  0a 08  0a 01 'a'  15 <1.0f: 00 00 80 3f>    summary{value{tag, simple_value}}
  std::string want = bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x05, 0x2a, 0x0a, 0x0a,
                            0x08, 0x0a, 0x01, 'a', 0x15, 0, 0, 0x80, 0x3f});
  EXPECT_EQ(encode_scalars_event(1.0, 5, {{"a", 1.0f}}), want);
  // step 300 -> varint ac 02
  std::string e = encode_scalars_event(1.0, 300, {});
  EXPECT_EQ(e.substr(9, 3), bytes({0x10, 0xac, 0x02}));
}

TEST(EventProto, FileVersionEvent) {
  // 09 <double 0> 1a 0d "brain.Event:2"
  std::string want = bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, 13}) + "brain.Event:2";
  EXPECT_EQ(encode_file_version_event(0.0), want);
}

TEST(EventProto, SessionStartEvent) {
  // 09 <double 0> 10 03 3a 02 08 01: step 3, session_log (field 7) {status (1) = START (1)}
  std::string want = bytes({0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x03, 0x3a, 0x02, 0x08, 0x01});
  EXPECT_EQ(encode_session_start_event(0.0, 3), want);
}

// An independent reader: checks both CRCs of every record and returns the payloads.
std::vector<std::string> read_records(const std::string& path) {
  std::string data = read_file(path);
  std::vector<std::string> out;
  size_t pos = 0;
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, data.data() + at, 4);
    return v;
  };
  while (pos < data.size()) {
    EXPECT_LE(pos + 12, data.size());
    uint64_t len;
    std::memcpy(&len, data.data() + pos, 8);
    EXPECT_EQ(u32(pos + 8), masked_crc32c(data.data() + pos, 8));
    std::string payload = data.substr(pos + 12, len);
    EXPECT_EQ(u32(pos + 12 + len), masked_crc32c(payload.data(), payload.size()));
    out.push_back(payload);
    pos += 12 + len + 4;
  }
  return out;
}

// The steps of the scalar events in the only event file of `dir`, after its version record.
std::vector<int64_t> event_steps(const std::filesystem::path& dir) {
  const auto files = event_files(dir.string());
  EXPECT_EQ(files.size(), 1u);
  if (files.size() != 1) return {};
  std::vector<int64_t> steps;
  const auto recs = read_tfrecords(files[0]);
  EXPECT_NE(recs.at(0).find("brain.Event:2"), std::string::npos);
  for (size_t i = 1; i < recs.size(); ++i) {
    EXPECT_EQ(uint8_t(recs[i][9]), 0x10);  // wall_time (9 bytes), then the step's varint
    steps.push_back(int64_t(uint8_t(recs[i][10])));  // small steps: one varint byte
  }
  return steps;
}

TEST(MetricsWriter, WritesJsonlAndEvents) {
  auto dir = principia::testing::temp_dir("metrics_writer");
  {
    MetricsWriter w(dir.string(), /*tensorboard=*/true);
    StepMetrics m;
    m.set("reward/mean", 0.5).set("reward/format", 0.9).set("time/rollout_s", 1.25);
    m.set("reward/mean", 0.75);  // overwrite keeps the position
    w.write(1, m);
    StepMetrics m2;
    m2.set("actor/kl", std::nan("")).set("actor/clip_frac", 0.125);
    w.write(2, m2);
    ASSERT_NE(w.tensorboard(), nullptr);
    const std::string name = std::filesystem::path(w.tensorboard()->path()).filename().string();
    EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
    EXPECT_EQ(std::filesystem::path(w.tensorboard()->path()).parent_path(), dir / "tb");
  }
  std::istringstream in(read_file((dir / "metrics.jsonl").string()));
  std::string l1, l2, l3;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_FALSE(std::getline(in, l3));
  EXPECT_EQ(l1, R"({"step":1,"reward/mean":0.75,"reward/format":0.9,"time/rollout_s":1.25})");
  EXPECT_EQ(l2, R"({"step":2,"actor/kl":null,"actor/clip_frac":0.125})");

  // A second writer resumed after step 2 appends to metrics.jsonl.
  {
    MetricsWriter w(dir.string(), /*tensorboard=*/false, /*start_step=*/2);
    w.write(3, StepMetrics().set("x", 1));
    EXPECT_EQ(w.tensorboard(), nullptr);
  }
  EXPECT_EQ(read_file((dir / "metrics.jsonl").string()), l1 + "\n" + l2 + "\n" + R"({"step":3,"x":1.0})" "\n");

  // The event file: the version record then two scalar events, every CRC right.
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(dir / "tb")) files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u);
  auto recs = read_records(files[0]);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_NE(recs[0].find("brain.Event:2"), std::string::npos);
  EXPECT_NE(recs[1].find("reward/format"), std::string::npos);
  EXPECT_NE(recs[2].find("actor/clip_frac"), std::string::npos);
}

TEST(MetricsWriter, ResumeDropsLaterStepsAndTornLines) {
  auto dir = principia::testing::temp_dir("metrics_resume");
  {
    MetricsWriter w(dir.string(), true);
    for (int s = 1; s <= 4; ++s) w.write(s, StepMetrics().set("x", s));
  }
  {  // a crash mid-line
    std::ofstream f(dir / "metrics.jsonl", std::ios::app);
    f << "{\"step\":5,\"x";
  }
  {
    MetricsWriter w(dir.string(), true, /*start_step=*/2);
    w.write(3, StepMetrics().set("x", 30));
  }
  EXPECT_EQ(read_file((dir / "metrics.jsonl").string()),
            "{\"step\":1,\"x\":1.0}\n{\"step\":2,\"x\":2.0}\n{\"step\":3,\"x\":30.0}\n");
  // RUN/tb/ is one event file again: the version record, then steps 1, 2 (kept) and 3 (new).
  EXPECT_EQ(event_steps(dir / "tb"), (std::vector<int64_t>{1, 2, 3}));
}

TEST(MetricsWriter, AFreshStartOverAnEarlierHistoryKeepsNoneOfIt) {
  // A run killed before its first checkpoint, restarted from scratch: steps 1..2 are redone.
  auto dir = principia::testing::temp_dir("metrics_fresh");
  {
    MetricsWriter w(dir.string(), true);
    for (int s = 1; s <= 2; ++s) w.write(s, StepMetrics().set("x", s));
  }
  {
    MetricsWriter w(dir.string(), true, /*start_step=*/0);
    for (int s = 1; s <= 3; ++s) w.write(s, StepMetrics().set("x", 10 * s));
  }
  EXPECT_EQ(read_file((dir / "metrics.jsonl").string()),
            "{\"step\":1,\"x\":10.0}\n{\"step\":2,\"x\":20.0}\n{\"step\":3,\"x\":30.0}\n");
  EXPECT_EQ(event_steps(dir / "tb"), (std::vector<int64_t>{1, 2, 3}));
}

TEST(MetricsWriter, DuplicatedStepsOfAnOldHistoryCollapseToTheLastWritten) {
  // metrics.jsonl and event files as an older build left them after a restart from scratch.
  auto dir = principia::testing::temp_dir("metrics_dupes");
  write_file_atomic((dir / "metrics.jsonl").string(),
                    "{\"step\":1,\"x\":1}\n{\"step\":2,\"x\":2}\n{\"step\":1,\"x\":11}\n"
                    "{\"step\":2,\"x\":12}\n{\"step\":3,\"x\":13}\n");
  {
    TensorBoardWriter a((dir / "tb").string());
    for (int s = 1; s <= 2; ++s) a.add_scalars(s, {{"x", float(s)}});
  }
  {
    TensorBoardWriter b((dir / "tb").string());  // a later file: its steps replace the first's
    for (int s = 1; s <= 3; ++s) b.add_scalars(s, {{"x", float(10 + s)}});
  }
  {
    MetricsWriter w(dir.string(), true, /*start_step=*/3);
    w.write(4, StepMetrics().set("x", 14));
  }
  EXPECT_EQ(read_file((dir / "metrics.jsonl").string()),
            "{\"step\":1,\"x\":11}\n{\"step\":2,\"x\":12}\n{\"step\":3,\"x\":13}\n{\"step\":4,\"x\":14.0}\n");
  EXPECT_EQ(event_steps(dir / "tb"), (std::vector<int64_t>{1, 2, 3, 4}));
  // the values are the later file's
  const auto files = event_files((dir / "tb").string());
  ASSERT_EQ(files.size(), 1u);
  const auto recs = read_tfrecords(files[0]);
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[1].substr(9), encode_scalars_event(0, 1, {{"x", 11.f}}).substr(9));  // wall time aside
}

TEST(TensorBoardHistory, ASessionStartDropsTheStepsItRedoesAndATornTailIsIgnored) {
  auto dir = principia::testing::temp_dir("tb_history");
  std::string first;
  {
    TensorBoardWriter a(dir.string());
    for (int s = 1; s <= 4; ++s) a.add_scalars(s, {{"x", float(s)}, {"y", 1.f}});
    a.add_session_start(3);  // a resumed run of the older kind, in the same file
    a.add_scalars(3, {{"x", 30.f}});
    first = a.path();
  }
  {
    std::ofstream f(first, std::ios::app | std::ios::binary);
    f << std::string("\x20\x00\x00\x00\x00\x00\x00\x00\x01\x02", 10);  // a record torn mid-header
  }
  const auto kept = scalar_history(dir.string(), 100);
  ASSERT_EQ(kept.size(), 3u);  // steps 1, 2 and the redone 3; the old 4 is gone
  EXPECT_NE(kept[2].find(std::string("\x10\x03", 2)), std::string::npos);
  EXPECT_EQ(scalar_history(dir.string(), 2).size(), 2u);
  EXPECT_EQ(read_tfrecords(first).size(), 1u + 4 + 1 + 1);
}

TEST(StepMetrics, GetAndReservedKey) {
  StepMetrics m;
  m.set("a", 2);
  EXPECT_TRUE(m.has("a"));
  EXPECT_EQ(m.get("a"), 2);
  EXPECT_THROW(m.get("b"), Error);
  EXPECT_THROW(metrics_json_line(0, StepMetrics().set("step", 1)), Error);
}

TEST(MetricsWriter, UnwritableDirIsAnError) {
  EXPECT_THROW(MetricsWriter("/proc/principia-no-such-dir/run", false), Error);
}

}  // namespace
}  // namespace principia::trainer
