// Checkpoint round trip, damage detection naming the file, `latest` / auto-resume fallback,
// keep_last pruning, and the safetensors reader's checks.
#include "trainer/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "tests/common/test_data.h"

namespace principia::trainer {
namespace {
namespace fs = std::filesystem;

CheckpointContents make_contents(int64_t step) {
  CheckpointContents c;
  c.state.step = step;
  c.state.world_size = 2;
  c.state.config_hash = "abc123";
  c.state.data_cursor = {{"epoch", 1}, {"index", 17 + step}};
  c.state.extra = {{"sft_done", true}};
  torch::manual_seed(step);
  c.optimizer_state["w.exp_avg"] = torch::randn({3, 4});
  c.optimizer_state["w.step"] = torch::tensor(int64_t(step));
  c.optimizer_state["h.half"] = torch::randn({5}).to(torch::kBFloat16);
  c.write_model = [step](const std::string& dir) {
    // stands in for the HF folder the model module writes
    std::ofstream(dir + "/config.json") << "{\"step\": " << step << "}\n";
    std::ofstream(dir + "/model.safetensors", std::ios::binary) << std::string(1000, 'w');
  };
  c.files.push_back({"config.resolved.yaml", "run:\n  name: t\n"});
  return c;
}

TEST(Checkpoint, RoundTrip) {
  auto run = principia::testing::temp_dir("ckpt_roundtrip");
  CheckpointContents c = make_contents(100);
  const std::string dir = save_checkpoint(run.string(), c, 3);
  EXPECT_EQ(dir, (run / "checkpoints" / "step-000100").string());
  EXPECT_EQ(read_file((run / "checkpoints" / "latest").string()), "step-000100\n");
  for (const char* f : {"MANIFEST", "state.json", "optimizer.safetensors", "config.resolved.yaml",
                        "model/config.json", "model/model.safetensors"})
    EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / f)) << f;
  // no temp dir left behind
  for (auto& e : fs::directory_iterator(run / "checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos);

  // MANIFEST: "<size> <sha256> <path>" sorted, then the trailer
  const std::string manifest = read_file(dir + "/MANIFEST");
  EXPECT_NE(manifest.find("1000 "), std::string::npos);
  EXPECT_NE(manifest.find(" model/model.safetensors\n"), std::string::npos);
  EXPECT_NE(manifest.find("\n# sha256 "), std::string::npos);
  EXPECT_LT(manifest.find(" config.resolved.yaml"), manifest.find(" state.json"));

  EXPECT_TRUE(verify_checkpoint(dir).ok);
  LoadedCheckpoint l = load_checkpoint(dir);
  EXPECT_EQ(l.model_dir, dir + "/model");
  EXPECT_EQ(l.state.step, 100);
  EXPECT_EQ(l.state.world_size, 2);
  EXPECT_EQ(l.state.config_hash, "abc123");
  EXPECT_EQ(l.state.data_cursor, c.state.data_cursor);
  EXPECT_EQ(l.state.extra, c.state.extra);
  ASSERT_EQ(l.optimizer_state.size(), 3u);
  for (auto& [k, v] : c.optimizer_state) {
    EXPECT_EQ(l.optimizer_state.at(k).scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(torch::equal(l.optimizer_state.at(k), v)) << k;
  }
}

TEST(Checkpoint, SameStepIsReplaced) {
  auto run = principia::testing::temp_dir("ckpt_same_step");
  save_checkpoint(run.string(), make_contents(5), 3);
  CheckpointContents c = make_contents(5);
  c.state.config_hash = "second";
  const std::string dir = save_checkpoint(run.string(), c, 3);
  EXPECT_EQ(load_checkpoint(dir).state.config_hash, "second");
}

// Damage one file, check verify names it; for each kind of file in a checkpoint.
class CheckpointDamage : public ::testing::TestWithParam<std::string> {};

void truncate_file(const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }
void flip_bit(const fs::path& p, size_t at) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(std::streamoff(at));
  char b;
  f.get(b);
  f.seekp(std::streamoff(at));
  f.put(char(b ^ 0x10));
}

TEST_P(CheckpointDamage, TruncatedAndBitFlippedAreNamed) {
  const std::string file = GetParam();
  for (bool truncate : {true, false}) {
    auto run = principia::testing::temp_dir("ckpt_damage");
    const std::string dir = save_checkpoint(run.string(), make_contents(7), 3);
    const fs::path p = fs::path(dir) / file;
    if (truncate) {
      truncate_file(p);
    } else {
      flip_bit(p, fs::file_size(p) / 3);
    }
    VerifyResult v = verify_checkpoint(dir);
    EXPECT_FALSE(v.ok) << file << (truncate ? " truncated" : " flipped");
    EXPECT_EQ(v.bad_file, file) << v.reason;
    EXPECT_NE(v.message(dir).find(file), std::string::npos);
    try {
      load_checkpoint(dir);
      ADD_FAILURE() << "load of a damaged checkpoint succeeded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EachKind, CheckpointDamage,
                         ::testing::Values("model/model.safetensors", "model/config.json",
                                           "optimizer.safetensors", "state.json",
                                           "config.resolved.yaml", "MANIFEST"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(Checkpoint, MissingFileAndMissingManifest) {
  auto run = principia::testing::temp_dir("ckpt_missing");
  const std::string dir = save_checkpoint(run.string(), make_contents(1), 3);
  fs::remove(fs::path(dir) / "state.json");
  VerifyResult v = verify_checkpoint(dir);
  EXPECT_EQ(v.bad_file, "state.json");
  EXPECT_EQ(v.reason, "missing");
  fs::remove(fs::path(dir) / "MANIFEST");
  EXPECT_EQ(verify_checkpoint(dir).bad_file, "MANIFEST");
}

TEST(Checkpoint, LatestFallsBackToPreviousValid) {
  auto run = principia::testing::temp_dir("ckpt_fallback");
  save_checkpoint(run.string(), make_contents(10), 5);
  save_checkpoint(run.string(), make_contents(20), 5);
  const std::string newest = save_checkpoint(run.string(), make_contents(30), 5);
  LatestCheckpoint ok = find_latest_valid(run.string());
  EXPECT_EQ(ok.step, 30);
  EXPECT_TRUE(ok.skipped.empty());
  EXPECT_EQ(resolve_resume(run.string(), "auto"), newest);

  flip_bit(fs::path(newest) / "optimizer.safetensors", 100);
  LatestCheckpoint fb = find_latest_valid(run.string());
  EXPECT_EQ(fb.step, 20);
  ASSERT_EQ(fb.skipped.size(), 1u);
  EXPECT_NE(fb.skipped[0].find("step-000030/optimizer.safetensors"), std::string::npos)
      << fb.skipped[0];
  // an explicit path to the damaged one is refused, naming the file
  try {
    resolve_resume(run.string(), newest);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.safetensors"), std::string::npos) << e.what();
  }
  // a leftover temp dir (crash mid-write) is never a candidate
  fs::create_directories(run / "checkpoints" / "step-000040.tmp-999");
  EXPECT_EQ(find_latest_valid(run.string()).step, 20);
  // nothing valid: a fresh start
  auto empty = principia::testing::temp_dir("ckpt_none");
  EXPECT_EQ(find_latest_valid(empty.string()).dir, "");
  EXPECT_EQ(resolve_resume(empty.string(), "auto"), "");
  EXPECT_THROW(resolve_resume(empty.string(), (empty / "nope").string()), Error);
}

// The pid of a process that has exited (and been reaped): a writer that died.
std::string dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return std::to_string(child);
}

TEST(Checkpoint, KeepLastPrunesOldest) {
  auto run = principia::testing::temp_dir("ckpt_keep");
  fs::create_directories(run / "checkpoints" / ("step-000002.tmp-" + dead_pid()));  // stale temp
  fs::create_directories(run / "checkpoints" / ("step-000001.old-" + dead_pid()));  // stale moved-aside
  for (int64_t s : {1, 2, 3, 4, 5}) save_checkpoint(run.string(), make_contents(s), 2);
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(run / "checkpoints")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "step-000004", "step-000005"}));
}

TEST(Checkpoint, TempDirsOfALiveWriterAreLeftAlone) {
  auto run = principia::testing::temp_dir("ckpt_live_writer");
  const std::string live = "step-000009.tmp-" + std::to_string(::getppid());  // our parent runs
  const std::string dead = "step-000009.tmp-" + dead_pid();
  fs::create_directories(run / "checkpoints" / live);
  fs::create_directories(run / "checkpoints" / dead);
  save_checkpoint(run.string(), make_contents(1), 2);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / live));
  EXPECT_FALSE(fs::exists(run / "checkpoints" / dead));
}

