// The loader: equal shards, deterministic epochs, exact resume for world sizes 1, 2 and 3,
// length filter, prefetch not changing the sequence; both JSONL and HDF5 sources.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "data/h5_store.h"
#include "data/loader.h"
#include "data/synth.h"
#include "tests/common/test_data.h"

namespace principia::data {
namespace {

std::string make_synth(const std::string& name, int64_t n) {
  auto dir = testing::temp_dir(name);
  std::string path = (dir / "d.jsonl").string();
  SynthOptions o;
  o.n = n;
  o.seed = 11;
  write_synth_jsonl(o, path);
  return path;
}

std::vector<std::vector<int64_t>> run_batches(std::shared_ptr<const RecordSource> src,
                                              LoaderOptions o, Cursor start, int steps,
                                              Cursor* end = nullptr) {
  Loader loader(src, o, start);
  std::vector<std::vector<int64_t>> out;
  for (int s = 0; s < steps; ++s) {
    Batch b = loader.next();
    EXPECT_EQ(b.items.size(), size_t(o.batch_size));
    for (size_t k = 0; k < b.items.size(); ++k)
      EXPECT_EQ(b.items[k].id, src->get(b.indices[k]).id);  // items are the indexed records
    out.push_back(b.indices);
  }
  if (end) *end = loader.cursor();
  return out;
}

TEST(Loader, ShardsAreEqualDisjointAndCoverAllButTheRemainder) {
  auto src = std::make_shared<JsonlSource>(make_synth("loader_shards", 50));
  for (int world : {1, 2, 3}) {
    std::set<int64_t> seen;
    int64_t per_rank = 50 / world;
    for (int rank = 0; rank < world; ++rank) {
      LoaderOptions o;
      o.seed = 5;
      o.rank = rank;
      o.world_size = world;
      o.batch_size = 1;
      Loader loader(src, o);
      EXPECT_EQ(loader.per_rank(), per_rank);
      for (int64_t k = 0; k < per_rank; ++k) {
        Batch b = loader.next();
        EXPECT_TRUE(seen.insert(b.indices[0]).second) << "index served twice in one epoch";
      }
      EXPECT_EQ(loader.cursor(), (Cursor{1, 0}));
    }
    EXPECT_EQ(int64_t(seen.size()), per_rank * world);
  }
}

TEST(Loader, EpochsReshuffleDeterministically) {
  auto src = std::make_shared<JsonlSource>(make_synth("loader_epochs", 30));
  LoaderOptions o;
  o.seed = 1;
  o.batch_size = 30;
  auto a = run_batches(src, o, {}, 3);
  auto b = run_batches(src, o, {}, 3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[1]);  // a new order each epoch
  std::set<int64_t> s(a[1].begin(), a[1].end());
  EXPECT_EQ(s.size(), 30u);
  o.seed = 2;
  EXPECT_NE(run_batches(src, o, {}, 1)[0], a[0]);
  o.shuffle = false;
  auto plain = run_batches(src, o, {}, 1)[0];
  for (int64_t i = 0; i < 30; ++i) EXPECT_EQ(plain[size_t(i)], i);
}

void check_resume(std::shared_ptr<const RecordSource> src) {
  for (int world : {1, 2, 3}) {
    for (int rank = 0; rank < world; ++rank) {
      for (int64_t prefetch : {0, 3}) {
        LoaderOptions o;
        o.seed = 42;
        o.rank = rank;
        o.world_size = world;
        o.batch_size = 4;  // 61 records: batches straddle epoch ends for every world size
        o.prefetch = prefetch;
        const int total = 25, cut = 11;
        auto full = run_batches(src, o, {}, total);
        // Interrupted run: take `cut` batches, save the cursor through JSON, resume.
        Loader first(src, o);
        std::vector<std::vector<int64_t>> resumed;
        for (int s = 0; s < cut; ++s) resumed.push_back(first.next().indices);
        ordered_json saved = ordered_json::parse(first.cursor_json().dump());
        Loader probe(src, o);
        Cursor c = probe.cursor_from_json(saved);
        auto rest = run_batches(src, o, c, total - cut);
        resumed.insert(resumed.end(), rest.begin(), rest.end());
        // The JSON-cursor constructor resumes the same way.
        Loader from_json(src, o, saved);
        EXPECT_EQ(from_json.next().indices, full[cut]);
        EXPECT_EQ(resumed, full) << "world " << world << " rank " << rank << " prefetch "
                                 << prefetch;
        // Prefetch does not change the sequence.
        LoaderOptions sync = o;
        sync.prefetch = 0;
        EXPECT_EQ(run_batches(src, sync, {}, total), full);
      }
    }
  }
}

TEST(Loader, ResumeGivesTheUninterruptedSequenceJsonl) {
  check_resume(std::make_shared<JsonlSource>(make_synth("loader_resume", 61)));
}

TEST(Loader, ResumeGivesTheUninterruptedSequenceHdf5) {
  std::string jsonl = make_synth("loader_resume_h5", 61);
  std::string h5 = jsonl + ".h5";
  pack_jsonl(jsonl, h5, nullptr);
  check_resume(std::make_shared<H5Source>(h5));
}

TEST(Loader, CursorFromADifferentGeometryIsRejected) {
  auto src = std::make_shared<JsonlSource>(make_synth("loader_geom", 20));
  LoaderOptions o;
  o.world_size = 2;
  Loader a(src, o);
  a.next();
  ordered_json saved = a.cursor_json();
  LoaderOptions o3 = o;
  o3.world_size = 3;
  Loader b(src, o3);
  EXPECT_THROW(b.cursor_from_json(saved), Error);
  LoaderOptions seeded = o;
  seeded.seed = 9;
  Loader c(src, seeded);
  EXPECT_THROW(c.cursor_from_json(saved), Error);
  EXPECT_THROW(c.cursor_from_json(ordered_json::parse("{\"epoch\": 1}")), Error);
}

TEST(Loader, CursorFromAnotherWorldSizeContinuesTheGlobalOrder) {
  auto src = std::make_shared<JsonlSource>(make_synth("loader_reshard", 40));
  LoaderOptions two;
  two.world_size = 2;
  two.batch_size = 3;  // global batch 6
  two.prefetch = 0;
  std::vector<ordered_json> saved;
  std::vector<int64_t> next_two;  // what the two ranks read after two batches, together
  for (int r = 0; r < 2; ++r) {
    LoaderOptions o = two;
    o.rank = r;
    Loader l(src, o);
    l.next();
    l.next();
    saved.push_back(l.cursor_json());
    for (int64_t i : l.next().indices) next_two.push_back(i);
  }
  EXPECT_EQ(saved[0], saved[1]);
  LoaderOptions one = two;
  one.world_size = 1;
  one.batch_size = 6;
  Loader resumed(src, one, saved[0]);
  std::vector<int64_t> next_one = resumed.next().indices;
  std::sort(next_one.begin(), next_one.end());
  std::sort(next_two.begin(), next_two.end());
  EXPECT_EQ(next_one, next_two);
  // Past the new world size's share of the epoch: the next epoch starts.
  {
    auto ten = std::make_shared<JsonlSource>(make_synth("loader_reshard_tail", 10));
    LoaderOptions o1;
    o1.batch_size = 4;
    o1.prefetch = 0;
    Loader l(ten, o1);
    l.next();
    l.next();  // 8 of 10 consumed
    LoaderOptions o4 = o1;
    o4.world_size = 4;
    o4.batch_size = 1;
    Loader l4(ten, o4);  // 2 items per rank per epoch
    Cursor c = l4.cursor_from_json(l.cursor_json());
    EXPECT_EQ(c.epoch, 1);
    EXPECT_EQ(c.position, 0);
  }
  // 12 items consumed: 5 ranks cannot split them.
  LoaderOptions five = two;
  five.world_size = 5;
  Loader b(src, five);
  EXPECT_THROW(b.cursor_from_json(saved[0]), Error);
}

TEST(Loader, LengthFilterUsesTheInjectedFunctionOrStoredLengths) {
  std::string jsonl = make_synth("loader_filter", 40);
  auto src = std::make_shared<JsonlSource>(jsonl);
  auto length = [](const Record& r) { return r.principle.size() + r.prompt.size(); };
  int64_t expected_kept = 0;
  for (int64_t i = 0; i < src->size(); ++i) expected_kept += length(src->get(i)) <= 60;
  ASSERT_GT(expected_kept, 2);
  ASSERT_LT(expected_kept, 40);
  LoaderOptions o;
  o.max_prompt_tokens = 60;
  o.prompt_tokens = length;
  o.batch_size = 1;
  Loader loader(src, o);
  EXPECT_EQ(loader.eligible(), expected_kept);
  EXPECT_EQ(loader.filtered(), 40 - expected_kept);
  for (int i = 0; i < 50; ++i) EXPECT_LE(length(loader.next().items[0]), 60u);
  // Without a length function (and no stored lengths) a limit is an error, not a silent pass.
  LoaderOptions no_fn = o;
  no_fn.prompt_tokens = nullptr;
  EXPECT_THROW(Loader(src, no_fn), Error);
  // The HDF5 store's stored lengths are used directly.
  std::string h5 = jsonl + ".h5";
  pack_jsonl(jsonl, h5, length);
  auto h5src = std::make_shared<H5Source>(h5);
  Loader from_h5(h5src, no_fn);
  EXPECT_EQ(from_h5.eligible(), expected_kept);
}

TEST(Loader, TooFewRecordsForTheWorldIsAnError) {
  auto src = std::make_shared<JsonlSource>(make_synth("loader_few", 2));
  LoaderOptions o;
  o.world_size = 3;
  o.rank = 2;
  EXPECT_THROW(Loader(src, o), Error);
  o.rank = 3;
  EXPECT_THROW(Loader(src, o), Error);
}

}  // namespace
}  // namespace principia::data
