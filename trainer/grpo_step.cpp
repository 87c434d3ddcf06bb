// The GRPO step. Reads top to bottom; the math lives in core_algos (advantages, clipped
// surrogate, KL estimators, loss aggregation), the model in model/, rewards in rewards/.
#include "trainer/grpo_step.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "core/log.h"
#include "core/rng.h"
#include "model/generation.h"
#include "model/paged_generation.h"
#include "model/transformer.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "trainer/core_algos.h"
#include "trainer/plan.h"
#include "trainer/sequences.h"
#include "trainer/zero3.h"

namespace principia::trainer {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Per-sequence response log-probs of `model`, no grad, in micro-batches. With `entropy_sum`,
// also the summed per-token entropy of the sampling distribution (a metric, even when the loss
// has no entropy term).
std::vector<torch::Tensor> logprobs_no_grad(model::Transformer& model, const std::vector<Sequence>& seqs,
                                            int64_t token_budget, double temperature,
                                            double* entropy_sum = nullptr) {
  torch::NoGradGuard no_grad;
  std::vector<size_t> order(seqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<torch::Tensor> out(seqs.size());
  torch::Tensor entropy;  // summed on the device (float64): one host sync after the loop
  for (const auto& mb : micro_batches(seqs, order, token_budget)) {
    std::vector<const Sequence*> rows;
    for (size_t i : mb) rows.push_back(&seqs[i]);
    auto lp = response_logprobs(model, rows, temperature, entropy_sum != nullptr);
    if (entropy_sum) {
      auto s = (lp.entropy * lp.mask).sum().to(torch::kFloat64);
      entropy = entropy.defined() ? entropy + s : s;
    }
    for (size_t r = 0; r < mb.size(); ++r)
      out[mb[r]] = lp.logp[int64_t(r)].narrow(0, 0, int64_t(seqs[mb[r]].response.size())).clone();
  }
  if (entropy_sum && entropy.defined()) *entropy_sum += entropy.item<double>();
  return out;
}

double peak_rss_gib() {
  struct rusage u;
  if (::getrusage(RUSAGE_SELF, &u) != 0) return NAN;
  return double(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

// Stacks per-sequence 1-D tensors into [B, R] (zero padded) for the rows of a micro-batch,
// built on `device` (device-to-device copies on a GPU: no host synchronisation).
torch::Tensor gather_padded(const std::vector<torch::Tensor>& per_seq, const std::vector<size_t>& rows,
                            int64_t R, torch::Device device) {
  auto out = torch::zeros({int64_t(rows.size()), R}, torch::TensorOptions(torch::kFloat32).device(device));
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& t = per_seq[rows[r]];
    if (t.numel() > 0) out[int64_t(r)].narrow(0, 0, t.numel()).copy_(t);
  }
  return out;
}

// Sums the named fields over ranks in place, in one collective.
template <class... T>
void sum_over_ranks(Dist& dist, T&... fields) {
  std::vector<double> v{double(fields)...};
  v = dist.all_reduce(v, ReduceOp::kSum);
  size_t i = 0;
  ((fields = static_cast<T>(v[i++])), ...);
}

// Judgment counts summed over ranks, so rates are over the global batch.
void all_reduce_sums(Dist& dist, rewards::MetricSums& m) {
  sum_over_ranks(dist, m.judgments, m.json_parsed, m.bracket_extraction, m.format_valid, m.pairs,
                 m.pairs_tied, m.pairs_right, m.tau_sum, m.tau_items, m.ndcg_sum, m.variance_sum,
                 m.variance_items);
}

// One sampled completion with what the reward made of it.
struct Sample {
  Sequence seq;                     // prompt + response ids
  std::vector<float> sampler_logp;  // the rollout's log-prob of each response token
  bool truncated = false;           // cut at max_new_tokens
  double reward = 0;                // the composite total
  std::vector<double> components;   // each component's raw value, in config order
  rewards::Judgment judgment;       // names mapped back to the real candidates
  rewards::Gold gold;
};

// Render, roll out and score G samples of each item: every sample sees the candidates in its
// own random order and has its own seed, so a sample depends on (seed, step, item, g) only.
struct RolloutStats {
  int64_t rows_per_call = 0;  // static: rows per generate() call; paged: the most decoding together
  int64_t prompt_tokens = 0, prompt_tokens_cached = 0, preemptions = 0;  // paged
};

std::vector<Sample> roll_out(GrpoContext& ctx, const std::vector<data::Record>& items,
                             const std::vector<int64_t>& item_indices, int64_t step, RolloutStats& stats) {
  const auto& cfg = ctx.cfg;
  const int64_t G = cfg.rollout.group_size;
  const uint64_t seed = uint64_t(cfg.run.seed);
  std::vector<Sample> samples;
  std::vector<rewards::NameMapping> mappings;
  std::vector<model::GenerationRequest> requests;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t g = 0; g < G; ++g) {
      auto perm = sample_permutation(seed, step, item_indices[i], g, items[i].size());
      auto rendered = ctx.format.render(items[i], perm);
      auto ids = ctx.format.prompt_ids(rendered);
      Sample s;
      s.seq.prompt.assign(ids.begin(), ids.end());
      s.gold = gold_of(items[i]);
      samples.push_back(std::move(s));
      mappings.push_back(rendered.mapping);
      uint64_t sample_seed = Rng::derive(seed, {0x5a3bULL, uint64_t(step), uint64_t(item_indices[i]), uint64_t(g)}).next();
      requests.push_back({samples.back().seq.prompt, sample_seed});
    }
  }
  model::SamplingOptions sampling;
  sampling.max_new_tokens = cfg.rollout.max_new_tokens;
  sampling.temperature = cfg.rollout.temperature;
  sampling.top_p = cfg.rollout.top_p;
  sampling.top_k = cfg.rollout.top_k;
  sampling.eos_ids = ctx.format.stop_ids();
  sampling.use_config_eos = false;
  std::vector<model::Generation> generations;
  if (cfg.rollout.engine == config::RolloutEngine::kPaged) {
    model::EngineOptions engine;
    engine.max_num_seqs = cfg.rollout.max_num_seqs;
    engine.block_size = cfg.rollout.block_size;
    engine.prefix_caching = cfg.rollout.prefix_caching;
    engine.kv_cache_gib = cfg.rollout.kv_cache_gib;
    model::EngineStats es;
    generations = model::generate_paged(ctx.policy, requests, sampling, engine, &es);
    stats.rows_per_call = std::max(stats.rows_per_call, es.peak_running);
    stats.prompt_tokens += es.prompt_tokens;
    stats.prompt_tokens_cached += es.prompt_tokens_cached;
    stats.preemptions += es.preemptions;
  } else {
    // Rows per generate() call: bounded by rollout.generation_batch and the KV byte budget,
    // each row reserving KV for the longest prompt here plus max_new_tokens.
    size_t longest_prompt = 0;
    for (const auto& s : samples) longest_prompt = std::max(longest_prompt, s.seq.prompt.size());
    const auto& shape = ctx.policy.config();
    const double kv_row = kv_bytes_per_token(shape.num_layers, shape.num_kv_heads, shape.head_dim,
                                             double(ctx.policy.parameters().front().element_size())) *
                          double(int64_t(longest_prompt) + cfg.rollout.max_new_tokens);
    stats.rows_per_call = generation_rows(cfg.rollout, int64_t(requests.size()), kv_row);
    generations = model::generate_in_batches(ctx.policy, requests, sampling, stats.rows_per_call);
  }

  for (size_t n = 0; n < samples.size(); ++n) {
    Sample& s = samples[n];
    s.seq.response = generations[n].ids;
    s.sampler_logp = std::move(generations[n].logprobs);
    s.truncated = generations[n].finish == model::FinishReason::kLength;
    s.judgment = rewards::parse_judgment(ctx.format.decode_response(s.seq.response));
    rewards::remap_names(s.judgment, mappings[n]);
  }
  // Scored a group at a time: a group component (consistency) compares the G samples.
  std::vector<rewards::Judgment> group(static_cast<size_t>(G));
  std::vector<rewards::Generated> generated(static_cast<size_t>(G));
  std::vector<rewards::RewardBreakdown> breakdowns;
  for (size_t first = 0; first < samples.size(); first += size_t(G)) {
    for (int64_t g = 0; g < G; ++g) {
      group[size_t(g)] = samples[first + size_t(g)].judgment;
      generated[size_t(g)] = {int64_t(samples[first + size_t(g)].seq.response.size()), cfg.rollout.max_new_tokens};
    }
    ctx.reward.score_group(group, samples[first].gold, &breakdowns, &generated);
    for (int64_t g = 0; g < G; ++g) {
      samples[first + size_t(g)].reward = breakdowns[size_t(g)].total;
      samples[first + size_t(g)].components = std::move(breakdowns[size_t(g)].values);
    }
  }
  return samples;
}

// Dynamic sampling's filter: does the group's raw `component` value vary?
bool has_signal(const std::vector<Sample>& samples, size_t first, int64_t G, size_t component) {
  for (int64_t g = 1; g < G; ++g)
    if (samples[first + size_t(g)].components[component] != samples[first].components[component]) return true;
  return false;
}

}  // namespace

