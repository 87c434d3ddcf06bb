// The HDF5 store: round trip of every field, stored prompt lengths, clear errors on truncated
// and foreign files, inspect output.
#include <gtest/gtest.h>

#include <hdf5.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "data/h5_store.h"
#include "data/record_source.h"
#include "data/synth.h"
#include "tests/common/test_data.h"

namespace principia::data {
namespace {

TEST(H5Store, RoundTripsEveryField) {
  auto dir = testing::temp_dir("h5_roundtrip");
  std::string jsonl = (dir / "in.jsonl").string(), h5 = (dir / "out.h5").string();
  std::string extra =
      R"({"id": "u1", "principle": "ünïcode 中文 😀", "prompt": "tab\there\nnl", "responses": {"x": "", "y": "quote \" and \\", "z": "3"}, "scores": {"x": 1.25, "y": 5, "z": 1.25}, "ranking": ["y", "z", "x"], "meta": {"source": {"k": [1, 2]}}})";
  SynthOptions o;
  o.n = 300;
  o.candidates = 4;
  std::string text;
  for (int i = 0; i < 300; ++i) text += record_to_line(synth_record(o, i)) + "\n";
  text += extra + "\n";
  write_file_atomic(jsonl, text);

  auto length = [](const Record& r) { return r.prompt.size() + 7; };
  PackSummary s = pack_jsonl(jsonl, h5, length, {}, {4, 256, 64});  // small chunks: many of them
  EXPECT_EQ(s.records, 301);
  EXPECT_FALSE(std::filesystem::exists(h5 + ".tmp"));

  JsonlSource js(jsonl);
  H5Source hs(h5);
  ASSERT_EQ(hs.size(), 301);
  for (int64_t i = 0; i < hs.size(); ++i) {
    Record a = js.get(i), b = hs.get(i);
    EXPECT_EQ(record_to_line(a), record_to_line(b)) << i;
    EXPECT_EQ(hs.stored_prompt_tokens(i), int64_t(length(a)));
  }
  // Random access in any order.
  EXPECT_EQ(hs.get(300).ranking, (std::vector<std::string>{"y", "z", "x"}));
  EXPECT_EQ(hs.get(7).id, js.get(7).id);
  EXPECT_THROW(hs.get(301), Error);

  std::string report = inspect_h5(h5);
  EXPECT_NE(report.find("301 records"), std::string::npos) << report;
  EXPECT_NE(report.find("by domain"), std::string::npos) << report;
  EXPECT_NE(report.find("structure."), std::string::npos) << report;
  EXPECT_NE(report.find("median"), std::string::npos) << report;
}

TEST(H5Store, WithoutTokenizerLengthsAreUnknown) {
  auto dir = testing::temp_dir("h5_nolen");
  std::string jsonl = (dir / "in.jsonl").string(), h5 = (dir / "out.h5").string();
  SynthOptions o;
  o.n = 5;
  write_synth_jsonl(o, jsonl);
  pack_jsonl(jsonl, h5, nullptr);
  H5Source hs(h5);
  EXPECT_FALSE(hs.stored_prompt_tokens(0).has_value());
  EXPECT_NE(inspect_h5(h5).find("not stored"), std::string::npos);
}

TEST(H5Store, TruncatedForeignAndMissingFilesGiveClearErrors) {
  auto dir = testing::temp_dir("h5_bad");
  std::string jsonl = (dir / "in.jsonl").string(), h5 = (dir / "out.h5").string();
  SynthOptions o;
  o.n = 2000;
  write_synth_jsonl(o, jsonl);
  pack_jsonl(jsonl, h5, nullptr);
  std::string bytes = read_file(h5);

  auto expect_error = [&](const std::string& path, const std::string& fragment) {
    try {
      H5Source src(path);
      for (int64_t i = 0; i < src.size(); ++i) (void)src.get(i);
      ADD_FAILURE() << path << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  for (size_t keep : {size_t(0), size_t(100), bytes.size() / 2, bytes.size() - 100}) {
    std::string cut = (dir / ("cut" + std::to_string(keep) + ".h5")).string();
    write_file_atomic(cut, bytes.substr(0, keep));
    expect_error(cut, "");
  }
  std::string foreign = (dir / "foreign.h5").string();
  write_file_atomic(foreign, "this is not hdf5 at all\n");
  expect_error(foreign, "not an HDF5 file");
  expect_error((dir / "missing.h5").string(), "no such file");

  // A valid HDF5 file that is not a record store.
  std::string other = (dir / "other.h5").string();
  hid_t f = H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  expect_error(other, "not a principia record store");
  // open_record_source picks HDF5 by name or magic and gives the same clear error.
  EXPECT_THROW(open_record_source(foreign), Error);
  EXPECT_NO_THROW(open_record_source(h5));
  EXPECT_NO_THROW(open_record_source(jsonl));
}

TEST(H5Store, BadInputFailsWithoutLeavingAFile) {
  auto dir = testing::temp_dir("h5_badinput");
  std::string jsonl = (dir / "in.jsonl").string(), h5 = (dir / "out.h5").string();
  write_file_atomic(jsonl, "{\"id\": 1}\n");
  EXPECT_THROW(pack_jsonl(jsonl, h5, nullptr), Error);
  EXPECT_FALSE(std::filesystem::exists(h5));
  EXPECT_FALSE(std::filesystem::exists(h5 + ".tmp"));
}

}  // namespace
}  // namespace principia::data
