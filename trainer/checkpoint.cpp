#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/run_lock.h"
#include "core/sha256.h"
#include "core/text.h"

namespace principia::trainer {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifest = "MANIFEST";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "state.json";
constexpr const char* kLatest = "latest";

// ---- small file helpers ----
// Regular files under root as sorted relative paths (generic '/' form).
std::vector<std::string> list_files(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).generic_string());
  std::sort(out.begin(), out.end());
  return out;
}

void fsync_tree(const fs::path& root) {
  for (const auto& e : fs::recursive_directory_iterator(root)) fsync_path(e.path().string());
  fsync_path(root.string());
}

std::optional<int64_t> parse_step_dir(const std::string& name) {
  // "step-" + digits only (temp dirs carry a suffix and are not checkpoints)
  if (name.size() <= 5 || name.compare(0, 5, "step-") != 0) return std::nullopt;
  for (size_t i = 5; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  try {
    return std::stoll(name.substr(5));
  } catch (...) {
    return std::nullopt;
  }
}

// Checkpoint directories by step, newest first.
std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& root) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    if (auto step = parse_step_dir(e.path().filename().string())) out.emplace_back(*step, e.path());
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.first > b.first; });
  return out;
}

std::string manifest_body(const fs::path& dir) {
  std::string body;
  for (const std::string& rel : list_files(dir)) {
    if (rel == kManifest) continue;
    if (rel.find('\n') != std::string::npos)
      throw Error((dir / rel).string() + ": a file name with a newline cannot go in a MANIFEST");
    const fs::path p = dir / rel;
    body += std::to_string(fs::file_size(p)) + " " + sha256_file_hex(p.string()) + " " + rel + "\n";
  }
  return body;
}

// ---- safetensors dtypes ----
struct DtypeName {
  at::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kDouble, "F64"}, {at::kFloat, "F32"}, {at::kHalf, "F16"}, {at::kBFloat16, "BF16"},
    {at::kLong, "I64"},   {at::kInt, "I32"},   {at::kShort, "I16"}, {at::kChar, "I8"},
    {at::kByte, "U8"},    {at::kBool, "BOOL"}};

}  // namespace

// ------------------------------------------------------------------------------------------
// TrainState

nlohmann::json to_json(const TrainState& s) {
  nlohmann::ordered_json j;
  j["step"] = s.step;
  j["world_size"] = s.world_size;
  j["config_hash"] = s.config_hash;
  j["data_cursor"] = s.data_cursor;
  j["extra"] = s.extra;
  return nlohmann::json::parse(j.dump());  // plain json for the caller (keys sorted)
}

TrainState train_state_from_json(const nlohmann::json& j, const std::string& file) {
  auto fail = [&](const std::string& key, const std::string& what) -> Error {
    return Error(SourceLocation{file, 0, 0}, key, what);
  };
  if (!j.is_object()) throw fail("", "state must be a JSON object");
  auto need = [&](const char* key) -> const nlohmann::json& {
    auto it = j.find(key);
    if (it == j.end()) throw fail(key, "missing");
    return *it;
  };
  TrainState s;
  const auto& step = need("step");
  if (!step.is_number_integer() || step.get<int64_t>() < 0)
    throw fail("step", "must be a non-negative integer");
  s.step = step.get<int64_t>();
  const auto& ws = need("world_size");
  if (!ws.is_number_integer() || ws.get<int64_t>() < 1) throw fail("world_size", "must be >= 1");
  s.world_size = ws.get<int64_t>();
  const auto& hash = need("config_hash");
  if (!hash.is_string()) throw fail("config_hash", "must be a string");
  s.config_hash = hash.get<std::string>();
  s.data_cursor = need("data_cursor");
  // "rngs" and "torch_rng", written by earlier versions and never read, are ignored.
  if (auto it = j.find("extra"); it != j.end()) s.extra = *it;
  return s;
}

// ------------------------------------------------------------------------------------------
// safetensors

