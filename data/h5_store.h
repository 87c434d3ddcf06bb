// The packed dataset: one HDF5 file (C API) holding the same fields as the JSONL records, for
// many ranks to read in parallel without loading it whole.
//
// Layout (schema_version 1; all datasets 1-D, chunked, deflate-compressed; no variable-length
// types — ragged data is a flat array plus int64 offsets, offsets[i]..offsets[i+1] being item i):
//   attributes on "/": schema_version (int32) = 1, format = "principia-records", count (int64)
//   per record (N):   id, principle, prompt, domain, category, meta (JSON text; "" = none):
//                     <field>_bytes uint8 + <field>_offsets int64 (N+1)
//                     prompt_tokens int64 (N) — token length of the rendered judge prompt,
//                     -1 when packed without a tokenizer
//                     response_offsets int64 (N+1) — record i's candidates are c in
//                     [response_offsets[i], response_offsets[i+1])
//   per candidate (M): name_bytes/name_offsets, text_bytes/text_offsets, score float64,
//                     ranking int32 — for record i, its slice of `ranking` lists candidate
//                     positions (0-based within the record) best -> worst
// A truncated, foreign or older/newer file gives a principia::Error naming the file.
// HDF5 calls are serialised by a process-wide lock (the system HDF5 is not built thread-safe),
// so several loaders' prefetch threads may read stores at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/record.h"
#include "data/record_source.h"

namespace principia::data {

inline constexpr int kH5SchemaVersion = 1;

struct H5WriteOptions {
  int deflate_level = 4;         // 0..9
  // Small chunks: a random record read decompresses one chunk per dataset it touches.
  int64_t chunk_bytes = 1 << 12; // elements per chunk of the byte arrays
  int64_t chunk_items = 1 << 9;  // elements per chunk of the numeric arrays
};

// Streams records into a new store. The file is written as PATH.tmp and renamed over PATH by
// finish(); a writer destroyed without finish() removes the temp file.
class H5Writer {
 public:
  H5Writer(const std::string& path, const H5WriteOptions& options = {});
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;
  void append(const Record& r, int64_t prompt_tokens);
  void finish();
  int64_t count() const { return count_; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int64_t count_ = 0;
};

class H5Source : public RecordSource {
 public:
  explicit H5Source(const std::string& path);
  ~H5Source() override;
  int64_t size() const override { return count_; }
  Record get(int64_t i) const override;
  std::optional<int64_t> stored_prompt_tokens(int64_t i) const override;
  const std::string& path() const override { return path_; }
  // All prompt lengths (for inspect), read in one go.
  std::vector<int64_t> all_prompt_tokens() const;
  std::vector<std::string> all_strings(const std::string& field) const;  // "domain", ...

  struct Impl;

 private:
  std::string path_;
  int64_t count_ = 0;
  std::unique_ptr<Impl> impl_;
};

// Length of the rendered judge prompt of a record, in tokens (injected: data/ does not render).
using PromptTokensFn = std::function<size_t(const Record&)>;

struct PackSummary {
  int64_t records = 0;
  int64_t bad = 0;
  int64_t max_prompt_tokens = -1;
};
// JSONL -> store. Without a prompt_tokens function the stored lengths are -1.
PackSummary pack_jsonl(const std::string& in_jsonl, const std::string& out_h5,
                       const PromptTokensFn& prompt_tokens, const SourceOptions& options = {},
                       const H5WriteOptions& write_options = {});

// The text `principia data inspect` prints: counts, by domain and category, prompt-length
// histogram (ten equal-width bins from min to max).
std::string inspect_h5(const std::string& path);

}  // namespace principia::data
