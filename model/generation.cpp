#include "model/generation.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <tuple>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/decode_graph.h"
#include "model/sampling.h"
#include "model/transformer.h"

namespace principia::model {
using torch::Tensor;

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
  }
  return "?";
}

void check_sampling_options(const SamplingOptions& o) {
  if (o.max_new_tokens < 0) throw Error("generate: max_new_tokens must be >= 0");
  if (!o.greedy) {
    if (!(o.temperature > 0)) throw Error("generate: temperature must be > 0 (use greedy for 0)");
    if (!(o.top_p > 0 && o.top_p <= 1)) throw Error("generate: top_p must be in (0, 1]");
    if (o.top_k < 0) throw Error("generate: top_k must be >= 0");
  }
}

std::pair<Tensor, Tensor> sample_step(const Tensor& logits, const SamplingOptions& o,
                                      const Tensor& u) {
  if (o.greedy) {
    Tensor tok = logits.argmax(-1);
    Tensor lp = torch::log_softmax(logits, -1).gather(1, tok.unsqueeze(1)).squeeze(1);
    return {tok, lp};
  }
  const int64_t V = logits.size(1);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  Tensor z = o.temperature == 1.0 ? logits : logits / o.temperature;
  if (o.top_k > 0 && o.top_k < V) {
    Tensor kth = std::get<0>(z.topk(o.top_k, -1)).narrow(1, o.top_k - 1, 1);
    z = z.masked_fill(z < kth, neg_inf);
  }
  if (o.top_p < 1.0) {
    auto [sorted, idx] = z.sort(-1, /*descending=*/true);
    Tensor p = torch::softmax(sorted, -1);
    // Keep the smallest prefix whose mass reaches top_p (the first token always stays).
    Tensor drop = (p.cumsum(-1) - p) >= o.top_p;
    sorted = sorted.masked_fill(drop, neg_inf);
    z = torch::full_like(z, neg_inf).scatter(1, idx, sorted);
  }
  Tensor logp = torch::log_softmax(z, -1);
  Tensor cdf = logp.exp().cumsum(-1);
  Tensor target = (u.to(cdf.scalar_type()) * cdf.select(1, V - 1)).unsqueeze(1);
  Tensor tok = torch::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true)
                   .squeeze(1)
                   .clamp_max(V - 1);
  Tensor lp = logp.gather(1, tok.unsqueeze(1)).squeeze(1);
  return {tok, lp};
}

bool ends_with(const std::vector<int64_t>& ids, const std::vector<int64_t>& suffix) {
  return !suffix.empty() && ids.size() >= suffix.size() &&
         std::equal(suffix.rbegin(), suffix.rend(), ids.rbegin());
}

std::vector<int64_t> stop_token_ids(const SamplingOptions& options, const TransformerConfig& config) {
  std::vector<int64_t> eos = options.eos_ids;
  if (options.use_config_eos) eos.insert(eos.end(), config.eos_token_ids.begin(), config.eos_token_ids.end());
  return eos;
}

bool finish_check(Generation& g, size_t row, const std::vector<int64_t>& eos, const SamplingOptions& options) {
  const int64_t id = g.ids.back();
  if (std::find(eos.begin(), eos.end(), id) != eos.end()) {
    g.finish = FinishReason::kEos;
    return true;
  }
  bool stop = false;
  for (const auto& seq : options.stop_sequences) stop = stop || ends_with(g.ids, seq);
  if (!stop && options.stop_check) stop = options.stop_check(row, g.ids);
  if (stop) g.finish = FinishReason::kStop;
  return stop;
}

