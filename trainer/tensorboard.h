// A native TensorBoard event-file writer (scalars only). No LibTorch, no protobuf library:
// the few Event fields are encoded by hand.
//
// File: TFRecords, each  uint64 length (LE) | uint32 masked_crc32c(length bytes) | data |
// uint32 masked_crc32c(data). data = a serialized tensorflow.Event:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
//   SessionLog { SessionStatus status = 1; }  (Event field 7; START = 1)
// The first record is Event{wall_time, file_version: "brain.Event:2"}.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace principia::trainer {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven. "123456789" -> 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
// TFRecord's mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

// One framed record around a payload.
std::string tfrecord_frame(std::string_view payload);

using Scalars = std::vector<std::pair<std::string, float>>;
// Serialized Event protos.
std::string encode_file_version_event(double wall_time);
std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars);
// Event{step, session_log{status: START}}: TensorBoard then drops events with step >= `step`
// read before it (how a resumed run hides the steps it is about to redo).
std::string encode_session_start_event(double wall_time, int64_t step);

double wall_time_now();  // seconds since the epoch, with sub-second precision

// Writes events to a new DIR/events.out.tfevents.<unix time>.<host>.<pid> (the pid keeps two
// processes started in the same second apart, as PyTorch's SummaryWriter does; a ".N" suffix
// two writers of one process).
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::string& dir);  // creates dir; throws principia::Error
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void add_scalars(int64_t step, const Scalars& scalars, double wall_time = wall_time_now());
  // After a resume from step N: add_session_start(N + 1) before the first new event.
  void add_session_start(int64_t step, double wall_time = wall_time_now());
  // A serialized Event written as it is (a kept event of an earlier file).
  void add_event(std::string_view serialized_event);
  void flush();
  void sync();  // flush + fsync: the file is on disk before older files are removed
  const std::string& path() const { return path_; }

 private:
  void write_record(std::string_view payload);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The payloads of a TFRecord file's records, in order, up to the first torn or corrupt record
// (a crash mid-write leaves a partial last one). Throws principia::Error when unreadable.
std::vector<std::string> read_tfrecords(const std::string& path);

// The events.out.tfevents.* files of `dir`, oldest first (by name: the creation time leads).
std::vector<std::string> event_files(const std::string& dir);

// The scalar events of `dir`'s event files as one history: read oldest file first, a session
// START at step s drops the events before it of steps >= s, a later event of a step replaces
// an earlier one, and only steps <= last_step are kept. Serialized Events, by step.
std::vector<std::string> scalar_history(const std::string& dir, int64_t last_step);

}  // namespace principia::trainer