StepMetrics grpo_step(GrpoContext& ctx, const std::vector<data::Record>& items,
                      const std::vector<int64_t>& item_indices, int64_t step) {
  const auto& cfg = ctx.cfg;
  const auto& alg = cfg.algorithm;
  const int64_t G = cfg.rollout.group_size;
  const uint64_t seed = uint64_t(cfg.run.seed);
  const auto step_start = Clock::now();
  if (ctx.hooks.step_begin) ctx.hooks.step_begin(step, ctx.policy);
  StepMetrics m;

  // ---- 1-3. Render, roll out G completions per item, reward them ----
  // With dynamic sampling, a group whose raw accuracy component does not vary teaches nothing:
  // it is set aside and the next items are rolled out, until every rank has its share of
  // groups with signal or max_rounds rollouts ran. Every rank takes each next batch (its
  // loader stays in step with the others); a rank that is full does not roll it out. A batch
  // still short after the last round is completed with set-aside groups (advantage 0).
  auto t = Clock::now();
  const int64_t local_items = int64_t(items.size());
  // ZeRO-3: the policy's full weights, gathered once for the rollout and the old log-probs.
  std::optional<model::FullWeights> policy_weights(std::in_place, ctx.policy);
  const auto& ds = alg.dynamic_sampling;
  size_t ds_component = 0;
  if (ds.enabled)
    ds_component = size_t(std::find(ctx.reward.names().begin(), ctx.reward.names().end(), ds.component) -
                          ctx.reward.names().begin());
  std::vector<Sample> samples, set_aside;  // kept groups; groups without signal
  RolloutStats rollout_stats;
  int64_t rounds = 0, groups_seen = 0, groups_dropped = 0;
  std::vector<data::Record> round_items = items;
  std::vector<int64_t> round_indices = item_indices;
  while (true) {
    ++rounds;
    if (int64_t(samples.size()) < local_items * G) {
      auto batch = roll_out(ctx, round_items, round_indices, step, rollout_stats);
      for (size_t first = 0; first < batch.size(); first += size_t(G)) {
        ++groups_seen;
        const bool keep = !ds.enabled || has_signal(batch, first, G, ds_component);
        auto& to = keep && int64_t(samples.size()) < local_items * G ? samples : set_aside;
        if (!keep) ++groups_dropped;
        to.insert(to.end(), std::make_move_iterator(batch.begin() + long(first)),
                  std::make_move_iterator(batch.begin() + long(first) + G));
      }
    }
    if (!ds.enabled) break;
    const bool short_here = int64_t(samples.size()) < local_items * G;
    if (ctx.dist.all_reduce(double(short_here), ReduceOp::kMax) == 0 || rounds == ds.max_rounds) break;
    data::Batch next = ctx.next_batch();
    round_items = std::move(next.items);
    round_indices = std::move(next.indices);
  }
  int64_t groups_filled = 0;
  for (size_t first = 0; int64_t(samples.size()) < local_items * G; first += size_t(G), ++groups_filled)
    samples.insert(samples.end(), std::make_move_iterator(set_aside.begin() + long(first)),
                   std::make_move_iterator(set_aside.begin() + long(first) + G));
  set_aside.clear();
  const size_t N = samples.size();
  std::vector<Sequence> seqs(N);
  std::vector<float> reward_values(N);
  std::vector<torch::Tensor> sampler_logp(N);
  std::vector<double> component_sums(ctx.reward.names().size(), 0.0);
  rewards::MetricSums judged;
  int64_t truncated = 0, response_tokens = 0, longest = 0;
  std::vector<char> in_loss(N, 1);  // 0: a truncated completion under algorithm.mask_truncated
  for (size_t n = 0; n < N; ++n) {
    Sample& s = samples[n];
    truncated += s.truncated;
    response_tokens += int64_t(s.seq.response.size());
    longest = std::max<int64_t>(longest, int64_t(s.seq.response.size()));
    reward_values[n] = float(s.reward);
    for (size_t c = 0; c < component_sums.size(); ++c) component_sums[c] += s.components[c];
    judged.add(s.judgment, s.gold);
    sampler_logp[n] = torch::tensor(s.sampler_logp, torch::kFloat32);
    in_loss[n] = !(alg.mask_truncated && s.truncated);
    seqs[n] = std::move(s.seq);
  }
  samples.clear();
  torch::Tensor rewards_t = torch::from_blob(reward_values.data(), {local_items, G}, torch::kFloat32).clone();
  const double rollout_s = seconds_since(t);

  // ---- 4. Old-policy and reference log-probs on the sampled tokens ----
  // On-policy (one epoch, one mini-batch, KL not folded into the reward): the policy has not
  // moved since the rollout when the only update's forward runs, so that forward's detached
  // log-probs are the old ones (TRL does the same for num_iterations = 1). This saves one
  // forward pass over the batch.
  t = Clock::now();
  const double temperature = cfg.rollout.temperature;
  const bool use_kl = alg.kl_coef > 0 && ctx.reference != nullptr;
  const int64_t W = ctx.dist.world_size(), global_items = local_items * W;
  const int64_t items_per_mini = alg.mini_batch > 0 ? std::min<int64_t>(alg.mini_batch, global_items) : global_items;
  const bool on_policy = alg.ppo_epochs == 1 && items_per_mini == global_items && !(use_kl && alg.kl_in_reward);
  double entropy_sum = 0;
  std::vector<torch::Tensor> old_logp;
  if (!on_policy) old_logp = logprobs_no_grad(ctx.policy, seqs, alg.micro_batch_tokens, temperature, &entropy_sum);
  policy_weights.reset();
  std::vector<torch::Tensor> ref_logp;
  if (use_kl) {
    model::FullWeights reference_weights(*ctx.reference);
    ref_logp = logprobs_no_grad(*ctx.reference, seqs, alg.micro_batch_tokens, temperature);
  }
  const double reference_s = seconds_since(t);

  // ---- 5. Advantages per group (KL folded into the reward first when configured) ----
  torch::Tensor shaped = rewards_t;
  double reward_kl_sum = 0, reward_kl_tokens = 0;  // Σ_s Σ_t kl·mask and Σ mask, for the metrics
  if (use_kl && alg.kl_in_reward) {
    std::vector<size_t> all(N);
    for (size_t n = 0; n < N; ++n) all[n] = n;
    std::vector<const Sequence*> rows;
    for (auto& s : seqs) rows.push_back(&s);
    int64_t R = std::max<int64_t>(1, longest);
    auto mask = response_mask(rows);
    auto kl = kl_penalty(gather_padded(old_logp, all, R, torch::kCPU), gather_padded(ref_logp, all, R, torch::kCPU),
                         alg.kl_estimator);
    shaped = apply_kl_to_rewards(rewards_t.flatten(), kl, mask, alg.kl_coef).view_as(rewards_t);
    reward_kl_sum = (kl * mask).sum().item<double>();
    reward_kl_tokens = mask.sum().item<double>();
  }
  // Over the global batch (rank blocks in rank order): batch-std needs every group; the
  // per-group estimators give the same values either way.
  torch::Tensor rewards_all = ctx.dist.all_gather(rewards_t);
  torch::Tensor shaped_all = ctx.dist.all_gather(shaped);
  Advantages adv = compute_advantages(shaped_all, ctx.advantage, alg.adv_eps);
  if (ctx.hooks.advantages) ctx.hooks.advantages(step, rewards_all, shaped_all, adv);
  torch::Tensor adv_flat =
      adv.values.narrow(0, int64_t(ctx.dist.rank()) * local_items, local_items).flatten().contiguous();

  // ---- 6. Policy update: PPO epochs x mini-batches x micro-batches (token budget) ----
  t = Clock::now();
  const double lr = lr_at(cfg.optim, cfg.optim.lr, step, ctx.total_steps);
  // Mini-batches are cut from one shuffle of the GLOBAL batch (the same on every rank), so W
  // ranks update on exactly the mini-batches one rank would. data::Loader shards by
  // interleaving: this rank's item j is the global batch's item j * W + rank.
  const ClipOptions clip = ClipOptions::from(alg);
  const torch::Device device = ctx.policy.device();
  double loss_sum = 0, grad_norm_sum = 0;
  // Running sums stay on the device and are read once after the update: no host
  // synchronisation inside the micro-batch loop.
  enum Acc {
    kPg, kKl, kEnt, kEntropyMetric, kClipped, kDual, kTokens,
    kMismatchAbs, kMismatchKl, kMismatchW, kMismatchW2, kMismatchTokens, kTisWeight, kAccSize
  };
  torch::Tensor acc = torch::zeros({kAccSize}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  torch::Tensor ratio_min_t = torch::full({}, INFINITY, acc.options());
  torch::Tensor ratio_max_t = torch::full({}, -INFINITY, acc.options());
  auto add = [&](Acc slot, const torch::Tensor& v) { acc[slot] += v.detach().to(torch::kFloat64); };
  int64_t updates = 0, skipped = 0, mini_index = 0;
  Rng order_rng = Rng::derive(seed, {0x0dd5ULL, uint64_t(step)});
  for (int64_t epoch = 0; epoch < alg.ppo_epochs; ++epoch) {
    std::vector<size_t> item_order(static_cast<size_t>(global_items));  // global item indices
    for (size_t i = 0; i < item_order.size(); ++i) item_order[i] = i;
    order_rng.shuffle(item_order);
    for (size_t start = 0; start < item_order.size(); start += size_t(items_per_mini), ++mini_index) {
      std::vector<size_t> rows_of_mini;  // this rank's sequences in it: whole groups stay together
      for (size_t k = start; k < std::min(item_order.size(), start + size_t(items_per_mini)); ++k) {
        if (int64_t(item_order[k]) % W != ctx.dist.rank()) continue;
        const size_t local = item_order[k] / size_t(W);
        for (int64_t g = 0; g < G; ++g) rows_of_mini.push_back(local * size_t(G) + size_t(g));
      }
      // Global normalisers of the mini-batch: over its micro-batches and over ranks, so the
      // summed gradients are those of one loss over the whole mini-batch.
      LossNorm norm;
      for (size_t n : rows_of_mini) {
        double len = in_loss[n] ? double(seqs[n].response.size()) : 0.0;
        norm.tokens += len;
        norm.seqs += len > 0 ? 1 : 0;
      }
      sum_over_ranks(ctx.dist, norm.tokens, norm.seqs);
      norm.max_response_len = cfg.rollout.max_new_tokens;
      if (norm.tokens == 0) continue;  // every completion masked out (mask_truncated): nothing to learn
      ctx.optimizer.zero_grad();
      torch::Tensor mini_loss_t = torch::zeros({}, acc.options());
      const auto mbs = micro_batches(seqs, rows_of_mini, alg.micro_batch_tokens);
      auto micro_batch_backward = [&](const std::vector<size_t>& mb) {
        std::vector<const Sequence*> rows;
        for (size_t n : mb) rows.push_back(&seqs[n]);
        auto cur = response_logprobs(ctx.policy, rows, temperature, alg.entropy_coef > 0 || on_policy);
        const int64_t R = cur.logp.size(1);
        torch::Tensor old;
        if (on_policy) {
          old = cur.logp.detach();
          add(kEntropyMetric, (cur.entropy.detach() * cur.mask).sum());
        } else {
          old = gather_padded(old_logp, mb, R, device);
        }
        std::vector<int64_t> mb_idx(mb.begin(), mb.end());
        std::vector<float> keep;
        for (size_t n : mb) keep.push_back(float(in_loss[n]));
        const torch::Tensor loss_mask = cur.mask * torch::tensor(keep).to(device).unsqueeze(1);
        const torch::Tensor sampled = gather_padded(sampler_logp, mb, R, device);
        auto A = adv_flat.index_select(0, torch::tensor(mb_idx)).to(device);
        if (epoch == 0) {  // every sequence once: how far the sampler is from the trainer
          MismatchSums mm = sampler_mismatch(old, sampled, cur.mask);
          add(kMismatchAbs, mm.abs_diff), add(kMismatchKl, mm.kl), add(kMismatchW, mm.w);
          add(kMismatchW2, mm.w2), add(kMismatchTokens, mm.tokens);
        }
        PolicyLoss pl = ctx.loss.fn(cur.logp, old, A, loss_mask, clip);
        torch::Tensor token_loss = pl.pg;
        if (alg.tis.level != config::TisLevel::kNone) {
          torch::Tensor w = truncated_is_weights(old, sampled, loss_mask, alg.tis.level, alg.tis.cap);
          token_loss = token_loss * w;
          add(kTisWeight, (w * loss_mask).sum());
        }
        torch::Tensor pg = aggregate_loss(token_loss, loss_mask, alg.loss_agg, norm);
        torch::Tensor loss = pg;
        add(kPg, pg);
        torch::Tensor ref;
        if (use_kl && !alg.kl_in_reward) {
          ref = gather_padded(ref_logp, mb, R, device);
          auto kl = aggregate_loss(kl_penalty(cur.logp, ref, alg.kl_estimator), loss_mask, alg.loss_agg, norm);
          loss = loss + alg.kl_coef * kl;
          add(kKl, kl);
        }
        if (alg.entropy_coef > 0) {
          auto ent = aggregate_loss(cur.entropy, loss_mask, alg.loss_agg, norm);
          loss = loss - alg.entropy_coef * ent;
          add(kEnt, ent);
        }
        if (ctx.hooks.micro_batch_loss) {
          MicroBatchView view{epoch, mini_index, mb, cur.logp.detach(), old, ref, sampled,
                              cur.entropy.defined() ? cur.entropy.detach() : cur.entropy, cur.mask, loss_mask, A, norm};
          ctx.hooks.micro_batch_loss(step, view, loss);
        }
        loss.backward();
        mini_loss_t += loss.detach().to(torch::kFloat64);
        add(kClipped, pl.clipped);
        add(kDual, pl.dual_clipped);
        add(kTokens, pl.tokens);
        ratio_min_t = torch::minimum(ratio_min_t, pl.ratio_min.detach().to(torch::kFloat64));
        ratio_max_t = torch::maximum(ratio_max_t, pl.ratio_max.detach().to(torch::kFloat64));
      };
      // Gradients are reduced across ranks bucket by bucket during the backward passes (no-op
      // at world size 1): in the last one (ZeRO 0/1), or in every one (ZeRO-2). A rank with
      // fewer micro-batches here takes part with zeros.
      const size_t passes = ctx.grads.passes(mbs.size());
      for (size_t k = 0; k < passes; ++k) {
        ctx.grads.before_backward(k, passes);
        if (k < mbs.size()) micro_batch_backward(mbs[k]);
        else if (ctx.grads.needs_idle_pass()) idle_pass(ctx.policy);
        ctx.grads.after_backward(k, passes);
      }
      // Partial losses of one global loss; one read per mini-batch (the skip decision needs it).
      const double mini_loss = ctx.dist.all_reduce(mini_loss_t.item<double>(), ReduceOp::kSum);
      GradNorm gn = clip_grad_norm(ctx.optimizer.params(), cfg.optim.grad_clip, ctx.grads.sharded() ? &ctx.dist : nullptr);
      if (!gn.finite || !std::isfinite(mini_loss)) {
        // A non-finite loss or gradient: skip this update, keep the weights.
        ++skipped;
        ctx.optimizer.zero_grad();
        continue;
      }
      ctx.dist.optimizer_step(ctx.optimizer, lr);  // ZeRO-1: each rank its shard, then broadcasts
      ctx.grads.after_step();
      ctx.optimizer.zero_grad();
      loss_sum += mini_loss;
      grad_norm_sum += gn.norm;
      ++updates;
    }
  }
  ctx.bad_steps_in_a_row = skipped > 0 && updates == 0 ? ctx.bad_steps_in_a_row + 1 : 0;
  const double update_s = seconds_since(t);

  // ---- 7. Metrics: over the global batch (the same on every rank, except time/*) ----
  const torch::Tensor acc_host = acc.cpu();
  const double* a = acc_host.data_ptr<double>();
  struct {  // every rank's contribution, summed over ranks in one collective
    double pg, kl, ent, clipped, dual, tokens, entropy, response_tokens, truncated, update_tokens;
    double reward_kl, reward_kl_tokens, mismatch_abs, mismatch_kl, mismatch_w, mismatch_w2;
    double mismatch_tokens, tis_weight, groups_seen, groups_dropped, groups_filled, masked_out;
  } sum{a[kPg], a[kKl], a[kEnt], a[kClipped], a[kDual], a[kTokens], entropy_sum + a[kEntropyMetric],
        double(response_tokens), double(truncated), 0, reward_kl_sum, reward_kl_tokens,
        a[kMismatchAbs], a[kMismatchKl], a[kMismatchW], a[kMismatchW2], a[kMismatchTokens], a[kTisWeight],
        double(groups_seen), double(groups_dropped), double(groups_filled), 0};
  for (size_t n = 0; n < N; ++n) {
    sum.update_tokens += double(seqs[n].length());
    sum.masked_out += in_loss[n] ? 0 : 1;
  }
  sum_over_ranks(ctx.dist, sum.pg, sum.kl, sum.ent, sum.clipped, sum.dual, sum.tokens, sum.entropy,
                 sum.response_tokens, sum.truncated, sum.update_tokens, sum.reward_kl, sum.reward_kl_tokens,
                 sum.mismatch_abs, sum.mismatch_kl, sum.mismatch_w, sum.mismatch_w2, sum.mismatch_tokens,
                 sum.tis_weight, sum.groups_seen, sum.groups_dropped, sum.groups_filled, sum.masked_out);
  component_sums = ctx.dist.all_reduce(component_sums, ReduceOp::kSum);
  all_reduce_sums(ctx.dist, judged);
  const double ratio_min = ctx.dist.all_reduce(ratio_min_t.item<double>(), ReduceOp::kMin);
  const double ratio_max = ctx.dist.all_reduce(ratio_max_t.item<double>(), ReduceOp::kMax);
  longest = int64_t(ctx.dist.all_reduce(double(longest), ReduceOp::kMax));
  const double N_all = double(N) * double(W);
  const double mini_count = double(std::max<int64_t>(1, updates));  // loss/*: means over applied updates
  m.set("reward/mean", rewards_all.mean().item<double>());
  m.set("reward/std", rewards_all.numel() > 1 ? rewards_all.std().item<double>() : 0.0);
  for (size_t c = 0; c < component_sums.size(); ++c)
    m.set("reward/" + ctx.reward.names()[c], component_sums[c] / N_all);
  auto judged_json = judged.to_json();
  auto num = [](const ordered_json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; };
  m.set("judgment/format_valid_rate", num(judged_json, "format_valid_rate"));
  m.set("judgment/pairwise_accuracy", num(judged_json, "pairwise_accuracy"));
  m.set("advantage/mean", adv.values.mean().item<double>());
  m.set("advantage/abs_mean", adv.values.abs().mean().item<double>());
  m.set("advantage/zero_variance_groups", double(adv.zero_variance_groups) / double(std::max<int64_t>(1, adv.groups)));
  if (ds.enabled) {
    m.set("dynamic_sampling/rounds", double(rounds));
    m.set("dynamic_sampling/groups_seen", sum.groups_seen);
    m.set("dynamic_sampling/groups_dropped", sum.groups_dropped);
    m.set("dynamic_sampling/groups_kept", double(global_items) - sum.groups_filled);
    m.set("dynamic_sampling/groups_filled", sum.groups_filled);  // without signal, to complete the batch
  }
  m.set("loss/total", loss_sum / mini_count);
  m.set("loss/pg", sum.pg / mini_count);
  if (use_kl && !alg.kl_in_reward) m.set("loss/kl", sum.kl / mini_count);
  if (use_kl && alg.kl_in_reward) {  // the KL shaped the rewards, it is not in the loss
    m.set("reward/kl_penalty", alg.kl_coef * sum.reward_kl / N_all);  // mean β·Σ_t kl subtracted
    m.set("kl/token_mean", sum.reward_kl / std::max(1.0, sum.reward_kl_tokens));
  }
  if (alg.entropy_coef > 0) m.set("loss/entropy", sum.ent / mini_count);
  const double tok = std::max(1.0, sum.tokens);
  m.set("policy/clip_fraction", sum.clipped / tok);
  if (alg.dual_clip > 0) m.set("policy/dual_clip_fraction", sum.dual / tok);
  m.set("policy/ratio_min", ratio_min);
  m.set("policy/ratio_max", ratio_max);
  // Sampler against trainer on the sampled tokens, before any update of this step.
  const double mm_tok = std::max(1.0, sum.mismatch_tokens);
  m.set("mismatch/logp_abs_diff", sum.mismatch_abs / mm_tok);
  m.set("mismatch/kl", sum.mismatch_kl / mm_tok);
  m.set("mismatch/ess", sum.mismatch_w2 > 0 ? sum.mismatch_w * sum.mismatch_w / (mm_tok * sum.mismatch_w2) : NAN);
  if (alg.tis.level != config::TisLevel::kNone) m.set("mismatch/tis_weight_mean", sum.tis_weight / tok);
  if (alg.mask_truncated) m.set("response/masked_truncated_share", sum.masked_out / N_all);
  m.set("optim/lr", lr);
  m.set("optim/grad_norm", updates ? grad_norm_sum / double(updates) : NAN);
  m.set("optim/skipped_updates", double(skipped));
  m.set("policy/entropy", sum.entropy / std::max(1.0, sum.response_tokens));
  m.set("response/length_mean", sum.response_tokens / N_all);
  m.set("response/length_max", double(longest));
  m.set("response/truncated_share", sum.truncated / N_all);
  m.set("rollout/rows_per_call", double(rollout_stats.rows_per_call));  // rank 0's (its longest prompt decides)
  if (cfg.rollout.engine == config::RolloutEngine::kPaged) {  // rank 0's
    m.set("rollout/prefix_hit_rate", rollout_stats.prompt_tokens > 0
                                         ? double(rollout_stats.prompt_tokens_cached) / double(rollout_stats.prompt_tokens)
                                         : 0.0);
    m.set("rollout/preemptions", double(rollout_stats.preemptions));
  }
  m.set("time/rollout_s", rollout_s);
  m.set("time/reference_s", reference_s);
  m.set("time/update_s", update_s);
  m.set("time/step_s", seconds_since(step_start));
  m.set("throughput/rollout_tokens_per_s", sum.response_tokens / std::max(1e-9, rollout_s));
  m.set("throughput/update_tokens_per_s", sum.update_tokens * double(alg.ppo_epochs) / std::max(1e-9, update_s));
  m.set("memory/peak_rss_gib", peak_rss_gib());  // host memory; on a GPU the device peak is not reported yet
  if (ctx.hooks.step_end) ctx.hooks.step_end(step, ctx.policy, m);
  return m;
}

}  // namespace principia::trainer