void check_requests(const std::vector<GenerationRequest>& requests, int64_t vocab_size) {
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto& p = requests[r].prompt;
    if (p.empty()) throw Error("generate: request " + std::to_string(r) + " has an empty prompt");
    if (requests[r].max_new_tokens == 0 || requests[r].max_new_tokens < -1)
      throw Error("generate: request " + std::to_string(r) + ": max_new_tokens must be -1 (the options') or >= 1");
    for (int64_t id : p)
      if (id < 0 || id >= vocab_size)
        throw Error("generate: request " + std::to_string(r) + ": token id " + std::to_string(id) +
                    " outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  }
}

std::vector<Generation> generate(Transformer& model, const std::vector<GenerationRequest>& requests,
                                 const SamplingOptions& options) {
  check_sampling_options(options);
  const int64_t B = static_cast<int64_t>(requests.size());
  std::vector<Generation> out(B);
  if (B == 0) return out;
  const TransformerConfig& config = model.config();
  check_requests(requests, config.vocab_size);
  int64_t P = 0;
  for (const auto& r : requests) P = std::max<int64_t>(P, static_cast<int64_t>(r.prompt.size()));
  if (options.max_new_tokens == 0) return out;
  const std::vector<int64_t> eos = stop_token_ids(options, config);
  auto limit = [&](const GenerationRequest& r) {
    return r.max_new_tokens >= 0 ? std::min(r.max_new_tokens, options.max_new_tokens) : options.max_new_tokens;
  };

  torch::InferenceMode inference;
  const torch::Device device = model.device();
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);

  // Left-pad every prompt to P: row r's tokens occupy slots [pad_r, P), positions from 0.
  std::vector<int64_t> ids_host(B * P, 0), pos_host(B * P, 0), pad(B);
  std::vector<uint8_t> mask_host(B * P, 0);
  bool padded = false;
  for (int64_t r = 0; r < B; ++r) {
    const auto& p = requests[r].prompt;
    pad[r] = P - static_cast<int64_t>(p.size());
    padded = padded || pad[r] > 0;
    for (size_t j = 0; j < p.size(); ++j) {
      ids_host[r * P + pad[r] + j] = p[j];
      pos_host[r * P + pad[r] + j] = static_cast<int64_t>(j);
      mask_host[r * P + pad[r] + j] = 1;
    }
  }
  Tensor ids = torch::from_blob(ids_host.data(), {B, P}, i64).to(device);
  ForwardArgs args;
  args.position_ids = torch::from_blob(pos_host.data(), {B, P}, i64).to(device);
  if (padded)
    args.attention_mask =
        torch::from_blob(mask_host.data(), {B, P}, torch::TensorOptions().dtype(torch::kUInt8))
            .to(device)
            .to(torch::kBool);
  KVCache cache = model.make_cache(B, P + options.max_new_tokens);
  args.cache = &cache;
  Tensor last = model.hidden_states(ids, args).select(1, P - 1);

  std::vector<Rng> rngs;
  for (const auto& r : requests) rngs.emplace_back(r.seed);
  Tensor next_pos = torch::from_blob(pad.data(), {B}, i64).to(device).neg().add(P).unsqueeze(1);
  Tensor logprobs = torch::zeros({B, options.max_new_tokens}, torch::TensorOptions().device(device));

  // Steps after the first: eager, or the static step (optionally captured as a CUDA graph),
  // which reads its inputs from these buffers and leaves its outputs in out_tok / out_lp.
  const bool graphs = device.is_cuda() && decode_graphs_available();
  DecodeMode mode = options.decode_mode;
  if (mode == DecodeMode::kAuto) mode = graphs ? DecodeMode::kGraph : DecodeMode::kEager;
  if (mode == DecodeMode::kGraph && !graphs)
    throw Error("generate: decode_mode graph needs a CUDA device and a CUDA build of LibTorch (model on " +
                device.str() + ")");
  Tensor in_tok, in_pos, in_slot, in_u, out_tok, out_lp;
  if (mode != DecodeMode::kEager) {
    in_tok = torch::zeros({B, 1}, i64.device(device));
    in_pos = torch::zeros({B, 1}, i64.device(device));
    in_slot = torch::zeros({1}, i64.device(device));
    in_u = torch::zeros({B}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  }
  auto static_step = [&] {
    Tensor h = model.decode_step(in_tok, in_pos, in_slot, cache).select(1, 0);
    std::tie(out_tok, out_lp) = sample_step(model.logits(h).to(torch::kFloat32), options, in_u);
  };
  std::unique_ptr<DecodeGraph> graph;  // declared after the buffers it reads: destroyed first

  // The host looks at the new tokens (EOS / stop checks) once every `every` steps, and uploads
  // that many steps' uniforms at once: two small copies per chunk instead of a synchronisation
  // per token. Rows that stopped inside a chunk keep sampling until its end; those tokens are
  // dropped, so the result is the same for any chunk length.
  const int64_t every = options.sync_every > 0 ? options.sync_every : (device.is_cuda() ? 16 : 1);
  Tensor generated = torch::empty({B, options.max_new_tokens}, i64.device(device));
  std::vector<bool> running(B, true);
  std::vector<float> u_host;
  int64_t alive = B, steps = 0;
  Tensor tok, lp;
  for (int64_t s0 = 0; s0 < options.max_new_tokens && alive > 0; s0 += every) {
    const int64_t n = std::min(every, options.max_new_tokens - s0);
    Tensor u_chunk;  // [n, B]: row r's uniform for step s0 + i, drawn in step order
    if (!options.greedy) {
      u_host.resize(size_t(n * B));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < B; ++r) u_host[size_t(i * B + r)] = next_uniform(rngs[r]);
      u_chunk = torch::from_blob(u_host.data(), {n, B}, torch::kFloat32).to(device);
    }
    for (int64_t s = s0; s < s0 + n; ++s) {
      Tensor u = options.greedy ? Tensor() : u_chunk[s - s0];
      if (s == 0) {  // from the prompt's last hidden state
        std::tie(tok, lp) = sample_step(model.logits(last).to(torch::kFloat32), options, u);
      } else if (mode == DecodeMode::kEager) {  // the previous token through the growing cache
        ForwardArgs step;
        step.position_ids = next_pos + (s - 1);
        step.cache = &cache;
        last = model.hidden_states(tok.unsqueeze(1), step).select(1, 0);
        std::tie(tok, lp) = sample_step(model.logits(last).to(torch::kFloat32), options, u);
      } else {  // the previous token into slot P + s - 1, static shapes
        in_tok.copy_(tok.unsqueeze(1));
        in_pos.copy_(next_pos + (s - 1));
        in_slot.fill_(P + s - 1);
        if (u.defined()) in_u.copy_(u);
        if (mode == DecodeMode::kGraph && !graph) {
          try {
            graph = capture_decode_graph(static_step, device);
          } catch (const std::exception& e) {
            if (options.decode_mode == DecodeMode::kGraph) throw;
            log::warn("generate: CUDA graph capture failed, decoding without it: ", e.what());
            mode = DecodeMode::kStatic;
          }
        }
        if (graph) graph->replay();
        else static_step();
        tok = out_tok;
        lp = out_lp;
      }
      logprobs.select(1, s).copy_(lp);
      generated.select(1, s).copy_(tok);
    }
    steps = s0 + n;
    Tensor chunk = generated.narrow(1, s0, n).to(torch::kCPU).contiguous();
    const int64_t* t = chunk.data_ptr<int64_t>();
    for (int64_t r = 0; r < B; ++r) {
      for (int64_t i = 0; i < n && running[r]; ++i) {
        out[r].ids.push_back(t[r * n + i]);
        if (finish_check(out[r], size_t(r), eos, options) || int64_t(out[r].ids.size()) == limit(requests[r])) {
          running[r] = false;
          --alive;
        }
      }
    }
  }
  Tensor lp_host = logprobs.narrow(1, 0, steps).to(torch::kCPU).contiguous();
  for (int64_t r = 0; r < B; ++r) {
    const float* row = lp_host.data_ptr<float>() + r * steps;
    out[r].logprobs.assign(row, row + out[r].ids.size());
  }
  return out;
}

std::vector<Generation> generate_in_batches(Transformer& model, const std::vector<GenerationRequest>& requests,
                                            const SamplingOptions& options, int64_t max_batch) {
  if (max_batch < 0) throw Error("generate: max_batch must be >= 0");
  if (max_batch == 0 || int64_t(requests.size()) <= max_batch) return generate(model, requests, options);
  std::vector<Generation> out;
  out.reserve(requests.size());
  for (size_t begin = 0; begin < requests.size(); begin += size_t(max_batch)) {
    const size_t end = std::min(requests.size(), begin + size_t(max_batch));
    std::vector<GenerationRequest> part(requests.begin() + long(begin), requests.begin() + long(end));
    SamplingOptions o = options;
    if (options.stop_check)  // the caller's rows are numbered across the whole request list
      o.stop_check = [&options, begin](size_t row, const std::vector<int64_t>& g) {
        return options.stop_check(begin + row, g);
      };
    for (auto& g : generate(model, part, o)) out.push_back(std::move(g));
  }
  return out;
}

}  // namespace principia::model