TEST(Safetensors, ReadsOnlyTheWantedTensorsAndStillChecksTheRest) {
  auto dir = principia::testing::temp_dir("st_wanted");
  const std::string path = (dir / "s.safetensors").string();
  std::map<std::string, at::Tensor> tensors;
  torch::manual_seed(3);
  tensors["a.exp_avg"] = torch::randn({3, 5});
  tensors["b.exp_avg"] = torch::randn({7}).to(torch::kBFloat16);
  tensors["b.step"] = torch::tensor(int64_t(4));
  write_safetensors(path, tensors);
  const auto all = read_safetensors(path);
  ASSERT_EQ(all.size(), 3u);
  for (const auto& [k, v] : tensors) EXPECT_TRUE(torch::equal(all.at(k), v)) << k;
  const auto some = read_safetensors(path, [](const std::string& k) { return k.rfind("b.", 0) == 0; });
  ASSERT_EQ(some.size(), 2u);
  EXPECT_TRUE(torch::equal(some.at("b.exp_avg"), tensors["b.exp_avg"]));
  // A file cut inside a tensor nobody wants is still refused: the header's offsets are checked.
  const std::string bytes = read_file(path);
  write_file_synced(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_THROW(read_safetensors(path, [](const std::string& k) { return k == "a.exp_avg"; }), Error);
}

TEST(TrainState, BadFieldsNameTheKey) {
  nlohmann::json j = to_json(make_contents(3).state);
  EXPECT_EQ(train_state_from_json(j, "s.json").step, 3);
  auto expect_key = [](nlohmann::json bad, const std::string& key) {
    try {
      train_state_from_json(bad, "s.json");
      ADD_FAILURE() << "accepted bad " << key;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("s.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  auto b1 = j;
  b1.erase("step");
  expect_key(b1, "step");
  auto b2 = j;
  b2["config_hash"] = 7;
  expect_key(b2, "config_hash");
  auto b3 = j;
  b3["world_size"] = 0;
  expect_key(b3, "world_size");
  // A state.json of an earlier version, with the generator fields it wrote and never read.
  auto old = j;
  old["rngs"] = {{"permutation", {"0x1", "0x2", "0x3", "0x4"}}};
  old["torch_rng"] = "00ff";
  EXPECT_EQ(train_state_from_json(old, "s.json").step, train_state_from_json(j, "s.json").step);
}

TEST(Safetensors, ReaderRejectsMalformedFiles) {
  auto dir = principia::testing::temp_dir("safetensors_bad");
  const std::string p = (dir / "t.safetensors").string();
  write_safetensors(p, {{"a", torch::arange(6, torch::kFloat).reshape({2, 3})}});
  auto t = read_safetensors(p);
  EXPECT_TRUE(torch::equal(t.at("a"), torch::arange(6, torch::kFloat).reshape({2, 3})));
  const std::string good = read_file(p);
  auto expect_bad = [&](const std::string& bytes, const std::string& what) {
    write_file_atomic(p, bytes);
    try {
      read_safetensors(p);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  expect_bad(good.substr(0, 5), "shorter than 8 bytes");
  expect_bad(good.substr(0, good.size() - 4), "truncated data");
  expect_bad(good + "xx", "trailing bytes");
  std::string huge = good;
  huge[7] = char(0x7f);
  expect_bad(huge, "header length beyond the file");
  std::string notjson = good;
  notjson[8] = '[';
  expect_bad(notjson, "header not JSON / not an object");
}

}  // namespace
}  // namespace principia::trainer