namespace {

// A file written piece by piece, fsynced and closed at the end (a checkpoint's parts are then
// renamed into place as a directory, so no temp name is needed here).
class SyncedWriter {
 public:
  explicit SyncedWriter(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  }
  ~SyncedWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  void append(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::write(fd_, p, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(path_ + ": write failed (" + std::strerror(errno) + ")");
      p += n;
      size -= size_t(n);
    }
  }
  void finish() {
    if (::fsync(fd_) != 0) throw Error(path_ + ": fsync failed (" + std::strerror(errno) + ")");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(path_ + ": close failed (" + std::strerror(errno) + ")");
  }

 private:
  std::string path_;
  int fd_ = -1;
};

const char* safetensors_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  return nullptr;
}

// Reads exactly `size` bytes at `offset`; false on a short file.
bool read_at(int fd, void* out, size_t size, uint64_t offset) {
  char* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::pread(fd, p, size, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= size_t(n);
    offset += uint64_t(n);
  }
  return true;
}

}  // namespace

void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors) {
  // The header needs only shapes and dtypes; the data is then streamed one tensor at a time,
  // so writing holds one host copy of a tensor, never the whole file.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {  // std::map: sorted names, deterministic bytes
    const char* dtype = safetensors_dtype(t.scalar_type());
    if (!dtype) throw Error(path + ": tensor '" + name + "' has an unsupported dtype");
    const uint64_t nbytes = uint64_t(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section
  SyncedWriter out(path);
  uint8_t hlen[8];
  for (int i = 0; i < 8; ++i) hlen[i] = uint8_t((uint64_t(h.size()) >> (8 * i)) & 0xFF);
  out.append(hlen, 8);
  out.append(h.data(), h.size());
  for (const auto& [name, t0] : tensors) {
    const at::Tensor t = t0.detach().to(torch::kCPU).contiguous();
    out.append(t.data_ptr(), size_t(t.numel()) * t.element_size());
  }
  out.finish();
}

std::map<std::string, at::Tensor> read_safetensors(const std::string& path,
                                                   const std::function<bool(const std::string&)>& wanted) {
  auto bad = [&](const std::string& what) { return Error(path + ": not a valid safetensors file: " + what); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read its size (" + ec.message() + ")");
  if (file_size < 8) throw bad("shorter than its 8-byte header length");
  uint8_t len_bytes[8];
  if (!read_at(fd, len_bytes, 8, 0)) throw bad("shorter than its 8-byte header length");
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= uint64_t(len_bytes[i]) << (8 * i);
  if (hlen > file_size - 8) throw bad("header length " + std::to_string(hlen) + " exceeds the file");
  std::string header_text(size_t(hlen), '\0');
  if (!read_at(fd, header_text.data(), header_text.size(), 8)) throw bad("header is truncated");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    throw bad("header is not JSON (" + json_error_message(e.what()) + ")");
  }
  if (!header.is_object()) throw bad("header is not an object");
  const uint64_t data_size = file_size - 8 - hlen;
  const uint64_t data_start = 8 + hlen;
  std::map<std::string, at::Tensor> out;
  uint64_t covered = 0;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype = info.at("dtype").get<std::string>();
      std::optional<at::ScalarType> type;
      for (const auto& d : kDtypes)
        if (dtype == d.name) type = d.type;
      if (!type) throw bad("tensor '" + name + "': unsupported dtype " + dtype);
      std::vector<int64_t> shape = info.at("shape").get<std::vector<int64_t>>();
      const auto offs = info.at("data_offsets").get<std::vector<uint64_t>>();
      int64_t numel = 1;
      for (int64_t s : shape) {
        if (s < 0) throw bad("tensor '" + name + "': negative dimension");
        numel *= s;
      }
      const uint64_t nbytes = uint64_t(numel) * c10::elementSize(*type);
      if (offs.size() != 2 || offs[1] < offs[0] || offs[1] - offs[0] != nbytes)
        throw bad("tensor '" + name + "': data_offsets do not match its dtype and shape");
      if (offs[1] > data_size)
        throw bad("tensor '" + name + "': data ends at " + std::to_string(offs[1]) +
                  " but the file holds " + std::to_string(data_size) + " data bytes (truncated?)");
      covered = std::max(covered, offs[1]);
      if (wanted && !wanted(name)) continue;  // checked, not read
      at::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(*type));
      if (nbytes && !read_at(fd, t.data_ptr(), size_t(nbytes), data_start + offs[0]))
        throw bad("tensor '" + name + "': the file ends inside its data (truncated?)");
      out[name] = t;
    } catch (const nlohmann::json::exception& e) {
      throw bad("tensor '" + name + "': " + e.what());
    }
  }
  if (covered != data_size)
    throw bad(std::to_string(data_size - covered) + " trailing bytes after the last tensor");
  return out;
}

