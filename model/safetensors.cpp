#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace principia::model {
namespace {

struct DTypeInfo {
  StDType type;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {StDType::kF64, "F64", 8},  {StDType::kF32, "F32", 4},   {StDType::kF16, "F16", 2},
    {StDType::kBF16, "BF16", 2}, {StDType::kI64, "I64", 8},  {StDType::kI32, "I32", 4},
    {StDType::kI16, "I16", 2},  {StDType::kI8, "I8", 1},     {StDType::kU8, "U8", 1},
    {StDType::kBool, "BOOL", 1}, {StDType::kF8E4M3, "F8_E4M3", 1},
    {StDType::kF8E5M2, "F8_E5M2", 1},
};

// The header is JSON text describing tensors; anything past this is not a real checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw Error("safetensors file " + path + ": " + what);
}

}  // namespace

const char* st_dtype_name(StDType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.name;
  return "?";
}
size_t st_dtype_size(StDType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d.size;
  return 0;
}
bool parse_st_dtype(const std::string& name, StDType* out) {
  for (const auto& d : kDTypes)
    if (name == d.name) {
      *out = d.type;
      return true;
    }
  return false;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) bad(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    bad(path, "cannot stat");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ < 8) {
    ::close(fd);
    bad(path, "truncated: " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
  }
  map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    bad(path, std::string("mmap failed: ") + std::strerror(errno));
  }
  try {
    const auto* base = static_cast<const std::byte*>(map_);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(base[i]);
    if (n > kMaxHeaderBytes)
      bad(path, "bad header length " + std::to_string(n) + " (larger than 100 MiB)");
    if (n > size_ - 8)
      bad(path, "bad header length " + std::to_string(n) + ": the file has only " +
                    std::to_string(size_ - 8) + " bytes after it (truncated?)");
    if (n < 2) bad(path, "bad header length " + std::to_string(n));
    std::string header(reinterpret_cast<const char*>(base + 8), n);
    nlohmann::json j = nlohmann::json::parse(header, nullptr, false);
    if (j.is_discarded()) bad(path, "header is not valid JSON");
    if (!j.is_object()) bad(path, "header is not a JSON object");
    const size_t data_start = 8 + n;
    const size_t data_size = size_ - data_start;
    struct Span {
      size_t begin, end, index;
    };
    std::vector<Span> spans;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& name = it.key();
      const auto& e = it.value();
      if (name == "__metadata__") {
        if (!e.is_object()) bad(path, "__metadata__ is not an object");
        for (auto m = e.begin(); m != e.end(); ++m)
          metadata_[m.key()] = m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
        continue;
      }
      auto tbad = [&](const std::string& what) { bad(path, "tensor '" + name + "': " + what); };
      if (!e.is_object()) tbad("entry is not an object");
      TensorView t;
      t.name = name;
      if (!e.contains("dtype") || !e["dtype"].is_string()) tbad("missing dtype");
      if (!parse_st_dtype(e["dtype"].get<std::string>(), &t.dtype))
        tbad("unknown dtype '" + e["dtype"].get<std::string>() + "'");
      if (!e.contains("shape") || !e["shape"].is_array()) tbad("missing shape");
      __int128 numel = 1;
      for (const auto& d : e["shape"]) {
        if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
          tbad("shape holds a non-integer or negative dimension: " + e["shape"].dump());
        t.shape.push_back(d.get<int64_t>());
        numel *= d.get<int64_t>();
        if (numel > (__int128(1) << 62)) tbad("shape is absurdly large: " + e["shape"].dump());
      }
      const auto& off = e.contains("data_offsets") ? e["data_offsets"] : nlohmann::json();
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned())
        tbad("data_offsets must be [begin, end] with non-negative integers");
      uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
      if (b > en) tbad("data_offsets begin " + std::to_string(b) + " > end " + std::to_string(en));
      __int128 expect = numel * static_cast<__int128>(st_dtype_size(t.dtype));
      if (static_cast<__int128>(en - b) != expect)
        tbad("shape " + e["shape"].dump() + " x " + st_dtype_name(t.dtype) + " needs " +
             std::to_string(static_cast<uint64_t>(expect)) + " bytes but data_offsets span " +
             std::to_string(en - b));
      if (en > data_size)
        tbad("data ends at byte " + std::to_string(en) + " but the file holds only " +
             std::to_string(data_size) + " data bytes (truncated)");
      t.data = base + data_start + b;
      t.nbytes = en - b;
      spans.push_back({b, en, tensors_.size()});
      index_[name] = tensors_.size();
      tensors_.push_back(std::move(t));
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
    size_t cursor = 0;
    for (const auto& s : spans) {
      const std::string& name = tensors_[s.index].name;
      if (s.begin < cursor)
        bad(path, "tensor '" + name + "': data_offsets [" + std::to_string(s.begin) + ", " +
                      std::to_string(s.end) + "] overlap the previous tensor (ends at " +
                      std::to_string(cursor) + ")");
      if (s.begin > cursor)
        bad(path, "tensor '" + name + "': gap before data_offsets begin " +
                      std::to_string(s.begin) + " (previous data ends at " +
                      std::to_string(cursor) + "); offsets must be contiguous");
      cursor = s.end;
    }
    if (cursor != data_size)
      bad(path, "the tensors cover " + std::to_string(cursor) + " data bytes but the file holds " +
                    std::to_string(data_size) + " (trailing bytes)");
  } catch (...) {
    ::munmap(map_, size_);
    map_ = nullptr;
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, size_);
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorView& SafetensorsFile::at(const std::string& name) const {
  const TensorView* t = find(name);
  if (!t) bad(path_, "no tensor named '" + name + "'");
  return *t;
}

void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    if (static_cast<size_t>(numel) * st_dtype_size(t.dtype) != t.nbytes)
      throw Error("writing " + path + ": tensor '" + t.name + "' has " + std::to_string(t.nbytes) +
                  " bytes, its shape needs " +
                  std::to_string(static_cast<size_t>(numel) * st_dtype_size(t.dtype)));
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string text = header.dump();
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot write " + tmp);
    uint64_t n = text.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : tensors)
      out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(t.nbytes));
    out.flush();
    if (!out) throw Error("writing " + tmp + " failed (disk full?)");
  }
  fsync_path(tmp);
  rename_durable(tmp, path);
}

}  // namespace principia::model
