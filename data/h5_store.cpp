#include "data/h5_store.h"

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "data/validate.h"

namespace principia::data {
namespace {

const char* kFormat = "principia-records";
const char* kTextFields[] = {"id", "principle", "prompt", "domain", "category", "meta"};

// The Debian HDF5 build is not thread-safe; two loaders' prefetch threads may read two stores at
// once, so every public entry point holds this lock (HDF5 calls are serialised process-wide).
std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex mu;
  return mu;
}
#define PRINCIPIA_HDF5_LOCK std::lock_guard<std::recursive_mutex> hdf5_lock(hdf5_mutex())

// HDF5 prints its own error stack to stderr by default; our errors say what went wrong.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Owns an hid_t and closes it with the matching H5*close.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Hid() { reset(); }
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

template <class T> hid_t mem_type();
template <> hid_t mem_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t mem_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t mem_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t mem_type<double>() { return H5T_NATIVE_DOUBLE; }
template <class T> hid_t file_type();
template <> hid_t file_type<uint8_t>() { return H5T_STD_U8LE; }
template <> hid_t file_type<int32_t>() { return H5T_STD_I32LE; }
template <> hid_t file_type<int64_t>() { return H5T_STD_I64LE; }
template <> hid_t file_type<double>() { return H5T_IEEE_F64LE; }

void check(herr_t status, const std::string& path, const std::string& what) {
  if (status < 0) throw Error(path + ": HDF5 " + what + " failed");
}

// An extendible 1-D dataset written in appended blocks.
template <class T>
class AppendDataset {
 public:
  AppendDataset(hid_t file, const std::string& name, hsize_t chunk, int deflate,
                const std::string& path)
      : path_(path), name_(name), chunk_(chunk) {
    hsize_t dims = 0, maxdims = H5S_UNLIMITED;
    Hid space(H5Screate_simple(1, &dims, &maxdims), H5Sclose);
    Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    check(H5Pset_chunk(dcpl.get(), 1, &chunk_), path, "set_chunk " + name);
    if (sizeof(T) > 1) check(H5Pset_shuffle(dcpl.get()), path, "set_shuffle " + name);
    if (deflate > 0) check(H5Pset_deflate(dcpl.get(), unsigned(deflate)), path, "deflate " + name);
    ds_ = Hid(H5Dcreate2(file, name.c_str(), file_type<T>(), space.get(), H5P_DEFAULT, dcpl.get(),
                         H5P_DEFAULT),
              H5Dclose);
    if (!ds_.valid()) throw Error(path + ": cannot create dataset " + name);
  }
  void push(T v) {
    buf_.push_back(v);
    if (buf_.size() >= chunk_) flush();
  }
  void push(const std::string& bytes) {
    for (char c : bytes) push(static_cast<T>(static_cast<unsigned char>(c)));
  }
  void flush() {
    if (buf_.empty()) return;
    hsize_t start = size_, count = buf_.size(), total = size_ + buf_.size();
    check(H5Dset_extent(ds_.get(), &total), path_, "extend " + name_);
    Hid fspace(H5Dget_space(ds_.get()), H5Sclose);
    check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr),
          path_, "select " + name_);
    Hid mspace(H5Screate_simple(1, &count, nullptr), H5Sclose);
    check(H5Dwrite(ds_.get(), mem_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, buf_.data()),
          path_, "write " + name_);
    size_ = total;
    buf_.clear();
  }
  uint64_t size() const { return size_ + buf_.size(); }

 private:
  std::string path_, name_;
  hsize_t chunk_;
  Hid ds_;
  std::vector<T> buf_;
  hsize_t size_ = 0;
};

struct RaggedWriter {
  AppendDataset<uint8_t> bytes;
  AppendDataset<int64_t> offsets;
  RaggedWriter(hid_t f, const std::string& field, const H5WriteOptions& o, const std::string& path)
      : bytes(f, field + "_bytes", hsize_t(o.chunk_bytes), o.deflate_level, path),
        offsets(f, field + "_offsets", hsize_t(o.chunk_items), o.deflate_level, path) {
    offsets.push(0);
  }
  void add(const std::string& s) {
    bytes.push(s);
    offsets.push(static_cast<int64_t>(bytes.size()));
  }
  void flush() {
    bytes.flush();
    offsets.flush();
  }
};

void write_int_attribute(hid_t obj, const char* name, hid_t type, const void* value,
                         const std::string& path) {
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  Hid attr(H5Acreate2(obj, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) throw Error(path + ": cannot create attribute " + name);
  check(H5Awrite(attr.get(), type, value), path, std::string("write attribute ") + name);
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value,
                            const std::string& path) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  Hid attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) throw Error(path + ": cannot create attribute " + name);
  check(H5Awrite(attr.get(), type.get(), value.data()), path, std::string("write attribute ") + name);
}

}  // namespace

