#include "model/paged_generation.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#include "model/block_manager.h"
#include "model/sampling.h"
#include "model/transformer.h"

namespace principia::model {
using torch::Tensor;

double kv_block_bytes(const Transformer& model, int64_t block_size) {
  const TransformerConfig& c = model.config();
  const double element = double(torch::elementSize(model.parameters().front().scalar_type()));
  return 2.0 * double(c.num_layers) * double(c.num_kv_heads) * double(c.head_dim) * element *
         double(block_size);
}

namespace {

struct Sequence {
  size_t row = 0;               // its request
  std::vector<int64_t> tokens;  // the prompt, then every token generated
  int64_t computed = 0;         // leading tokens whose keys/values are in the pool
  int64_t max_new_tokens = 0;
  BlockTable table;
  Rng rng;
  bool seen = false;  // admitted at least once (stats count first admissions)
};

void check_engine(const EngineOptions& e) {
  if (e.max_num_seqs < 1) throw Error("paged generation: max_num_seqs must be >= 1");
  if (e.block_size < 1) throw Error("paged generation: block_size must be >= 1");
  if (!(e.kv_cache_gib >= 0)) throw Error("paged generation: kv_cache_gib must be >= 0");
  if (e.max_batched_tokens < 1) throw Error("paged generation: max_batched_tokens must be >= 1");
}

class Engine {
 public:
  Engine(Transformer& model, const std::vector<GenerationRequest>& requests,
         const SamplingOptions& options, const EngineOptions& engine, EngineStats& stats)
      : model_(model),
        options_(options),
        engine_(engine),
        stats_(stats),
        eos_(stop_token_ids(options, model.config())),
        blocks_(make_blocks(model, requests)),
        kv_(model.make_paged_kv(blocks_.num_blocks() * engine.block_size)),
        out_(requests.size()) {
    for (size_t r = 0; r < requests.size(); ++r) {
      Sequence s;
      s.row = r;
      s.tokens = requests[r].prompt;
      s.rng = Rng(requests[r].seed);
      s.max_new_tokens = requests[r].max_new_tokens >= 0
                             ? std::min(requests[r].max_new_tokens, options.max_new_tokens)
                             : options.max_new_tokens;
      seqs_.push_back(std::move(s));
      waiting_.push_back(r);
    }
    stats_.num_blocks = blocks_.num_blocks();
  }

  std::vector<Generation> run() {
    while (!waiting_.empty() || !running_.empty()) {
      std::vector<size_t> admitted = admit();
      if (!admitted.empty()) {
        ++stats_.prefill_forwards;
        forward_and_sample(admitted);
        for (size_t i : admitted)
          if (!finished(i)) running_.push_back(i);
      }
      if (running_.empty()) continue;
      make_room_for_next_tokens();
      stats_.peak_running = std::max(stats_.peak_running, int64_t(running_.size()));
      ++stats_.decode_forwards;
      forward_and_sample(running_);
      std::vector<size_t> still;
      for (size_t i : running_)
        if (!finished(i)) still.push_back(i);
      running_ = std::move(still);
    }
    return std::move(out_);
  }

 private:
  // The pool: the byte budget's blocks, or room for max_num_seqs of the longest sequences.
  BlockManager make_blocks(Transformer& model,
                           const std::vector<GenerationRequest>& requests) const {
    size_t longest = 0;
    for (const auto& r : requests) longest = std::max(longest, r.prompt.size());
    const int64_t bs = engine_.block_size;
    const int64_t per_sequence = (int64_t(longest) + options_.max_new_tokens + bs - 1) / bs;
    int64_t blocks =
        1 + per_sequence * std::min<int64_t>(engine_.max_num_seqs, int64_t(requests.size()));
    if (engine_.kv_cache_gib > 0) {
      blocks = int64_t(
          std::floor(engine_.kv_cache_gib * double(1ULL << 30) / kv_block_bytes(model, bs)));
      if (blocks < 1 + per_sequence)
        throw Error("paged generation: a KV cache of " + std::to_string(engine_.kv_cache_gib) +
                    " GiB holds " + std::to_string(blocks) + " blocks of " + std::to_string(bs) +
                    " tokens; one sequence of " +
                    std::to_string(int64_t(longest) + options_.max_new_tokens) + " tokens needs " +
                    std::to_string(per_sequence) + " plus a scratch block: raise kv_cache_gib");
    }
    return BlockManager(blocks, bs, engine_.prefix_caching);
  }

  // Waiting sequences that fit, in queue order, their blocks allocated (the prefix cache's
  // blocks shared), while the prefill's padded tokens stay within max_batched_tokens.
  std::vector<size_t> admit() {
    std::vector<size_t> admitted;
    int64_t longest = 0;
    while (!waiting_.empty() && int64_t(running_.size() + admitted.size()) < engine_.max_num_seqs) {
      Sequence& s = seqs_[waiting_.front()];
      const int64_t to_compute = int64_t(s.tokens.size()) - blocks_.cached_prefix(s.tokens);
      const int64_t padded = std::max(longest, to_compute) * int64_t(admitted.size() + 1);
      if (!admitted.empty() && padded > engine_.max_batched_tokens) break;
      int64_t cached = 0;
      if (!blocks_.allocate(s.tokens, s.table, &cached)) {
        if (running_.empty() && admitted.empty())  // the pool is sized for one sequence at least
          throw Error("paged generation: no room for sequence " + std::to_string(s.row) +
                      " in an idle KV pool");
        break;
      }
      s.computed = cached;
      if (!s.seen) {
        s.seen = true;
        ++stats_.sequences;
        stats_.prompt_tokens += int64_t(s.tokens.size());
        stats_.prompt_tokens_cached += cached;
      }
      longest = std::max(longest, to_compute);
      admitted.push_back(waiting_.front());
      waiting_.pop_front();
    }
    stats_.peak_blocks_used = std::max(stats_.peak_blocks_used, blocks_.used_blocks());
    return admitted;
  }

