#include "data/loader.h"

#include <numeric>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"

namespace principia::data {

Loader::Loader(std::shared_ptr<const RecordSource> source, const LoaderOptions& options,
               Cursor start)
    : source_(std::move(source)), options_(options), cursor_(start) {
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size)
    throw Error("loader: rank " + std::to_string(options_.rank) + " is outside world size " +
                std::to_string(options_.world_size));
  if (options_.batch_size < 1) throw Error("loader: batch size must be at least 1");
  if (start.epoch < 0 || start.position < 0) throw Error("loader: negative cursor");
  const int64_t n = source_->size();
  eligible_.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (options_.max_prompt_tokens > 0) {
      std::optional<int64_t> tokens = source_->stored_prompt_tokens(i);
      if (!tokens) {
        if (!options_.prompt_tokens)
          throw Error(source_->path() +
                      ": loader: a prompt-token limit is set but the file stores no lengths and "
                      "no tokenizer was given");
        tokens = static_cast<int64_t>(options_.prompt_tokens(source_->get(i)));
      }
      if (*tokens > options_.max_prompt_tokens) {
        ++filtered_;
        continue;
      }
    }
    eligible_.push_back(i);
  }
  if (filtered_ > 0)
    log::info(source_->path(), ": ", filtered_, " of ", n,
              " records filtered out (rendered prompt over data.max_prompt_tokens = ",
              options_.max_prompt_tokens, " tokens)");
  per_rank_ = eligible() / options_.world_size;
  if (per_rank_ < 1)
    throw Error(source_->path() + ": " + std::to_string(eligible()) +
                " eligible record(s) cannot be shared by " +
                std::to_string(options_.world_size) + " ranks");
  begin(start);
}

Loader::Loader(std::shared_ptr<const RecordSource> source, const LoaderOptions& options,
               const ordered_json& saved_cursor)
    : Loader(std::move(source), [&] {
        LoaderOptions o = options;
        o.prefetch = 0;  // no thread until the saved cursor is known
        return o;
      }()) {
  options_.prefetch = options.prefetch;
  begin(cursor_from_json(saved_cursor));
}

void Loader::begin(Cursor start) {
  if (start.position >= per_rank_)
    throw Error("loader: cursor position " + std::to_string(start.position) +
                " is past this rank's " + std::to_string(per_rank_) + " items per epoch");
  cursor_ = start;
  sync_at_ = start;
  sync_perm_epoch_ = -1;
  if (options_.prefetch > 0 && !producer_.joinable())
    producer_ = std::thread([this, start] { producer_loop(start); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
}

Batch Loader::produce(Cursor& at, std::vector<int64_t>& perm, int64_t& perm_epoch) const {
  Batch b;
  b.start = at;
  const int64_t w = options_.world_size;
  for (int64_t k = 0; k < options_.batch_size; ++k) {
    if (perm_epoch != at.epoch) {
      perm.resize(eligible_.size());
      std::iota(perm.begin(), perm.end(), int64_t(0));
      if (options_.shuffle) {
        Rng rng = Rng::derive(options_.seed, {0x6c6f61646572ULL /* "loader" */,
                                              static_cast<uint64_t>(at.epoch)});
        rng.shuffle(perm);
      }
      perm_epoch = at.epoch;
    }
    int64_t slot = at.position * w + options_.rank;
    int64_t index = eligible_[static_cast<size_t>(perm[static_cast<size_t>(slot)])];
    b.indices.push_back(index);
    b.items.push_back(source_->get(index));
    if (++at.position == per_rank_) {
      at.position = 0;
      ++at.epoch;
    }
  }
  b.next = at;
  return b;
}

void Loader::producer_loop(Cursor start) {
  Cursor at = start;
  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  try {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch;
        });
        if (stop_) return;
      }
      Batch b = produce(at, perm, perm_epoch);
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(b));
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

Batch Loader::next() {
  Batch b;
  if (options_.prefetch <= 0) {
    b = produce(sync_at_, sync_perm_, sync_perm_epoch_);
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || error_; });
    if (queue_.empty()) std::rethrow_exception(error_);
    b = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
  }
  cursor_ = b.next;
  return b;
}

ordered_json Loader::cursor_json() const {
  ordered_json j;
  j["epoch"] = cursor_.epoch;
  j["position"] = cursor_.position;
  j["world_size"] = options_.world_size;
  j["eligible"] = eligible();
  j["seed"] = options_.seed;
  j["batch_size"] = options_.batch_size;
  return j;
}

Cursor Loader::cursor_from_json(const ordered_json& j) const {
  auto field = [&](const char* key) -> int64_t {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer())
      throw Error(std::string("data cursor: missing or non-integer \"") + key + "\"");
    return it->get<int64_t>();
  };
  if (!j.is_object()) throw Error("data cursor: must be a JSON object");
  Cursor c{field("epoch"), field("position")};
  if (const int64_t saved_world = field("world_size"); saved_world != options_.world_size) {
    // Rank r's position p is the epoch's item p * W + r, so the ranks together have consumed
    // the first p * W items; under the new world size the same global order continues from
    // there when that count splits evenly (it does when batch sizes are multiples of both).
    if (saved_world < 1) throw Error("data cursor: world_size must be >= 1");
    const int64_t consumed = c.position * saved_world;
    if (consumed % options_.world_size != 0)
      throw Error("data cursor: saved with world size " + std::to_string(saved_world) + " after " +
                  std::to_string(consumed) + " items of the epoch, which " + std::to_string(options_.world_size) +
                  " ranks cannot split evenly; resume with world size " + std::to_string(saved_world));
    c.position = consumed / options_.world_size;
    // Each world size drops a different remainder of the epoch (per-rank shares are equal), so
    // the continuation is exact up to the end of this epoch; past this world size's share, the
    // next epoch starts.
    if (c.position >= per_rank_) c = Cursor{c.epoch + 1, 0};
    log::info("data cursor: saved with world size ", saved_world, ", resuming with ", options_.world_size,
              ": epoch ", c.epoch, ", item ", consumed, " of the epoch's order");
  }
  if (field("eligible") != eligible())
    throw Error("data cursor: saved over " + std::to_string(field("eligible")) +
                " eligible records, the data now has " + std::to_string(eligible()) +
                " (different file or data.max_prompt_tokens?)");
  if (static_cast<uint64_t>(field("seed")) != options_.seed)
    throw Error("data cursor: saved with seed " + std::to_string(field("seed")) +
                ", resuming with " + std::to_string(options_.seed));
  if (c.epoch < 0 || c.position < 0 || c.position >= per_rank_)
    throw Error("data cursor: position out of range");
  return c;
}

}  // namespace principia::data
