// GRPO's tensor math, verl-style: small pure functions over [B, T] tensors (B sequences,
// T response positions, `mask` = 1 on response tokens that count). No model, no data, no state.
//
// Advantage estimators and policy losses are registries (name -> function), as in verl: a
// variant is one function, one line in its table (core_algos.cpp) and a unit test; the YAML
// names it (algorithm.advantage, algorithm.policy_loss) and a run resolves it once at start.
//
// The GRPO step uses them in this order (DESIGN.md §One GRPO step):
//   rewards [groups, G]   --(kl_in_reward: apply_kl_to_rewards)-->  compute_advantages
//   log-probs and entropy of the sampled tokens: model/token_logprobs, chunked over positions
//     so no [B, T, V] tensor is ever held; token_log_probs / entropy_from_logits below are the
//     unchunked definitions the tests hold it to
//   sampler_mismatch(old_logp, sampler_logp)             (metrics)
//   loss_fn(logp, old_logp, A, mask).pg [× truncated_is_weights]  --aggregate_loss--> pg_loss
//   kl_penalty(logp, ref_logp)                         --aggregate_loss-->  kl_loss  (× β)
//   entropy                                            --aggregate_loss-->  ent_loss (× η)
//   loss = pg_loss + β·kl_loss − η·ent_loss;  loss.backward() per micro-batch.
// aggregate_loss divides by GLOBAL counts (LossNorm: the step sums the response lengths of the
// mini-batch over its micro-batches and ranks), so the micro-batch losses add up to the
// mini-batch loss. count_tokens gives the same counts from a mask.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace principia::trainer {

// ---------------------------------------------------------------------------------------------
// Advantages (one scalar per sequence; GRPO rewards are sequence-level)

struct Advantages {
  at::Tensor values;  // [groups, G], the rewards' floating dtype
  int64_t groups = 0;
  int64_t zero_variance_groups = 0;  // every reward in the group equal: advantage 0, no signal
};

// An advantage estimator: rewards [groups, G] (float, G ≥ 2) -> advantages [groups, G]. The
// registry wraps it with the shape checks and the zero-variance rule below.
using AdvantageFn = at::Tensor (*)(const at::Tensor& rewards, double eps);

// With mean_g, std_g a group's mean and UNBIASED standard deviation (divide by G − 1):
//   grpo:      A = (r − mean_g) / (std_g + eps)
at::Tensor grpo_advantages(const at::Tensor& rewards, double eps);
//   drgrpo:    A =  r − mean_g                                   (Dr.GRPO: no std)
at::Tensor drgrpo_advantages(const at::Tensor& rewards, double eps);
//   batch_std: A = (r − mean_g) / (std_batch + eps)  std_batch: unbiased std of all rewards
//              (pass the whole all-rank batch)
at::Tensor batch_std_advantages(const at::Tensor& rewards, double eps);

struct AdvantageEstimator {
  const char* name;  // algorithm.advantage
  AdvantageFn fn;
};
const std::vector<AdvantageEstimator>& advantage_estimators();  // the registry, in YAML order

// The estimator registered under `name`; principia::Error listing the names otherwise.
const AdvantageEstimator& advantage_estimator(const std::string& name);

// Applies `estimator` to rewards [groups, G]. A group whose rewards are all exactly equal gets
// A = 0 (not (r − mean)/eps of rounding noise) and is counted in zero_variance_groups.
Advantages compute_advantages(const at::Tensor& rewards, const AdvantageEstimator& estimator,
                              double eps);

// KL in the reward (algorithm.kl_in_reward). GRPO rewards are per sequence, so the per-token
// penalty is summed over the sequence's response tokens and subtracted from its reward before
// the advantages (what verl does: token rewards − β·kl, then the outcome estimators sum them):
//   r'_s = r_s − β · Σ_t kl_{s,t}·mask_{s,t}
// rewards: [B] (or [groups, G], flattened in row order = B); kl: [B, T]. Returns rewards' shape.
// The KL is treated as a constant (detached): it shapes the reward, it is not back-propagated.
at::Tensor apply_kl_to_rewards(const at::Tensor& rewards, const at::Tensor& kl,
                               const at::Tensor& mask, double beta);

