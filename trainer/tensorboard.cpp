#include "trainer/tensorboard.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/files.h"

namespace principia::trainer {
namespace {

constexpr std::array<uint32_t, 256> make_crc32c_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = make_crc32c_table();

// ---- protobuf wire format: just what Event needs ----
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(uint8_t(v)));
}
template <class T>
void put_le(std::string& out, T v) {  // fixed64 / fixed32, little-endian
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(b, b + sizeof(T));
  out.append(reinterpret_cast<const char*>(b), sizeof(T));
}
void put_tag(std::string& out, int field, int wire_type) { put_varint(out, (uint64_t(field) << 3) | wire_type); }
void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}
void put_double(std::string& out, int field, double v) {
  put_tag(out, field, 1);
  put_le(out, v);
}
void put_float(std::string& out, int field, float v) {
  put_tag(out, field, 5);
  put_le(out, v);
}

template <class T>
bool get_le(std::string_view in, size_t& pos, T& v) {
  if (in.size() - pos < sizeof(T)) return false;
  uint8_t b[sizeof(T)];
  std::memcpy(b, in.data() + pos, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(b, b + sizeof(T));
  std::memcpy(&v, b, sizeof(T));
  pos += sizeof(T);
  return true;
}
bool get_varint(std::string_view in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    const uint8_t b = uint8_t(in[pos++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// What the history rewrite needs of an Event: its step, and whether it is a session START or
// carries a summary. Unknown fields are skipped by wire type.
struct EventInfo {
  int64_t step = 0;
  bool session_start = false;
  bool summary = false;
  bool ok = true;
};
EventInfo event_info(std::string_view ev) {
  EventInfo info;
  size_t pos = 0;
  while (pos < ev.size()) {
    uint64_t tag = 0, v = 0;
    if (!get_varint(ev, pos, tag)) return {0, false, false, false};
    const int field = int(tag >> 3), wire = int(tag & 7);
    if (wire == 0) {
      if (!get_varint(ev, pos, v)) return {0, false, false, false};
      if (field == 2) info.step = int64_t(v);
    } else if (wire == 1) {
      if (ev.size() - pos < 8) return {0, false, false, false};
      pos += 8;
    } else if (wire == 5) {
      if (ev.size() - pos < 4) return {0, false, false, false};
      pos += 4;
    } else if (wire == 2) {
      if (!get_varint(ev, pos, v) || v > ev.size() - pos) return {0, false, false, false};
      const std::string_view body = ev.substr(pos, size_t(v));
      pos += size_t(v);
      if (field == 5) info.summary = true;
      if (field == 7) {  // SessionLog { status = 1 }
        size_t p = 0;
        uint64_t t = 0, status = 0;
        if (get_varint(body, p, t) && t == 0x08 && get_varint(body, p, status) && status == 1)
          info.session_start = true;
      }
    } else {
      return {0, false, false, false};
    }
  }
  return info;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = kCrc32cTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t crc = crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string tfrecord_frame(std::string_view payload) {
  std::string out;
  std::string len;
  put_le(len, uint64_t(payload.size()));
  out += len;
  put_le(out, masked_crc32c(len.data(), len.size()));
  out.append(payload);
  put_le(out, masked_crc32c(payload.data(), payload.size()));
  return out;
}

std::string encode_file_version_event(double wall_time) {
  std::string ev;
  put_double(ev, 1, wall_time);
  put_bytes(ev, 3, "brain.Event:2");
  return ev;
}

std::string encode_scalars_event(double wall_time, int64_t step, const Scalars& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_float(v, 2, value);
    put_bytes(summary, 1, v);
  }
  std::string ev;
  put_double(ev, 1, wall_time);
  put_tag(ev, 2, 0);
  put_varint(ev, uint64_t(step));  // int64: negative values as 10-byte two's complement
  put_bytes(ev, 5, summary);
  return ev;
}

std::string encode_session_start_event(double wall_time, int64_t step) {
  std::string session_log;
  put_tag(session_log, 1, 0);
  put_varint(session_log, 1);  // SessionLog.START
  std::string ev;
  put_double(ev, 1, wall_time);
  put_tag(ev, 2, 0);
  put_varint(ev, uint64_t(step));
  put_bytes(ev, 7, session_log);
  return ev;
}

double wall_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create TensorBoard directory (" + ec.message() + ")");
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "localhost");
  const double now = wall_time_now();
  const std::string base = (std::filesystem::path(dir) / ("events.out.tfevents." + std::to_string(int64_t(now)) +
                                                          "." + host + "." + std::to_string(::getpid())))
                               .string();
  // A second writer of this process within the same second gets a file of its own (".1", ...),
  // named after the first so it sorts after it.
  path_ = base;
  for (int i = 1; std::filesystem::exists(path_, ec); ++i) path_ = base + "." + std::to_string(i);
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) throw Error(path_ + ": cannot open for writing (" + std::strerror(errno) + ")");
  write_record(encode_file_version_event(now));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::write_record(std::string_view payload) {
  const std::string rec = tfrecord_frame(payload);
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size())
    throw Error(path_ + ": write failed (" + std::strerror(errno) + ")");
}

void TensorBoardWriter::add_scalars(int64_t step, const Scalars& scalars, double wall_time) {
  write_record(encode_scalars_event(wall_time, step, scalars));
}

void TensorBoardWriter::add_session_start(int64_t step, double wall_time) {
  write_record(encode_session_start_event(wall_time, step));
}

void TensorBoardWriter::add_event(std::string_view serialized_event) { write_record(serialized_event); }

void TensorBoardWriter::flush() {
  if (std::fflush(file_) != 0) throw Error(path_ + ": flush failed (" + std::strerror(errno) + ")");
}

void TensorBoardWriter::sync() {
  flush();
  if (::fsync(::fileno(file_)) != 0) throw Error(path_ + ": fsync failed (" + std::strerror(errno) + ")");
}

std::vector<std::string> read_tfrecords(const std::string& path) {
  const std::string data = read_file(path);
  std::vector<std::string> out;
  size_t pos = 0;
  while (data.size() - pos >= 12) {
    uint64_t len = 0;
    uint32_t len_crc = 0, data_crc = 0;
    size_t p = pos;
    get_le(data, p, len);
    get_le(data, p, len_crc);
    if (len_crc != masked_crc32c(data.data() + pos, 8) || len > data.size() - p || data.size() - p - len < 4) break;
    const std::string_view payload(data.data() + p, size_t(len));
    p += size_t(len);
    get_le(data, p, data_crc);
    if (data_crc != masked_crc32c(payload.data(), payload.size())) break;
    out.emplace_back(payload);
    pos = p;
  }
  return out;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> scalar_history(const std::string& dir, int64_t last_step) {
  struct Step {
    size_t file = 0;  // the file its events came from: a step written again later replaces them
    std::vector<std::string> events;
  };
  std::map<int64_t, Step> by_step;
  const std::vector<std::string> files = event_files(dir);
  for (size_t f = 0; f < files.size(); ++f) {
    for (std::string& ev : read_tfrecords(files[f])) {
      const EventInfo info = event_info(ev);
      if (!info.ok) continue;
      if (info.session_start) {
        by_step.erase(by_step.lower_bound(info.step), by_step.end());
      } else if (info.summary) {
        Step& s = by_step[info.step];
        if (s.file != f) s = Step{f, {}};
        s.events.push_back(std::move(ev));
      }
    }
  }
  std::vector<std::string> out;
  for (auto& [step, s] : by_step)
    if (step <= last_step)
      for (auto& ev : s.events) out.push_back(std::move(ev));
  return out;
}

}  // namespace principia::trainer