// ------------------------------------------------------------------------------------------
// save / verify / find

std::string optimizer_shard_name(int rank, int world_size) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "optimizer-rank-%05d-of-%05d.safetensors", rank, world_size);
  return buf;
}

std::string checkpoint_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "step-%06lld", static_cast<long long>(step));
  return buf;
}

namespace {

// step-N.tmp-PID / step-N.old-PID of writers that died mid-write. A live writer's are left
// alone: the run-directory lock makes one impossible, but a copied or shared folder may not
// have gone through it.
void remove_dead_writers_dirs(const fs::path& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string n = e.path().filename().string();
    size_t at = n.find(".tmp-");
    if (at == std::string::npos) at = n.find(".old-");
    if (n.rfind("step-", 0) != 0 || at == std::string::npos) continue;
    const std::string pid = n.substr(at + 5);
    const bool numeric = !pid.empty() && pid.size() < 12 && pid.find_first_not_of("0123456789") == std::string::npos;
    if (numeric && std::stol(pid) != long(::getpid()) && process_alive(std::stol(pid))) {
      log::warn("checkpoint: leaving ", e.path().string(), " alone: its writer (pid ", pid, ") is alive");
      continue;
    }
    std::error_code rm;
    fs::remove_all(e.path(), rm);
  }
}

}  // namespace

std::string save_checkpoint(const std::string& run_dir, const CheckpointContents& c,
                            int64_t keep_last) {
  if (keep_last < 1) throw Error("checkpoint.keep_last must be >= 1");
  const fs::path root = fs::path(run_dir) / "checkpoints";
  const std::string name = checkpoint_dir_name(c.state.step);
  const fs::path final_dir = root / name;
  const fs::path tmp = root / (name + ".tmp-" + std::to_string(::getpid()));
  try {
    fs::create_directories(root);
    remove_dead_writers_dirs(root);
    fs::create_directory(tmp);
  } catch (const fs::filesystem_error& e) {
    throw Error(root.string() + ": cannot create checkpoint directory (" + e.what() + ")");
  }

  if (c.write_model) {
    fs::create_directory(tmp / "model");
    c.write_model((tmp / "model").string());
  }
  if (c.optimizer_file.empty() || c.optimizer_file.find('/') != std::string::npos)
    throw Error("checkpoint: bad optimizer file name '" + c.optimizer_file + "'");
  write_safetensors((tmp / c.optimizer_file).string(), c.optimizer_state);
  write_file_synced((tmp / kStateFile).string(), to_json(c.state).dump(2) + "\n");
  for (const auto& [rel, bytes] : c.files) {
    const fs::path rp(rel);
    if (rel.empty() || rp.is_absolute() || rel.find("..") != std::string::npos || rel == kManifest)
      throw Error("checkpoint: bad extra file name '" + rel + "'");
    fs::create_directories((tmp / rp).parent_path());
    write_file_synced((tmp / rp).string(), bytes);
  }
  if (c.before_manifest) c.before_manifest(tmp.string());
  fsync_tree(tmp);  // the model writer's files too

  // MANIFEST last: its presence with a good trailer means every listed file was complete.
  const std::string body = manifest_body(tmp);
  write_file_synced((tmp / kManifest).string(), body + "# sha256 " + sha256_hex(body) + "\n");
  fsync_path(tmp.string());

  // Into place. An existing checkpoint of this step (a re-run after resume) is moved aside.
  std::error_code ec;
  if (fs::exists(final_dir, ec)) {
    const fs::path old = root / (name + ".old-" + std::to_string(::getpid()));
    fs::remove_all(old, ec);
    rename_durable(final_dir.string(), old.string());
    rename_durable(tmp.string(), final_dir.string());
    fs::remove_all(old, ec);
  } else {
    rename_durable(tmp.string(), final_dir.string());
  }
  write_file_atomic((root / kLatest).string(), name + "\n");

  // keep_last: the newest checkpoints by step stay (the one just written always does).
  int64_t kept = 0;
  for (const auto& [step, dir] : list_checkpoints(root)) {
    if (dir == final_dir || kept < keep_last - 1) {
      if (dir != final_dir) ++kept;
      continue;
    }
    fs::remove_all(dir, ec);
    if (ec) log::warn("checkpoint: could not remove ", dir.string(), " (", ec.message(), ")");
  }
  remove_dead_writers_dirs(root);
  log::info("checkpoint: wrote ", final_dir.string());
  return final_dir.string();
}