// ---------------------------------------------------------------- writer

struct H5Writer::Impl {
  std::string path, tmp;
  Hid file;
  std::map<std::string, std::unique_ptr<RaggedWriter>> text;
  std::unique_ptr<RaggedWriter> names, texts;
  std::unique_ptr<AppendDataset<int64_t>> response_offsets, prompt_tokens;
  std::unique_ptr<AppendDataset<double>> scores;
  std::unique_ptr<AppendDataset<int32_t>> ranking;
  int64_t candidates = 0;
  bool finished = false;
};

H5Writer::H5Writer(const std::string& path, const H5WriteOptions& o) : impl_(new Impl) {
  PRINCIPIA_HDF5_LOCK;
  silence_hdf5();
  impl_->path = path;
  impl_->tmp = path + ".tmp";
  // The 1.10 file format indexes chunks of extendible datasets with extensible arrays instead of
  // version-1 B-trees: much cheaper chunk lookups for random record reads.
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  impl_->file = Hid(H5Fcreate(impl_->tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!impl_->file.valid()) throw Error(impl_->tmp + ": cannot create HDF5 file");
  hid_t f = impl_->file.get();
  for (const char* field : kTextFields)
    impl_->text[field] = std::make_unique<RaggedWriter>(f, field, o, impl_->tmp);
  impl_->names = std::make_unique<RaggedWriter>(f, "name", o, impl_->tmp);
  impl_->texts = std::make_unique<RaggedWriter>(f, "text", o, impl_->tmp);
  impl_->response_offsets = std::make_unique<AppendDataset<int64_t>>(
      f, "response_offsets", hsize_t(o.chunk_items), o.deflate_level, impl_->tmp);
  impl_->response_offsets->push(0);
  impl_->prompt_tokens = std::make_unique<AppendDataset<int64_t>>(
      f, "prompt_tokens", hsize_t(o.chunk_items), o.deflate_level, impl_->tmp);
  impl_->scores = std::make_unique<AppendDataset<double>>(f, "score", hsize_t(o.chunk_items),
                                                          o.deflate_level, impl_->tmp);
  impl_->ranking = std::make_unique<AppendDataset<int32_t>>(f, "ranking", hsize_t(o.chunk_items),
                                                            o.deflate_level, impl_->tmp);
}

H5Writer::~H5Writer() {
  PRINCIPIA_HDF5_LOCK;
  if (impl_ && !impl_->finished) {
    std::string tmp = impl_->tmp;
    impl_.reset();  // closes the datasets and the file first
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
  }
}

void H5Writer::append(const Record& r, int64_t prompt_tokens) {
  PRINCIPIA_HDF5_LOCK;
  Impl& m = *impl_;
  m.text["id"]->add(r.id);
  m.text["principle"]->add(r.principle);
  m.text["prompt"]->add(r.prompt);
  m.text["domain"]->add(r.domain);
  m.text["category"]->add(r.category);
  m.text["meta"]->add(r.meta.empty() ? std::string() : r.meta.dump());
  for (size_t c = 0; c < r.responses.size(); ++c) {
    m.names->add(r.responses[c].first);
    m.texts->add(r.responses[c].second);
    m.scores->push(r.scores[c]);
  }
  for (int idx : r.ranking_indices()) m.ranking->push(idx);
  m.candidates += static_cast<int64_t>(r.responses.size());
  m.response_offsets->push(m.candidates);
  m.prompt_tokens->push(prompt_tokens);
  ++count_;
}

void H5Writer::finish() {
  PRINCIPIA_HDF5_LOCK;
  Impl& m = *impl_;
  for (auto& [k, w] : m.text) w->flush();
  m.names->flush();
  m.texts->flush();
  m.response_offsets->flush();
  m.prompt_tokens->flush();
  m.scores->flush();
  m.ranking->flush();
  hid_t f = m.file.get();
  int32_t version = kH5SchemaVersion;
  write_int_attribute(f, "schema_version", H5T_STD_I32LE, &version, m.tmp);
  write_int_attribute(f, "count", H5T_STD_I64LE, &count_, m.tmp);
  write_string_attribute(f, "format", kFormat, m.tmp);
  m.text.clear();
  m.names.reset();
  m.texts.reset();
  m.response_offsets.reset();
  m.prompt_tokens.reset();
  m.scores.reset();
  m.ranking.reset();
  check(H5Fflush(f, H5F_SCOPE_GLOBAL), m.tmp, "flush");
  m.file.reset();
  fsync_path(m.tmp);
  rename_durable(m.tmp, m.path);
  m.finished = true;
}

// ---------------------------------------------------------------- reader

struct H5Source::Impl {
  std::string path;
  Hid file;
  std::map<std::string, Hid> ds;

  std::map<std::string, uint64_t> lengths;  // the file is read-only: cached at open

  hid_t dataset(const std::string& name) const { return ds.at(name).get(); }
  uint64_t length(const std::string& name) const {
    auto it = lengths.find(name);
    if (it != lengths.end()) return it->second;
    Hid space(H5Dget_space(dataset(name)), H5Sclose);
    hsize_t n = 0;
    if (!space.valid() || H5Sget_simple_extent_ndims(space.get()) != 1 ||
        H5Sget_simple_extent_dims(space.get(), &n, nullptr) < 0)
      throw Error(path + ": dataset " + name + " is not one-dimensional");
    return n;
  }
  template <class T>
  std::vector<T> read(const std::string& name, uint64_t start, uint64_t count) const {
    // Bounds first: corrupt offsets must give an Error, not a huge allocation.
    uint64_t have = length(name);
    if (start > have || count > have - start)
      throw Error(path + ": " + name + "[" + std::to_string(start) + ".." +
                  std::to_string(start + count) + ") is past its " + std::to_string(have) +
                  " entries (corrupt store)");
    std::vector<T> out(count);
    if (count == 0) return out;
    hid_t d = dataset(name);
    Hid fspace(H5Dget_space(d), H5Sclose);
    hsize_t s = start, c = count;
    Hid mspace(H5Screate_simple(1, &c, nullptr), H5Sclose);
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, &s, nullptr, &c, nullptr) < 0 ||
        H5Dread(d, mem_type<T>(), mspace.get(), fspace.get(), H5P_DEFAULT, out.data()) < 0)
      throw Error(path + ": cannot read " + name + "[" + std::to_string(start) + ".." +
                  std::to_string(start + count) + ") (truncated or corrupt file?)");
    return out;
  }
  std::string ragged(const std::string& field, uint64_t i) const {
    auto off = read<int64_t>(field + "_offsets", i, 2);
    if (off[0] < 0 || off[1] < off[0])
      throw Error(path + ": corrupt offsets in " + field + "_offsets at " + std::to_string(i));
    auto bytes = read<uint8_t>(field + "_bytes", uint64_t(off[0]), uint64_t(off[1] - off[0]));
    return std::string(bytes.begin(), bytes.end());
  }
};