// ---------------------------------------------------------------------------------------------
// Per-token quantities

// log p(ids | logits) = logits[ids] − logsumexp(logits), computed in float32.
// logits [..., V], ids [...] (int64) -> [...].
at::Tensor token_log_probs(const at::Tensor& logits, const at::Tensor& ids);

// Entropy of softmax(logits) over the last dim: H = logsumexp(z) − Σ_v softmax(z)_v · z_v.
// logits [..., V] -> [...], float32.
at::Tensor entropy_from_logits(const at::Tensor& logits);

// Per-token KL estimate of KL(π ‖ π_ref) from sampled tokens (Schulman's estimators), with
// d = ref_logp − logp (clamped to ±20 like the ratio, so exp cannot overflow):
//   k1 = logp − ref_logp = −d
//   k2 = ½ (logp − ref_logp)² = ½ d²
//   k3 = exp(d) − d − 1          (unbiased, always ≥ 0; the default)
at::Tensor kl_penalty(const at::Tensor& logp, const at::Tensor& ref_logp,
                      config::KlEstimator estimator);

// ---------------------------------------------------------------------------------------------
// Clipped surrogate

struct ClipOptions {
  double low = 0.2;   // ε_low
  double high = 0.2;  // ε_high
  double dual = 0.0;  // c > 1 turns on dual clip for A < 0; 0 = off
  static ClipOptions from(const config::AlgorithmConfig& a) {
    return {a.clip_low, a.clip_high, a.dual_clip};
  }
};

// Statistics are 0-d detached tensors (no device sync); sum them over micro-batches and call
// .item() once. clipped / dual_clipped / tokens are counts over masked tokens.
struct PolicyLoss {
  at::Tensor pg;            // [B, T] per-token loss (NOT masked; aggregate_loss applies mask)
  at::Tensor clipped;       // tokens where the ε-clipped branch is strictly larger (verl clipfrac)
  at::Tensor dual_clipped;  // A < 0 tokens where the dual-clip bound −c·A was taken
  at::Tensor tokens;        // masked tokens
  at::Tensor ratio_min;     // over masked tokens (+inf when there are none)
  at::Tensor ratio_max;     // over masked tokens (−inf when there are none)
};

// A policy loss: logp, old_logp, mask [B, T]; advantages [B] (one per sequence, broadcast) or
// [B, T]. Gradients flow through logp only.
using PolicyLossFn = PolicyLoss (*)(const at::Tensor& logp, const at::Tensor& old_logp,
                                    const at::Tensor& advantages, const at::Tensor& mask,
                                    const ClipOptions& clip);

// clipped: PPO's token-level clipped surrogate.
//   ratio = exp(clamp(logp − old_logp, −20, 20))
//   pg    = max(−A·ratio, −A·clip(ratio, 1 − ε_low, 1 + ε_high))
//   dual clip (c > 1), for A < 0 only:  pg = min(pg, −c·A)
PolicyLoss policy_loss(const at::Tensor& logp, const at::Tensor& old_logp,
                       const at::Tensor& advantages, const at::Tensor& mask,
                       const ClipOptions& clip);

// gspo (Group Sequence Policy Optimization): one importance ratio per sequence, the geometric
// mean of its token ratios, clipped as a whole:
//   s     = exp( Σ_t (logp − old_logp)·mask / Σ_t mask )
//   pg_t  = max(−A·r_t, −A·clip(r_t, 1 − ε_low, 1 + ε_high)),  r_t = sg(s)·π_t / sg(π_t)
// r_t has the value s and the gradient s·∇log π_t, so with seq-mean-token-mean aggregation the
// gradient is GSPO's (1/N) Σ_s A_s·s·(1/|y_s|) Σ_t ∇log π_t; a clipped sequence gets no
// gradient at all. GSPO's ε are small (3e-4 / 4e-4 in the paper); dual clip does not apply.
// clipped counts the tokens of clipped sequences; ratio_min/max are over sequence ratios.
PolicyLoss gspo_policy_loss(const at::Tensor& logp, const at::Tensor& old_logp,
                            const at::Tensor& advantages, const at::Tensor& mask,
                            const ClipOptions& clip);