std::string VerifyResult::message(const std::string& dir) const {
  if (ok) return dir + ": ok";
  return (fs::path(dir) / bad_file).string() + ": " + reason;
}

VerifyResult verify_checkpoint(const std::string& dir_str) {
  const fs::path dir(dir_str);
  auto bad = [](const std::string& file, const std::string& reason) {
    return VerifyResult{false, file, reason};
  };
  std::string manifest;
  try {
    manifest = read_file((dir / kManifest).string());
  } catch (const Error&) {
    return bad(kManifest, "missing or unreadable");
  }
  // Split off the trailer "# sha256 <hex>\n".
  const std::string trailer_tag = "# sha256 ";
  const size_t tpos = manifest.rfind(trailer_tag);
  if (tpos == std::string::npos || (tpos != 0 && manifest[tpos - 1] != '\n'))
    return bad(kManifest, "no '# sha256' trailer (truncated?)");
  const std::string body = manifest.substr(0, tpos);
  std::string want = manifest.substr(tpos + trailer_tag.size());
  if (!want.empty() && want.back() == '\n') want.pop_back();
  if (sha256_hex(body) != want) return bad(kManifest, "its own checksum does not match (corrupted)");

  std::istringstream in(body);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const size_t s1 = line.find(' ');
    const size_t s2 = s1 == std::string::npos ? s1 : line.find(' ', s1 + 1);
    if (s2 == std::string::npos)
      return bad(kManifest, "line " + std::to_string(line_no) + " is not '<size> <sha256> <path>'");
    const std::string size_s = line.substr(0, s1), hash = line.substr(s1 + 1, s2 - s1 - 1),
                      rel = line.substr(s2 + 1);
    uint64_t size = 0;
    try {
      size = std::stoull(size_s);
    } catch (...) {
      return bad(kManifest, "line " + std::to_string(line_no) + ": bad size '" + size_s + "'");
    }
    const fs::path p = dir / rel;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return bad(rel, "missing");
    const uint64_t actual = fs::file_size(p, ec);
    if (ec) return bad(rel, "unreadable (" + ec.message() + ")");
    if (actual != size)
      return bad(rel, "size " + std::to_string(actual) + " != " + std::to_string(size) +
                          " in MANIFEST (truncated?)");
    std::string got;
    try {
      got = sha256_file_hex(p.string());
    } catch (const Error& e) {
      return bad(rel, std::string("unreadable (") + e.what() + ")");
    }
    if (got != hash) return bad(rel, "sha256 mismatch (corrupted)");
  }
  return {};
}

