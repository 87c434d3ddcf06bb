// Crash-safe training checkpoints (DESIGN.md §Formats: Checkpoint).
//
// RUN/checkpoints/step-000100/
//   model/                  HF-layout folder, written by the caller's write_model(dir)
//   optimizer.safetensors   optimizer state (named tensors, e.g. AdamW::state_dict()); the
//                           safetensors format, so Python's `safetensors` reads it too
//   optimizer-rank-RRRRR-of-WWWWW.safetensors
//                           instead, under ZeRO-1: each rank's shard (disjoint names)
//   state.json              TrainState: step, data cursor, config hash, world size
//   <extra files>           e.g. config.resolved.yaml
//   MANIFEST                one line per file: "<size> <sha256> <relative path>", sorted by path,
//                           then "# sha256 <sha256 of the lines above>" (detects a bad MANIFEST)
// Writing: everything goes into step-000100.tmp-<pid>, every file and directory is fsynced,
// MANIFEST is written last inside it, the directory is renamed into place (parent fsynced),
// then RUN/checkpoints/latest (the directory name + "\n") is replaced atomically, then older
// checkpoints beyond keep_last are removed. A crash at any point leaves the previous checkpoint
// and `latest` intact; a half-written directory never has a final name.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace principia::trainer {

// What state.json holds. No random generator state: every draw of a run is a function of
// run.seed, the step and the item or row index (core/rng.h), and the loader's order is in its
// cursor, so a resumed run draws what the uninterrupted one would.
struct TrainState {
  int64_t step = 0;
  int64_t world_size = 1;
  std::string config_hash;                               // sha256 of the resolved config
  nlohmann::json data_cursor = nlohmann::json::object();  // the loader's own resume blob
  nlohmann::json extra = nlohmann::json::object();        // anything else the caller needs
};
nlohmann::json to_json(const TrainState& s);
// Throws principia::Error naming `file` and the key path on a missing / mistyped field.
TrainState train_state_from_json(const nlohmann::json& j, const std::string& file);


struct CheckpointContents {
  TrainState state;
  std::function<void(const std::string& model_dir)> write_model;  // optional; dir exists
  std::map<std::string, at::Tensor> optimizer_state;               // written to optimizer_file
  std::string optimizer_file = "optimizer.safetensors";
  std::vector<std::pair<std::string, std::string>> files;          // (relative path, bytes)
  // Optional: called with the temp directory once the files above are in it, before the
  // MANIFEST is made; other ranks add their optimizer shards there (ZeRO-1).
  std::function<void(const std::string& tmp_dir)> before_manifest;
};

// "optimizer-rank-00001-of-00004.safetensors"
std::string optimizer_shard_name(int rank, int world_size);

std::string checkpoint_dir_name(int64_t step);  // "step-000100"

// Writes RUN/checkpoints/step-NNNNNN (NNNNNN = contents.state.step) as described above and
// returns its path. A checkpoint of the same step already there is replaced. keep_last ≥ 1.
std::string save_checkpoint(const std::string& run_dir, const CheckpointContents& contents,
                            int64_t keep_last);

struct VerifyResult {
  bool ok = true;
  std::string bad_file;  // relative path inside the checkpoint ("MANIFEST" for the manifest)
  std::string reason;    // "missing", "size 10 != 12 in MANIFEST", "sha256 mismatch", ...
  std::string message(const std::string& dir) const;  // "<dir>/<bad_file>: <reason>"
};
// Re-hashes every file listed in dir/MANIFEST. Never throws for a damaged checkpoint.
VerifyResult verify_checkpoint(const std::string& dir);

struct LatestCheckpoint {
  std::string dir;                   // "" when there is no valid checkpoint
  int64_t step = -1;
  std::vector<std::string> skipped;  // one message per newer checkpoint that failed verify
};
// The newest valid RUN/checkpoints/step-* (by step), for `--resume auto`. Each invalid newer
// one is skipped with a log::warn naming the bad file. `latest` is the writer's pointer;
// the directory listing is what is searched (a crash between rename and `latest` still
// leaves a complete checkpoint).
LatestCheckpoint find_latest_valid(const std::string& run_dir);

// `--resume auto` -> find_latest_valid ("" when none: a fresh start, logged with its reason:
// no checkpoint, or every one damaged); `--resume PATH` -> PATH after verify (throws
// principia::Error naming the bad file).
std::string resolve_resume(const std::string& run_dir, const std::string& resume);

struct LoadedCheckpoint {
  std::string dir;
  std::string model_dir;  // dir/model ("" when the checkpoint has none)
  TrainState state;
  std::map<std::string, at::Tensor> optimizer_state;  // CPU tensors; ZeRO-1 shards merged
};
// Verifies, then reads state.json and (read_optimizer) the optimizer state. Throws
// principia::Error.
LoadedCheckpoint load_checkpoint(const std::string& dir, bool read_optimizer = true);

// The optimizer state of a checkpoint: optimizer.safetensors, or every ZeRO shard merged. With
// `wanted`, only the entries it accepts are read (a ZeRO rank reads what it owns, whichever
// shard holds it); the others are checked in the headers but not read.
std::map<std::string, at::Tensor> read_optimizer_state(const std::string& dir,
                                                       const std::function<bool(const std::string&)>& wanted = {});

// A minimal safetensors writer/reader for named tensors (F64 F32 F16 BF16 I64 I32 I16 I8 U8
// BOOL). The writer streams one tensor at a time (one host copy of a tensor, never the whole
// file); the reader reads the header, then only the tensors `wanted` accepts (all without it),
// into CPU tensors, and throws principia::Error naming the file on anything malformed or
// truncated.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors);
std::map<std::string, at::Tensor> read_safetensors(const std::string& path,
                                                   const std::function<bool(const std::string&)>& wanted = {});

}  // namespace principia::trainer