struct PolicyLossSpec {
  const char* name;  // algorithm.policy_loss
  PolicyLossFn fn;
  bool reads_dual_clip;  // algorithm.dual_clip > 0 with a loss that ignores it is a config error
};
const std::vector<PolicyLossSpec>& policy_losses();  // the registry, in YAML order

// The loss registered under `name`; principia::Error listing the names otherwise.
const PolicyLossSpec& policy_loss_spec(const std::string& name);

// ---------------------------------------------------------------------------------------------
// Sampler / trainer mismatch (the rollout's own log-probs against the trainer's recomputation)

// Sums over masked tokens (0-d float64 tensors; add them over micro-batches and ranks), with
// d = trainer_logp − sampler_logp and w = exp(d), the per-token importance weight:
//   abs_diff = Σ |d|                      mean |Δ log p| = abs_diff / tokens
//   kl       = Σ exp(d) − d − 1           k3 estimate of KL(sampler ‖ trainer), per token
//   w, w2    = Σ w, Σ w²                  effective sample size = (Σ w)² / (tokens · Σ w²) ∈ (0, 1]
struct MismatchSums {
  at::Tensor abs_diff, kl, w, w2, tokens;
};
MismatchSums sampler_mismatch(const at::Tensor& trainer_logp, const at::Tensor& sampler_logp,
                              const at::Tensor& mask);

// Truncated importance sampling weights [B, T] (detached; multiply the per-token policy loss):
//   token:    w_t = min(exp(old_logp_t − sampler_logp_t), cap)
//   sequence: w   = min(exp(Σ_t (old_logp − sampler_logp)·mask / Σ_t mask), cap), every token
// old_logp is the trainer's log-prob of the policy that sampled (what the sampler should have
// computed); kNone gives ones.
at::Tensor truncated_is_weights(const at::Tensor& old_logp, const at::Tensor& sampler_logp,
                                const at::Tensor& mask, config::TisLevel level, double cap);

// ---------------------------------------------------------------------------------------------
// Aggregation

// The normalisers of one mini-batch, summed over all its micro-batches and ranks.
struct LossNorm {
  double tokens = 0;             // Σ mask
  double seqs = 0;               // sequences with at least one masked token
  int64_t max_response_len = 0;  // the constant L for seq-mean-token-sum-norm (max_new_tokens)
  LossNorm& operator+=(const LossNorm& o) {
    tokens += o.tokens;
    seqs += o.seqs;
    return *this;
  }
};

// Counts of one micro-batch (max_response_len left 0: set it from the config).
LossNorm count_tokens(const at::Tensor& mask);

// loss, mask: [B, T] -> 0-d. With S_s = Σ_t loss_{s,t}·mask_{s,t}, n_s = Σ_t mask_{s,t}:
//   token-mean:              Σ_s S_s / N_tokens
//   seq-mean-token-mean:     Σ_s (S_s / n_s) / N_seqs         (sequences with n_s = 0 add 0)
//   seq-mean-token-sum:      Σ_s S_s / N_seqs
//   seq-mean-token-sum-norm: Σ_s S_s / (N_seqs · L)           L = norm.max_response_len
// N_tokens, N_seqs are the GLOBAL counts in `norm`, so every mode is a plain sum over
// sequences: micro-batch results add up exactly to the result on the whole mini-batch.
// seq-mean-token-sum-norm is Dr.GRPO's constant normaliser; verl divides each micro-batch's
// token sum by L and scales it by micro/mini batch size, which nets out to the same formula.
at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, config::LossAgg mode,
                          const LossNorm& norm);

// ---------------------------------------------------------------------------------------------
// Config checks that need the registries: unknown names (the error lists the registered ones),
// keys the chosen variant ignores, dynamic sampling's component. principia::Error naming the
// key path and where it was set.
void validate_algorithm(const config::Config& cfg);

}  // namespace principia::trainer
