// The training loader: a deterministic, sharded, resumable stream of batches.
//
// * Eligible records: the source's records whose rendered judge prompt is at most
//   max_prompt_tokens tokens (the HDF5 store's stored length, else the injected
//   prompt_tokens(record) callable, so data/ does not depend on a tokenizer). The number
//   filtered out is logged once.
// * Epoch e visits the eligible records in the order of a permutation seeded by (seed, e), the
//   same on every rank. Sharding: with N eligible and W ranks, each rank gets floor(N / W)
//   records per epoch — rank r takes permutation positions r, r + W, r + 2W, ... — and the last
//   N mod W positions of each epoch are dropped (a different few each epoch, since the order
//   changes), so every rank has EXACTLY the same count and steps stay in lock-step.
// * Batches of batch_size items run across epoch boundaries (no short last batch).
// * Cursor {epoch, position}: the next item this rank reads. cursor() is the position after the
//   last batch handed out; a loader built with that cursor yields exactly the batches the
//   uninterrupted loader would have yielded next. Every rank's cursor is the same.
// * Prefetch: a background thread fills a bounded queue (`prefetch` batches) in order, so the
//   sequence is identical with or without it.
// Memory: the source's index (JSONL: 16 bytes per record), the eligible list and the epoch's
// permutation (8 bytes per eligible record each), plus the queued batches; texts are read on
// demand.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/jsonl.h"
#include "data/record_source.h"

namespace principia::data {

struct Cursor {
  int64_t epoch = 0;
  int64_t position = 0;  // index into this rank's share of the epoch
  bool operator==(const Cursor&) const = default;
};

struct LoaderOptions {
  uint64_t seed = 0;
  int rank = 0;
  int world_size = 1;
  int64_t batch_size = 1;               // items per rank per batch
  int64_t max_prompt_tokens = 0;        // 0: no length filter
  std::function<size_t(const Record&)> prompt_tokens;  // used when the source stores none
  int64_t prefetch = 2;                 // batches read ahead in a background thread; 0: none
  bool shuffle = true;                  // false: epoch order = file order (evaluation)
};

struct Batch {
  std::vector<Record> items;
  std::vector<int64_t> indices;  // source indices of the items
  Cursor start;                  // cursor before this batch
  Cursor next;                   // cursor after it
};

class Loader {
 public:
  // Throws principia::Error when fewer eligible records than ranks remain, or on bad options.
  Loader(std::shared_ptr<const RecordSource> source, const LoaderOptions& options,
         Cursor start = {});
  // Resumes from a cursor saved with cursor_json() (checked against this geometry).
  Loader(std::shared_ptr<const RecordSource> source, const LoaderOptions& options,
         const ordered_json& saved_cursor);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  Batch next();
  Cursor cursor() const { return cursor_; }

  int64_t eligible() const { return static_cast<int64_t>(eligible_.size()); }
  int64_t filtered() const { return filtered_; }
  int64_t per_rank() const { return per_rank_; }  // items per rank per epoch

  // Cursor <-> JSON for checkpoints' state.json. The JSON also records the shard geometry
  // (world_size, eligible count, seed); restoring under a different one is an Error, since
  // positions would then mean different records.
  ordered_json cursor_json() const;
  Cursor cursor_from_json(const ordered_json& j) const;

 private:
  Batch produce(Cursor& at, std::vector<int64_t>& perm, int64_t& perm_epoch) const;
  void producer_loop(Cursor start);
  void begin(Cursor start);  // checks the cursor, starts the prefetch thread

  std::shared_ptr<const RecordSource> source_;
  LoaderOptions options_;
  std::vector<int64_t> eligible_;  // source indices passing the length filter
  int64_t filtered_ = 0;
  int64_t per_rank_ = 0;
  Cursor cursor_;

  // Synchronous mode state (prefetch == 0).
  Cursor sync_at_;
  std::vector<int64_t> sync_perm_;
  int64_t sync_perm_epoch_ = -1;

  // Prefetch.
  std::thread producer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace principia::data
