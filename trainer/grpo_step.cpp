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

// Judgment counts summed over ranks, so rates are over the global batch.
void all_reduce_sums(Dist& dist, rewards::MetricSums& m) {
  auto v = dist.all_reduce({double(m.judgments), double(m.json_parsed), double(m.bracket_extraction),
                            double(m.format_valid), double(m.pairs), double(m.pairs_tied), m.pairs_right,
                            m.tau_sum, double(m.tau_items), m.ndcg_sum, m.variance_sum,
                            double(m.variance_items)},
                           ReduceOp::kSum);
  m.judgments = int64_t(v[0]), m.json_parsed = int64_t(v[1]), m.bracket_extraction = int64_t(v[2]);
  m.format_valid = int64_t(v[3]), m.pairs = int64_t(v[4]), m.pairs_tied = int64_t(v[5]), m.pairs_right = v[6];
  m.tau_sum = v[7], m.tau_items = int64_t(v[8]), m.ndcg_sum = v[9], m.variance_sum = v[10];
  m.variance_items = int64_t(v[11]);
}

}  // namespace

StepMetrics grpo_step(GrpoContext& ctx, const std::vector<data::Record>& items,
                      const std::vector<int64_t>& item_indices, int64_t step) {
  const auto& cfg = ctx.cfg;
  const auto& alg = cfg.algorithm;
  const int64_t G = cfg.rollout.group_size;
  const uint64_t seed = uint64_t(cfg.run.seed);
  const auto step_start = Clock::now();
  StepMetrics m;

  // ---- 1. Render: every sample sees the candidates in its own random order ----
  std::vector<Sequence> seqs;
  std::vector<rewards::NameMapping> mappings;
  std::vector<model::GenerationRequest> requests;
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t g = 0; g < G; ++g) {
      auto perm = sample_permutation(seed, step, item_indices[i], g, items[i].size());
      auto rendered = ctx.format.render(items[i], perm);
      auto ids = ctx.format.prompt_ids(rendered);
      Sequence s;
      s.prompt.assign(ids.begin(), ids.end());
      seqs.push_back(std::move(s));
      mappings.push_back(rendered.mapping);
      uint64_t sample_seed = Rng::derive(seed, {0x5a3bULL, uint64_t(step), uint64_t(item_indices[i]), uint64_t(g)}).next();
      requests.push_back({seqs.back().prompt, sample_seed});
    }
  }

  // ---- 2. Rollout: G completions per item from the current policy ----
  auto t = Clock::now();
  model::SamplingOptions sampling;
  sampling.max_new_tokens = cfg.rollout.max_new_tokens;
  sampling.temperature = cfg.rollout.temperature;
  sampling.top_p = cfg.rollout.top_p;
  sampling.top_k = cfg.rollout.top_k;
  sampling.eos_ids = ctx.format.stop_ids();
  sampling.use_config_eos = false;
  // Rows per generate() call: bounded by rollout.generation_batch and the KV byte budget, each
  // row reserving KV for the longest prompt here plus max_new_tokens.
  size_t longest_prompt = 0;
  for (const auto& s : seqs) longest_prompt = std::max(longest_prompt, s.prompt.size());
  const auto& shape = ctx.policy.config();
  const double kv_row = kv_bytes_per_token(shape.num_layers, shape.num_kv_heads, shape.head_dim,
                                           double(ctx.policy.parameters().front().element_size())) *
                        double(int64_t(longest_prompt) + cfg.rollout.max_new_tokens);
  const int64_t rows_per_call = generation_rows(cfg.rollout, int64_t(requests.size()), kv_row);
  // ZeRO-3: the policy's full weights, gathered once for the rollout and the old log-probs.
  std::optional<model::FullWeights> policy_weights(std::in_place, ctx.policy);
  auto generations = model::generate_in_batches(ctx.policy, requests, sampling, rows_per_call);
  const double rollout_s = seconds_since(t);

  // ---- 3. Reward: parse, map shown names back, score against gold ----
  t = Clock::now();
  const size_t N = seqs.size();
  std::vector<float> reward_values(N);
  std::vector<double> component_sums(ctx.reward.names().size(), 0.0);
  rewards::MetricSums judged;
  int64_t truncated = 0, response_tokens = 0, longest = 0;
  rewards::RewardBreakdown breakdown;
  for (size_t n = 0; n < N; ++n) {
    const auto& gen = generations[n];
    seqs[n].response = gen.ids;
    if (gen.finish == model::FinishReason::kLength) ++truncated;
    response_tokens += int64_t(gen.ids.size());
    longest = std::max<int64_t>(longest, int64_t(gen.ids.size()));
    rewards::Judgment judgment = rewards::parse_judgment(ctx.format.decode_response(gen.ids));
    rewards::remap_names(judgment, mappings[n]);
    rewards::Gold gold = gold_of(items[n / size_t(G)]);
    ctx.reward.score(judgment, gold, &breakdown);
    reward_values[n] = float(breakdown.total);
    for (size_t c = 0; c < component_sums.size(); ++c) component_sums[c] += breakdown.values[c];
    judged.add(judgment, gold);
  }
  torch::Tensor rewards_t = torch::from_blob(reward_values.data(), {int64_t(items.size()), G}, torch::kFloat32).clone();
  const double reward_s = seconds_since(t);

  // ---- 4. Old-policy and reference log-probs on the sampled tokens ----
  // On-policy (one epoch, one mini-batch, KL not folded into the reward): the policy has not
  // moved since the rollout when the only update's forward runs, so that forward's detached
  // log-probs are the old ones (TRL does the same for num_iterations = 1). This saves one
  // forward pass over the batch.
  t = Clock::now();
  const double temperature = cfg.rollout.temperature;
  const bool use_kl = alg.kl_coef > 0 && ctx.reference != nullptr;
  const int64_t W = ctx.dist.world_size(), local_items = int64_t(items.size()), global_items = local_items * W;
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
  // per-group modes give the same values either way.
  torch::Tensor rewards_all = ctx.dist.all_gather(rewards_t);
  Advantages adv = compute_advantages(ctx.dist.all_gather(shaped), alg.advantage, alg.adv_eps);
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
  enum Acc { kPg, kKl, kEnt, kEntropyMetric, kClipped, kDual, kTokens, kAccSize };
  torch::Tensor acc = torch::zeros({kAccSize}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  torch::Tensor ratio_min_t = torch::full({}, INFINITY, acc.options());
  torch::Tensor ratio_max_t = torch::full({}, -INFINITY, acc.options());
  auto add = [&](Acc slot, const torch::Tensor& v) { acc[slot] += v.detach().to(torch::kFloat64); };
  int64_t updates = 0, skipped = 0;
  Rng order_rng = Rng::derive(seed, {0x0dd5ULL, uint64_t(step)});
  for (int64_t epoch = 0; epoch < alg.ppo_epochs; ++epoch) {
    std::vector<size_t> item_order(static_cast<size_t>(global_items));  // global item indices
    for (size_t i = 0; i < item_order.size(); ++i) item_order[i] = i;
    order_rng.shuffle(item_order);
    for (size_t start = 0; start < item_order.size(); start += size_t(items_per_mini)) {
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
        double len = double(seqs[n].response.size());
        norm.tokens += len;
        norm.seqs += len > 0 ? 1 : 0;
      }
      auto global_norm = ctx.dist.all_reduce({norm.tokens, norm.seqs}, ReduceOp::kSum);
      norm.tokens = global_norm[0];
      norm.seqs = global_norm[1];
      norm.max_response_len = cfg.rollout.max_new_tokens;
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
        auto A = adv_flat.index_select(0, torch::tensor(mb_idx)).to(device);
        PolicyLoss pl = policy_loss(cur.logp, old, A, cur.mask, clip);
        torch::Tensor pg = aggregate_loss(pl.pg, cur.mask, alg.loss_agg, norm);
        torch::Tensor loss = pg;
        add(kPg, pg);
        if (use_kl && !alg.kl_in_reward) {
          auto kl = aggregate_loss(kl_penalty(cur.logp, gather_padded(ref_logp, mb, R, device), alg.kl_estimator),
                                   cur.mask, alg.loss_agg, norm);
          loss = loss + alg.kl_coef * kl;
          add(kKl, kl);
        }
        if (alg.entropy_coef > 0) {
          auto ent = aggregate_loss(cur.entropy, cur.mask, alg.loss_agg, norm);
          loss = loss - alg.entropy_coef * ent;
          add(kEnt, ent);
        }
        if (std::find(ctx.inject_nonfinite_steps.begin(), ctx.inject_nonfinite_steps.end(), step) !=
            ctx.inject_nonfinite_steps.end())
          loss = loss * std::numeric_limits<double>::quiet_NaN();
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
  double pg_sum = a[kPg], kl_sum = a[kKl], ent_sum = a[kEnt];
  entropy_sum += a[kEntropyMetric];
  double clipped = a[kClipped], dual = a[kDual], tokens = a[kTokens];
  double ratio_min = ratio_min_t.item<double>(), ratio_max = ratio_max_t.item<double>();
  int64_t update_tokens = 0;
  for (const auto& s : seqs) update_tokens += s.length();
  {
    auto sums = ctx.dist.all_reduce({pg_sum, kl_sum, ent_sum, clipped, dual, tokens, entropy_sum, double(response_tokens),
                                     double(truncated), double(update_tokens), reward_kl_sum, reward_kl_tokens},
                                    ReduceOp::kSum);
    pg_sum = sums[0], kl_sum = sums[1], ent_sum = sums[2];
    clipped = sums[3], dual = sums[4], tokens = sums[5];
    entropy_sum = sums[6], response_tokens = int64_t(sums[7]), truncated = int64_t(sums[8]);
    update_tokens = int64_t(sums[9]);
    reward_kl_sum = sums[10], reward_kl_tokens = sums[11];
    component_sums = ctx.dist.all_reduce(component_sums, ReduceOp::kSum);
    all_reduce_sums(ctx.dist, judged);
    ratio_min = ctx.dist.all_reduce(ratio_min, ReduceOp::kMin);
    ratio_max = ctx.dist.all_reduce(ratio_max, ReduceOp::kMax);
    longest = int64_t(ctx.dist.all_reduce(double(longest), ReduceOp::kMax));
  }
  const size_t N_local = N;
  const size_t N_all = N_local * size_t(ctx.dist.world_size());
  const int64_t mini_count = std::max<int64_t>(1, updates);  // loss/*: means over applied updates
  m.set("reward/mean", rewards_all.mean().item<double>());
  m.set("reward/std", rewards_all.numel() > 1 ? rewards_all.std().item<double>() : 0.0);
  for (size_t c = 0; c < component_sums.size(); ++c)
    m.set("reward/" + ctx.reward.names()[c], component_sums[c] / double(N_all));
  auto judged_json = judged.to_json();
  auto num = [](const ordered_json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; };
  m.set("judgment/format_valid_rate", num(judged_json, "format_valid_rate"));
  m.set("judgment/pairwise_accuracy", num(judged_json, "pairwise_accuracy"));
  m.set("advantage/mean", adv.values.mean().item<double>());
  m.set("advantage/abs_mean", adv.values.abs().mean().item<double>());
  m.set("advantage/zero_variance_groups", double(adv.zero_variance_groups) / double(std::max<int64_t>(1, adv.groups)));
  m.set("loss/total", loss_sum / double(mini_count));
  m.set("loss/pg", pg_sum / double(mini_count));
  if (use_kl && !alg.kl_in_reward) m.set("loss/kl", kl_sum / double(mini_count));
  if (use_kl && alg.kl_in_reward) {  // the KL shaped the rewards, it is not in the loss
    m.set("reward/kl_penalty", alg.kl_coef * reward_kl_sum / double(N_all));  // mean β·Σ_t kl subtracted
    m.set("kl/token_mean", reward_kl_sum / std::max(1.0, reward_kl_tokens));
  }
  if (alg.entropy_coef > 0) m.set("loss/entropy", ent_sum / double(mini_count));
  double tok = std::max(1.0, tokens);
  m.set("policy/clip_fraction", clipped / tok);
  if (alg.dual_clip > 0) m.set("policy/dual_clip_fraction", dual / tok);
  m.set("policy/ratio_min", ratio_min);
  m.set("policy/ratio_max", ratio_max);
  m.set("optim/lr", lr);
  m.set("optim/grad_norm", updates ? grad_norm_sum / double(updates) : NAN);
  m.set("optim/skipped_updates", double(skipped));
  m.set("policy/entropy", entropy_sum / double(std::max<int64_t>(1, response_tokens)));
  m.set("response/length_mean", double(response_tokens) / double(N_all));
  m.set("response/length_max", double(longest));
  m.set("response/truncated_share", double(truncated) / double(N_all));
  m.set("rollout/rows_per_call", double(rows_per_call));  // rank 0's (its longest prompt decides)
  m.set("time/rollout_s", rollout_s);
  m.set("time/reward_s", reward_s);
  m.set("time/reference_s", reference_s);
  m.set("time/update_s", update_s);
  m.set("time/step_s", seconds_since(step_start));
  m.set("throughput/rollout_tokens_per_s", double(response_tokens) / std::max(1e-9, rollout_s));
  m.set("throughput/update_tokens_per_s", double(update_tokens * alg.ppo_epochs) / std::max(1e-9, update_s));
  m.set("memory/peak_rss_gib", peak_rss_gib());  // host memory; on a GPU the device peak is not reported yet
  return m;
}

}  // namespace principia::trainer