  // Every running sequence gets a slot for its newest token; while the pool has none, the
  // youngest running sequence (the back of running_) gives its blocks back and waits.
  void make_room_for_next_tokens() {
    for (size_t k = 0; k < running_.size(); ++k) {
      Sequence& s = seqs_[running_[k]];
      while (!blocks_.append_slot(s.table, s.computed)) {
        const size_t victim = running_.back();
        running_.pop_back();
        Sequence& v = seqs_[victim];
        blocks_.release(v.table);
        v.computed = 0;
        waiting_.push_front(victim);
        ++stats_.preemptions;
        if (k >= running_.size()) return;  // that was this sequence
      }
    }
    stats_.peak_blocks_used = std::max(stats_.peak_blocks_used, blocks_.used_blocks());
  }

  // One forward over each sequence's tokens not yet computed (right-padded into [S, T]), then
  // one new token per sequence from its last position's logits.
  void forward_and_sample(const std::vector<size_t>& batch) {
    const int64_t S = int64_t(batch.size());
    int64_t T = 0, L = 0;
    for (size_t i : batch) {
      const Sequence& s = seqs_[i];
      T = std::max<int64_t>(T, int64_t(s.tokens.size()) - s.computed);
      L = std::max<int64_t>(L, int64_t(s.tokens.size()));
    }
    std::vector<int64_t> ids(size_t(S * T), 0), pos(size_t(S * T), 0), write(size_t(S * T), 0),
        read(size_t(S * L), 0), last(static_cast<size_t>(S));
    std::vector<float> u(static_cast<size_t>(S));
    for (int64_t b = 0; b < S; ++b) {
      Sequence& s = seqs_[batch[size_t(b)]];
      const int64_t n = int64_t(s.tokens.size());
      for (int64_t p = s.computed; p < n; ++p) {
        const size_t at = size_t(b * T + p - s.computed);
        ids[at] = s.tokens[size_t(p)];
        pos[at] = p;
        write[at] = blocks_.slot(s.table, p);
      }
      for (int64_t p = 0; p < n; ++p) read[size_t(b * L + p)] = blocks_.slot(s.table, p);
      last[size_t(b)] = n - s.computed - 1;
      if (!options_.greedy) u[size_t(b)] = next_uniform(s.rng);
    }
    const torch::Device device = model_.device();
    const auto i64 = torch::TensorOptions().dtype(torch::kLong);
    auto upload = [&](std::vector<int64_t>& v, int64_t rows, int64_t cols) {
      return torch::from_blob(v.data(), {rows, cols}, i64).to(device);
    };
    PagedBatch paged;
    paged.kv = &kv_;
    paged.write_slots = upload(write, S, T);
    paged.read_slots = upload(read, S, L);
    ForwardArgs args;
    args.position_ids = upload(pos, S, T);
    args.paged = &paged;
    Tensor hidden = model_.hidden_states(upload(ids, S, T), args);
    Tensor at_last = upload(last, S, 1).unsqueeze(2).expand({S, 1, hidden.size(2)});
    Tensor logits = model_.logits(hidden.gather(1, at_last).squeeze(1)).to(torch::kFloat32);
    Tensor uniforms =
        options_.greedy ? Tensor() : torch::from_blob(u.data(), {S}, torch::kFloat32).to(device);
    auto [tok, lp] = sample_step(logits, options_, uniforms);
    tok = tok.to(torch::kCPU).contiguous();
    lp = lp.to(torch::kCPU).contiguous();
    for (int64_t b = 0; b < S; ++b) {
      Sequence& s = seqs_[batch[size_t(b)]];
      s.computed = int64_t(s.tokens.size());
      s.tokens.push_back(tok.data_ptr<int64_t>()[b]);
      out_[s.row].ids.push_back(s.tokens.back());
      out_[s.row].logprobs.push_back(lp.data_ptr<float>()[b]);
    }
  }

  // After a new token: true when the sequence stops there (its blocks go back to the pool).
  bool finished(size_t i) {
    Sequence& s = seqs_[i];
    Generation& g = out_[s.row];
    bool done = finish_check(g, s.row, eos_, options_);
    if (!done && int64_t(g.ids.size()) >= s.max_new_tokens) {
      g.finish = FinishReason::kLength;
      done = true;
    }
    if (done) blocks_.release(s.table);
    return done;
  }

  Transformer& model_;
  const SamplingOptions& options_;
  const EngineOptions& engine_;
  EngineStats& stats_;
  std::vector<int64_t> eos_;
  BlockManager blocks_;
  PagedKV kv_;
  std::vector<Generation> out_;
  std::vector<Sequence> seqs_;
  std::deque<size_t> waiting_;
  std::vector<size_t> running_;  // in admission order: the back is the youngest
};

}  // namespace

std::vector<Generation> generate_paged(Transformer& model,
                                       const std::vector<GenerationRequest>& requests,
                                       const SamplingOptions& options, const EngineOptions& engine,
                                       EngineStats* stats) {
  check_sampling_options(options);
  check_engine(engine);
  check_requests(requests, model.config().vocab_size);
  EngineStats local;
  EngineStats& st = stats ? *stats : local;
  st = EngineStats{};
  if (requests.empty() || options.max_new_tokens == 0) {
    std::vector<Generation> out(requests.size());
    return out;
  }
  torch::InferenceMode inference;
  return Engine(model, requests, options, engine, st).run();
}

}  // namespace principia::model