H5Source::H5Source(const std::string& path) : path_(path), impl_(new Impl) {
  PRINCIPIA_HDF5_LOCK;
  silence_hdf5();
  impl_->path = path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such file");
#if H5_VERSION_GE(1, 12, 0)
  if (H5Fis_accessible(path.c_str(), H5P_DEFAULT) <= 0)
#else
  if (H5Fis_hdf5(path.c_str()) <= 0)
#endif
    throw Error(path + ": not an HDF5 file (or truncated before its header)");
  impl_->file = Hid(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!impl_->file.valid()) throw Error(path + ": cannot open as HDF5 (truncated or corrupt?)");
  hid_t f = impl_->file.get();
  if (H5Aexists(f, "schema_version") <= 0 || H5Aexists(f, "format") <= 0)
    throw Error(path + ": an HDF5 file but not a principia record store (no schema_version/format "
                       "attribute; make one with `principia data pack`)");
  {
    Hid attr(H5Aopen(f, "schema_version", H5P_DEFAULT), H5Aclose);
    int32_t version = -1;
    if (!attr.valid() || H5Aread(attr.get(), H5T_NATIVE_INT32, &version) < 0)
      throw Error(path + ": cannot read schema_version");
    if (version != kH5SchemaVersion)
      throw Error(path + ": schema_version " + std::to_string(version) + ", this build reads " +
                  std::to_string(kH5SchemaVersion) + " (repack the JSONL)");
  }
  std::vector<std::string> names = {"response_offsets", "prompt_tokens", "score", "ranking"};
  for (const char* field : kTextFields) {
    names.push_back(std::string(field) + "_bytes");
    names.push_back(std::string(field) + "_offsets");
  }
  for (const char* field : {"name", "text"}) {
    names.push_back(std::string(field) + "_bytes");
    names.push_back(std::string(field) + "_offsets");
  }
  for (const auto& n : names) {
    if (H5Lexists(f, n.c_str(), H5P_DEFAULT) <= 0)
      throw Error(path + ": missing dataset " + n + " (not a complete principia store)");
    Hid d(H5Dopen2(f, n.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) throw Error(path + ": cannot open dataset " + n);
    impl_->ds.emplace(n, std::move(d));
    impl_->lengths[n] = impl_->length(n);
  }
  // Consistency: N from prompt_tokens; every offsets array ends at its bytes array's length.
  count_ = static_cast<int64_t>(impl_->length("prompt_tokens"));
  auto expect_len = [&](const std::string& n, uint64_t want) {
    if (impl_->length(n) != want)
      throw Error(path + ": dataset " + n + " has " + std::to_string(impl_->length(n)) +
                  " entries, expected " + std::to_string(want) + " (corrupt store)");
  };
  expect_len("response_offsets", uint64_t(count_) + 1);
  for (const char* field : kTextFields) expect_len(std::string(field) + "_offsets", uint64_t(count_) + 1);
  int64_t m = impl_->read<int64_t>("response_offsets", uint64_t(count_), 1)[0];
  if (m < 0) throw Error(path + ": corrupt response_offsets");
  for (const char* field : {"name", "text"}) expect_len(std::string(field) + "_offsets", uint64_t(m) + 1);
  expect_len("score", uint64_t(m));
  expect_len("ranking", uint64_t(m));
  for (const char* field : {"id", "principle", "prompt", "domain", "category", "meta", "name", "text"}) {
    uint64_t n = impl_->length(std::string(field) + "_offsets");
    int64_t last = impl_->read<int64_t>(std::string(field) + "_offsets", n - 1, 1)[0];
    expect_len(std::string(field) + "_bytes", uint64_t(std::max<int64_t>(last, 0)));
  }
}

H5Source::~H5Source() {
  PRINCIPIA_HDF5_LOCK;
  impl_.reset();
}

Record H5Source::get(int64_t i) const {
  PRINCIPIA_HDF5_LOCK;
  if (i < 0 || i >= count_)
    throw Error(path_ + ": record index " + std::to_string(i) + " out of range (" +
                std::to_string(count_) + " records)");
  const Impl& m = *impl_;
  uint64_t u = uint64_t(i);
  Record r;
  r.id = m.ragged("id", u);
  r.principle = m.ragged("principle", u);
  r.prompt = m.ragged("prompt", u);
  r.domain = m.ragged("domain", u);
  r.category = m.ragged("category", u);
  std::string meta = m.ragged("meta", u);
  if (!meta.empty()) {
    r.meta = ordered_json::parse(meta, nullptr, false);
    if (r.meta.is_discarded() || !r.meta.is_object())
      throw Error(path_ + ": record " + std::to_string(i) + ": meta is not a JSON object");
  }
  auto ro = m.read<int64_t>("response_offsets", u, 2);
  if (ro[0] < 0 || ro[1] < ro[0]) throw Error(path_ + ": corrupt response_offsets at " + std::to_string(i));
  uint64_t c0 = uint64_t(ro[0]), k = uint64_t(ro[1] - ro[0]);
  if (k > kMaxResponses) throw Error(path_ + ": record " + std::to_string(i) + ": corrupt response_offsets");
  auto name_off = m.read<int64_t>("name_offsets", c0, k + 1);
  auto text_off = m.read<int64_t>("text_offsets", c0, k + 1);
  for (uint64_t c = 0; c < k; ++c)
    if (name_off[c + 1] < name_off[c] || text_off[c + 1] < text_off[c] || name_off[0] < 0 ||
        text_off[0] < 0)
      throw Error(path_ + ": record " + std::to_string(i) + ": corrupt name/text offsets");
  auto name_bytes = m.read<uint8_t>("name_bytes", uint64_t(name_off[0]), uint64_t(name_off[k] - name_off[0]));
  auto text_bytes = m.read<uint8_t>("text_bytes", uint64_t(text_off[0]), uint64_t(text_off[k] - text_off[0]));
  r.scores = m.read<double>("score", c0, k);
  auto ranking = m.read<int32_t>("ranking", c0, k);
  for (uint64_t c = 0; c < k; ++c) {
    auto slice = [](const std::vector<uint8_t>& b, const std::vector<int64_t>& off, uint64_t c) {
      return std::string(b.begin() + (off[c] - off[0]), b.begin() + (off[c + 1] - off[0]));
    };
    r.responses.emplace_back(slice(name_bytes, name_off, c), slice(text_bytes, text_off, c));
  }
  for (int32_t idx : ranking) {
    if (idx < 0 || uint64_t(idx) >= k)
      throw Error(path_ + ": record " + std::to_string(i) + ": corrupt ranking");
    r.ranking.push_back(r.responses[size_t(idx)].first);
  }
  return r;
}

std::optional<int64_t> H5Source::stored_prompt_tokens(int64_t i) const {
  PRINCIPIA_HDF5_LOCK;
  int64_t t = impl_->read<int64_t>("prompt_tokens", uint64_t(i), 1)[0];
  if (t < 0) return std::nullopt;
  return t;
}

std::vector<int64_t> H5Source::all_prompt_tokens() const {
  PRINCIPIA_HDF5_LOCK;
  return impl_->read<int64_t>("prompt_tokens", 0, uint64_t(count_));
}

std::vector<std::string> H5Source::all_strings(const std::string& field) const {
  PRINCIPIA_HDF5_LOCK;
  auto off = impl_->read<int64_t>(field + "_offsets", 0, uint64_t(count_) + 1);
  auto bytes = impl_->read<uint8_t>(field + "_bytes", 0, uint64_t(off.back()));
  std::vector<std::string> out;
  for (int64_t i = 0; i < count_; ++i)
    out.emplace_back(bytes.begin() + off[size_t(i)], bytes.begin() + off[size_t(i) + 1]);
  return out;
}

// ---------------------------------------------------------------- pack / inspect

PackSummary pack_jsonl(const std::string& in_jsonl, const std::string& out_h5,
                       const PromptTokensFn& prompt_tokens, const SourceOptions& options,
                       const H5WriteOptions& write_options) {
  PackSummary s;
  H5Writer writer(out_h5, write_options);
  s.records = read_records_checked(
      in_jsonl, options.read, options.skip_bad, options.max_errors,
      [&](Record&& r, const LinePosition& at) {
        int64_t tokens = -1;
        if (prompt_tokens) {
          try {
            tokens = static_cast<int64_t>(prompt_tokens(r));
          } catch (const Error& e) {
            throw Error(in_jsonl + ":" + std::to_string(at.line_no) + ": " + e.what());
          }
          s.max_prompt_tokens = std::max(s.max_prompt_tokens, tokens);
        }
        writer.append(r, tokens);
      });
  writer.finish();
  return s;
}

std::string inspect_h5(const std::string& path) {
  H5Source src(path);
  std::ostringstream os;
  int64_t n = src.size();
  os << path << ": " << n << " records (schema_version " << kH5SchemaVersion << ")\n";
  auto count_by = [&](const std::string& field) {
    std::map<std::string, int64_t> counts;
    for (auto& s : src.all_strings(field)) ++counts[s.empty() ? "(none)" : s];
    os << "by " << field << ":\n";
    for (auto& [k, v] : counts) {
      char line[256];
      std::snprintf(line, sizeof line, "  %-40s %10lld\n", k.c_str(), static_cast<long long>(v));
      os << line;
    }
  };
  count_by("domain");
  count_by("category");
  auto tokens = src.all_prompt_tokens();
  int64_t unknown = std::count(tokens.begin(), tokens.end(), int64_t(-1));
  os << "prompt tokens (rendered judge prompt):";
  if (unknown == n) {
    os << " not stored (packed without --tokenizer)\n";
  } else {
    std::vector<int64_t> known;
    for (auto t : tokens)
      if (t >= 0) known.push_back(t);
    std::sort(known.begin(), known.end());
    auto q = [&](double p) { return known[size_t(p * double(known.size() - 1))]; };
    os << " min " << known.front() << ", median " << q(0.5) << ", p95 " << q(0.95) << ", max "
       << known.back() << "\n";
    // Ten equal-width bins from min to max.
    const int kBins = 10;
    int64_t lo = known.front(), hi = known.back();
    int64_t width = std::max<int64_t>(1, (hi - lo + kBins) / kBins);
    std::vector<int64_t> bins(kBins, 0);
    for (auto t : known) ++bins[size_t(std::min<int64_t>(kBins - 1, (t - lo) / width))];
    int64_t peak = *std::max_element(bins.begin(), bins.end());
    for (int k = 0; k < kBins; ++k) {
      int64_t b0 = lo + k * width, b1 = std::min(hi, b0 + width - 1);
      if (b0 > hi) break;
      char line[200];
      int bar = int(40.0 * double(bins[size_t(k)]) / double(peak) + 0.5);
      std::snprintf(line, sizeof line, "  %7lld..%-7lld %10lld %s\n", static_cast<long long>(b0),
                    static_cast<long long>(b1), static_cast<long long>(bins[size_t(k)]),
                    std::string(size_t(bar), '#').c_str());
      os << line;
    }
    if (unknown > 0) os << "  (" << unknown << " records without a stored length)\n";
  }
  return os.str();
}

}  // namespace principia::data