LatestCheckpoint find_latest_valid(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  LatestCheckpoint out;
  for (const auto& [step, dir] : list_checkpoints(root)) {
    VerifyResult v = verify_checkpoint(dir.string());
    if (v.ok) {
      out.dir = dir.string();
      out.step = step;
      break;
    }
    std::string msg = "checkpoint " + dir.filename().string() + " is damaged (" +
                      v.message(dir.string()) + "); falling back to the previous one";
    log::warn(msg);
    out.skipped.push_back(std::move(msg));
  }
  if (!out.dir.empty()) {
    std::error_code ec;
    std::string latest;
    if (fs::exists(root / kLatest, ec)) {
      latest = read_file((root / kLatest).string());
      while (!latest.empty() && (latest.back() == '\n' || latest.back() == '\r')) latest.pop_back();
    }
    if (latest != fs::path(out.dir).filename().string() && out.skipped.empty())
      log::warn("checkpoint: ", (root / kLatest).string(), " names ", quote_excerpt(latest, 80), "; resuming from ",
                fs::path(out.dir).filename().string(), " (the newest valid checkpoint)");
  }
  return out;
}

std::string resolve_resume(const std::string& run_dir, const std::string& resume) {
  if (resume.empty()) return "";
  if (resume == "auto") {
    LatestCheckpoint latest = find_latest_valid(run_dir);
    const std::string where = (fs::path(run_dir) / "checkpoints").string();
    if (latest.dir.empty() && latest.skipped.empty())
      log::info("--resume auto: no checkpoint in ", where, ": starting fresh");
    else if (latest.dir.empty())
      log::warn("--resume auto: every checkpoint in ", where, " is damaged (", latest.skipped.size(),
                "): starting fresh");
    return latest.dir;
  }
  std::error_code ec;
  if (!fs::is_directory(resume, ec)) throw Error("--resume " + resume + ": no such checkpoint directory");
  VerifyResult v = verify_checkpoint(resume);
  if (!v.ok) throw Error("--resume: checkpoint is damaged: " + v.message(resume));
  return resume;
}

LoadedCheckpoint load_checkpoint(const std::string& dir, bool read_optimizer) {
  VerifyResult v = verify_checkpoint(dir);
  if (!v.ok) throw Error("checkpoint is damaged: " + v.message(dir));
  LoadedCheckpoint out;
  out.dir = dir;
  std::error_code ec;
  if (fs::is_directory(fs::path(dir) / "model", ec)) out.model_dir = (fs::path(dir) / "model").string();
  const std::string state_path = (fs::path(dir) / kStateFile).string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(state_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(state_path + ": not valid JSON (" + json_error_message(e.what()) + ")");
  }
  out.state = train_state_from_json(j, state_path);
  if (read_optimizer) out.optimizer_state = read_optimizer_state(dir);
  return out;
}

std::map<std::string, at::Tensor> read_optimizer_state(const std::string& dir,
                                                       const std::function<bool(const std::string&)>& wanted) {
  std::map<std::string, at::Tensor> state;
  std::error_code ec;
  const fs::path single = fs::path(dir) / kOptimizerFile;
  if (fs::exists(single, ec)) return read_safetensors(single.string(), wanted);
  // ZeRO-1 shards: all of optimizer-rank-*-of-W must be there (the MANIFEST vouched for each).
  int world = -1;
  std::vector<std::string> shards;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    int r = 0, w = 0;
    const std::string name = e.path().filename().string();
    if (std::sscanf(name.c_str(), "optimizer-rank-%d-of-%d.safetensors", &r, &w) != 2 || r < 0 || w < 1 ||
        name != optimizer_shard_name(r, w))
      continue;
    if (world >= 0 && w != world) throw Error(dir + ": optimizer shards of different world sizes (" + name + ")");
    world = w;
    shards.push_back(e.path().string());
  }
  if (shards.empty()) throw Error(dir + ": no optimizer state (" + kOptimizerFile + " or optimizer-rank-* shards)");
  if (int(shards.size()) != world)
    throw Error(dir + ": " + std::to_string(shards.size()) + " optimizer shards, expected " + std::to_string(world));
  for (int r = 0; r < world; ++r) {
    const std::string path = (fs::path(dir) / optimizer_shard_name(r, world)).string();
    if (!fs::exists(path, ec)) throw Error(path + ": optimizer shard missing");
    for (auto& [k, t] : read_safetensors(path, wanted))
      if (!state.emplace(k, t).second) throw Error(path + ": '" + k + "' is also in another shard");
  }
  return state;
}

}  // namespace principia::trainer
