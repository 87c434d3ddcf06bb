// Data pipeline benchmark: pack and read throughput (records/s) on N synthetic records, and
// random-batch latency through the loader on a large file (JSONL and HDF5 sources).
//   bench_data [--records 100000] [--large 1000000] [--batch 32] [--batches 300] [--dir TMP]
// Files are generated in a temporary directory that is deleted at the end.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/error.h"
#include "data/h5_store.h"
#include "data/loader.h"
#include "data/synth.h"
#include "data/validate.h"

using namespace principia;
using namespace principia::data;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Latency {
  double mean_ms, p50_ms, p99_ms, max_ms;
};

static Latency batch_latency(std::shared_ptr<const RecordSource> src, int64_t batch, int batches) {
  LoaderOptions o;
  o.seed = 1;
  o.batch_size = batch;
  o.prefetch = 0;  // measure the read itself, not the queue
  Loader loader(src, o);
  std::vector<double> ms;
  for (int i = 0; i < batches; ++i) {
    auto t = Clock::now();
    Batch b = loader.next();
    ms.push_back(seconds_since(t) * 1e3);
    if (b.items.size() != size_t(batch)) std::abort();
  }
  std::vector<double> s = ms;
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double v : ms) sum += v;
  return {sum / double(ms.size()), s[s.size() / 2], s[size_t(double(s.size() - 1) * 0.99)], s.back()};
}

static void write_synth(const std::string& path, int64_t n) {
  SynthOptions o;
  o.n = n;
  o.seed = 7;
  o.candidates = 4;
  o.split = SynthSplit::kAll;
  write_synth_jsonl(o, path);
}

int main(int argc, char** argv) {
  int64_t records = 100000, large = 1000000, batch = 32;
  int batches = 300;
  std::string base = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--records") records = std::atoll(argv[i + 1]);
    else if (k == "--large") large = std::atoll(argv[i + 1]);
    else if (k == "--batch") batch = std::atoll(argv[i + 1]);
    else if (k == "--batches") batches = std::atoi(argv[i + 1]);
    else if (k == "--dir") base = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  auto dir = std::filesystem::path(base) / ("principia-bench-data-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  try {
    std::string jsonl = (dir / "r.jsonl").string(), h5 = (dir / "r.h5").string();
    auto t = Clock::now();
    write_synth(jsonl, records);
    double synth_s = seconds_since(t);
    std::printf("synth:            %8lld records in %6.2f s = %9.0f records/s (%.1f MB JSONL)\n",
                (long long)records, synth_s, double(records) / synth_s,
                double(std::filesystem::file_size(jsonl)) / 1e6);

    t = Clock::now();
    int64_t n = 0;
    ReadSummary summary;
    for_each_record(jsonl, {}, summary, [&](Record&&, const LinePosition&) { ++n; });
    double read_jsonl_s = seconds_since(t);
    std::printf("read JSONL (validate+parse): %lld in %6.2f s = %9.0f records/s\n", (long long)n,
                read_jsonl_s, double(n) / read_jsonl_s);

    t = Clock::now();
    pack_jsonl(jsonl, h5, nullptr);
    double pack_s = seconds_since(t);
    std::printf("pack JSONL->HDF5 (no tokenizer): %6.2f s = %9.0f records/s (%.1f MB HDF5)\n", pack_s,
                double(records) / pack_s, double(std::filesystem::file_size(h5)) / 1e6);

    H5Source src(h5);
    t = Clock::now();
    for (int64_t i = 0; i < src.size(); ++i) (void)src.get(i);
    double read_h5_s = seconds_since(t);
    std::printf("read HDF5 sequential:            %6.2f s = %9.0f records/s\n", read_h5_s,
                double(records) / read_h5_s);

    // Large file: random batches.
    std::string big_jsonl = (dir / "big.jsonl").string(), big_h5 = (dir / "big.h5").string();
    t = Clock::now();
    write_synth(big_jsonl, large);
    std::printf("large: synth %lld records in %.1f s\n", (long long)large, seconds_since(t));
    t = Clock::now();
    pack_jsonl(big_jsonl, big_h5, nullptr);
    std::printf("large: pack in %.1f s (%.0f records/s)\n", seconds_since(t), double(large) / seconds_since(t));
    t = Clock::now();
    auto big_src = std::make_shared<H5Source>(big_h5);
    std::printf("large: open HDF5 %.3f s\n", seconds_since(t));
    Latency l = batch_latency(big_src, batch, batches);
    std::printf("random batch of %lld from HDF5 (%lld records): mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                (long long)batch, (long long)large, l.mean_ms, l.p50_ms, l.p99_ms, l.max_ms);
    t = Clock::now();
    auto big_jsrc = std::make_shared<JsonlSource>(big_jsonl);
    std::printf("large: index JSONL %.1f s\n", seconds_since(t));
    Latency lj = batch_latency(big_jsrc, batch, batches);
    std::printf("random batch of %lld from JSONL (%lld records): mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                (long long)batch, (long long)large, lj.mean_ms, lj.p50_ms, lj.p99_ms, lj.max_ms);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_data: %s\n", e.what());
    std::filesystem::remove_all(dir);
    return 2;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
