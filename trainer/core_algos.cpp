#include "trainer/core_algos.h"

#include <torch/torch.h>

#include <limits>
#include <string>
#include <vector>
#include <sstream>

#include "core/error.h"

namespace principia::trainer {
namespace {

std::string shape_str(const at::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

void check(bool ok, const std::string& what) {
  if (!ok) throw Error("trainer: " + what);
}

void check_same_shape(const at::Tensor& a, const char* a_name, const at::Tensor& b,
                      const char* b_name, const char* fn) {
  check(a.sizes() == b.sizes(), std::string(fn) + ": " + a_name + " " + shape_str(a) + " and " +
                                    b_name + " " + shape_str(b) + " must have the same shape");
}

at::Tensor as_float(const at::Tensor& t) {
  return t.is_floating_point() ? t : t.to(torch::kFloat);
}

// The mask in the loss's dtype (bool/int masks welcome).
at::Tensor mask_like(const at::Tensor& mask, const at::Tensor& like) {
  return mask.to(like.scalar_type());
}

// A policy loss's inputs checked and in one float dtype: logp (keeps its graph), old_logp
// (detached) and the advantages detached, [B, 1] (one per sequence) or [B, T].
struct LossInputs {
  at::Tensor logp, old_logp, advantages;
};
LossInputs loss_inputs(const at::Tensor& logp_in, const at::Tensor& old_logp_in,
                       const at::Tensor& advantages, const at::Tensor& mask, const char* fn) {
  check_same_shape(logp_in, "logp", old_logp_in, "old_logp", fn);
  check_same_shape(logp_in, "logp", mask, "mask", fn);
  check(logp_in.dim() == 2, std::string(fn) + ": logp must be [B, T], got " + shape_str(logp_in));
  at::Tensor logp = as_float(logp_in);
  at::Tensor old_logp = as_float(old_logp_in.detach()).to(logp.scalar_type());
  at::Tensor a = advantages.detach().to(logp.scalar_type());
  if (a.dim() == 1) {
    check(a.size(0) == logp.size(0), std::string(fn) + ": advantages " + shape_str(a) +
                                         " must have one value per sequence of " + shape_str(logp));
    a = a.unsqueeze(1);
  } else {
    check_same_shape(a, "advantages", logp, "logp", fn);
  }
  return {logp, old_logp, a};
}

}  // namespace

at::Tensor grpo_advantages(const at::Tensor& r, double eps) {
  return (r - r.mean(1, true)) / (r.std(1, /*unbiased=*/true, /*keepdim=*/true) + eps);
}

at::Tensor drgrpo_advantages(const at::Tensor& r, double /*eps*/) { return r - r.mean(1, true); }

at::Tensor batch_std_advantages(const at::Tensor& r, double eps) {
  return (r - r.mean(1, true)) / (r.std(/*unbiased=*/true) + eps);
}

const std::vector<AdvantageEstimator>& advantage_estimators() {
  static const std::vector<AdvantageEstimator> table{
      {"grpo", grpo_advantages},
      {"drgrpo", drgrpo_advantages},
      {"batch_std", batch_std_advantages},
  };
  return table;
}

namespace {
template <class Spec>
const Spec& find_by_name(const std::vector<Spec>& table, const std::string& name, const char* what) {
  std::string known;
  for (const auto& s : table) {
    if (name == s.name) return s;
    known += std::string(known.empty() ? "" : ", ") + s.name;
  }
  throw Error("unknown " + std::string(what) + " '" + name + "' (known: " + known + ")");
}
}  // namespace

const AdvantageEstimator& advantage_estimator(const std::string& name) {
  return find_by_name(advantage_estimators(), name, "advantage estimator");
}

Advantages compute_advantages(const at::Tensor& rewards_in, const AdvantageEstimator& estimator,
                              double eps) {
  check(rewards_in.dim() == 2, "compute_advantages: rewards must be [groups, G], got " +
                                   shape_str(rewards_in));
  check(rewards_in.size(1) >= 2, "compute_advantages: group size must be at least 2, got " +
                                     std::to_string(rewards_in.size(1)));
  torch::NoGradGuard no_grad;
  at::Tensor r = as_float(rewards_in.detach());
  // Exactly equal rewards: the mean may differ from them by rounding, so test max == min.
  at::Tensor zero_var = std::get<0>(r.max(1, true)).eq(std::get<0>(r.min(1, true)));
  at::Tensor a = estimator.fn(r, eps).masked_fill(zero_var, 0.0);
  return {a, r.size(0), zero_var.sum().item<int64_t>()};
}

at::Tensor apply_kl_to_rewards(const at::Tensor& rewards, const at::Tensor& kl,
                               const at::Tensor& mask, double beta) {
  check_same_shape(kl, "kl", mask, "mask", "apply_kl_to_rewards");
  check(kl.dim() == 2 && rewards.numel() == kl.size(0),
        "apply_kl_to_rewards: rewards " + shape_str(rewards) + " must hold one value per row of kl " +
            shape_str(kl));
  torch::NoGradGuard no_grad;
  at::Tensor k = as_float(kl.detach());
  at::Tensor seq_kl = (k * mask_like(mask, k)).sum(1);
  at::Tensor r = as_float(rewards.detach());
  return r - beta * seq_kl.to(r.scalar_type()).reshape(r.sizes());
}

at::Tensor token_log_probs(const at::Tensor& logits, const at::Tensor& ids) {
  check(logits.dim() == ids.dim() + 1 && logits.sizes().slice(0, ids.dim()) == ids.sizes(),
        "token_log_probs: logits " + shape_str(logits) + " must be ids " + shape_str(ids) +
            " plus a vocabulary dim");
  at::Tensor z = logits.to(torch::kFloat);
  at::Tensor picked = z.gather(-1, ids.to(torch::kLong).unsqueeze(-1)).squeeze(-1);
  return picked - z.logsumexp(-1);
}

at::Tensor entropy_from_logits(const at::Tensor& logits) {
  at::Tensor z = logits.to(torch::kFloat);
  at::Tensor p = torch::softmax(z, -1);
  return z.logsumexp(-1) - (p * z).sum(-1);
}

at::Tensor kl_penalty(const at::Tensor& logp_in, const at::Tensor& ref_in,
                      config::KlEstimator estimator) {
  check_same_shape(logp_in, "logp", ref_in, "ref_logp", "kl_penalty");
  at::Tensor logp = as_float(logp_in);
  at::Tensor d = (as_float(ref_in) - logp).clamp(-20.0, 20.0);  // log(π_ref / π)
  switch (estimator) {
    case config::KlEstimator::kK1:
      return -d;
    case config::KlEstimator::kK2:
      return 0.5 * d * d;
    case config::KlEstimator::kK3:
      return d.exp() - d - 1.0;
  }
  throw Error("kl_penalty: unknown estimator");
}

PolicyLoss policy_loss(const at::Tensor& logp_in, const at::Tensor& old_logp_in,
                       const at::Tensor& advantages, const at::Tensor& mask_in,
                       const ClipOptions& clip) {
  check(clip.dual == 0.0 || clip.dual > 1.0,
        "policy_loss: dual clip constant must be > 1 (or 0 = off), got " +
            std::to_string(clip.dual));
  const auto [logp, old_logp, a] = loss_inputs(logp_in, old_logp_in, advantages, mask_in, "policy_loss");
  at::Tensor ratio = (logp - old_logp).clamp(-20.0, 20.0).exp();
  at::Tensor loss_unclipped = -a * ratio;
  at::Tensor loss_clipped = -a * ratio.clamp(1.0 - clip.low, 1.0 + clip.high);
  at::Tensor pg = torch::maximum(loss_unclipped, loss_clipped);

  torch::NoGradGuard no_grad;  // statistics only from here (pg keeps its graph)
  at::Tensor m = mask_in.to(torch::kBool);
  at::Tensor mf = m.to(logp.scalar_type());
  PolicyLoss out;
  out.clipped = (loss_clipped.detach() > loss_unclipped.detach()).to(mf.scalar_type()).mul(mf).sum();
  out.dual_clipped = torch::zeros({}, mf.options());
  if (clip.dual > 0) {
    at::Tensor bound = -clip.dual * a;  // > 0 where A < 0
    at::Tensor take_bound = a.lt(0).logical_and(pg.detach() > bound);
    out.dual_clipped = take_bound.expand_as(m).logical_and(m).sum().to(mf.scalar_type());
    torch::AutoGradMode enable(true);  // the result still needs its graph
    pg = torch::where(a.lt(0), torch::minimum(pg, bound), pg);
  }
  out.pg = pg;
  out.tokens = mf.sum();
  at::Tensor r = ratio.detach();
  const double inf = std::numeric_limits<double>::infinity();
  out.ratio_min = r.masked_fill(~m, inf).min();
  out.ratio_max = r.masked_fill(~m, -inf).max();
  return out;
}

PolicyLoss gspo_policy_loss(const at::Tensor& logp_in, const at::Tensor& old_logp_in,
                            const at::Tensor& advantages, const at::Tensor& mask_in,
                            const ClipOptions& clip) {
  const auto [logp, old_logp, a] = loss_inputs(logp_in, old_logp_in, advantages, mask_in, "gspo_policy_loss");
  at::Tensor mf = mask_like(mask_in, logp);
  at::Tensor n = mf.sum(1, true).clamp_min(1.0);
  at::Tensor seq_log_ratio = ((logp - old_logp) * mf).sum(1, true) / n;  // [B, 1]
  at::Tensor token_log_ratio = seq_log_ratio.detach() + logp - logp.detach();
  at::Tensor ratio = token_log_ratio.clamp(-20.0, 20.0).exp();
  at::Tensor loss_unclipped = -a * ratio;
  at::Tensor loss_clipped = -a * ratio.clamp(1.0 - clip.low, 1.0 + clip.high);
  at::Tensor pg = torch::maximum(loss_unclipped, loss_clipped);

  torch::NoGradGuard no_grad;
  at::Tensor m = mask_in.to(torch::kBool);
  PolicyLoss out;
  out.pg = pg;
  out.clipped = (loss_clipped.detach() > loss_unclipped.detach()).to(mf.scalar_type()).mul(mf).sum();
  out.dual_clipped = torch::zeros({}, mf.options());
  out.tokens = mf.sum();
  at::Tensor seq_ratio = seq_log_ratio.clamp(-20.0, 20.0).exp().squeeze(1);
  at::Tensor has_tokens = m.any(1);
  const double inf = std::numeric_limits<double>::infinity();
  out.ratio_min = seq_ratio.masked_fill(~has_tokens, inf).min();
  out.ratio_max = seq_ratio.masked_fill(~has_tokens, -inf).max();
  return out;
}

const std::vector<PolicyLossSpec>& policy_losses() {
  static const std::vector<PolicyLossSpec> table{
      {"clipped", policy_loss, /*reads_dual_clip=*/true},
      {"gspo", gspo_policy_loss, /*reads_dual_clip=*/false},
  };
  return table;
}

const PolicyLossSpec& policy_loss_spec(const std::string& name) {
  return find_by_name(policy_losses(), name, "policy loss");
}

MismatchSums sampler_mismatch(const at::Tensor& trainer_logp, const at::Tensor& sampler_logp,
                              const at::Tensor& mask) {
  check_same_shape(trainer_logp, "trainer_logp", sampler_logp, "sampler_logp", "sampler_mismatch");
  check_same_shape(trainer_logp, "trainer_logp", mask, "mask", "sampler_mismatch");
  torch::NoGradGuard no_grad;
  at::Tensor m = mask.to(torch::kFloat64);
  at::Tensor d = (trainer_logp.detach().to(torch::kFloat64) - sampler_logp.to(torch::kFloat64))
                     .clamp(-20.0, 20.0);
  at::Tensor w = d.exp();
  return {(d.abs() * m).sum(), ((w - d - 1.0) * m).sum(), (w * m).sum(), (w * w * m).sum(), m.sum()};
}

at::Tensor truncated_is_weights(const at::Tensor& old_logp, const at::Tensor& sampler_logp,
                                const at::Tensor& mask, config::TisLevel level, double cap) {
  check_same_shape(old_logp, "old_logp", sampler_logp, "sampler_logp", "truncated_is_weights");
  check_same_shape(old_logp, "old_logp", mask, "mask", "truncated_is_weights");
  check(cap >= 1.0, "truncated_is_weights: cap must be >= 1, got " + std::to_string(cap));
  torch::NoGradGuard no_grad;
  at::Tensor d = as_float(old_logp.detach()) - as_float(sampler_logp).to(as_float(old_logp).scalar_type());
  switch (level) {
    case config::TisLevel::kNone:
      return torch::ones_like(d);
    case config::TisLevel::kToken:
      return d.clamp(-20.0, 20.0).exp().clamp_max(cap);
    case config::TisLevel::kSequence: {
      at::Tensor mf = mask_like(mask, d);
      at::Tensor seq = (d * mf).sum(1, true) / mf.sum(1, true).clamp_min(1.0);
      return seq.clamp(-20.0, 20.0).exp().clamp_max(cap).expand_as(d).contiguous();
    }
  }
  throw Error("truncated_is_weights: unknown level");
}

void validate_algorithm(const config::Config& cfg) {
  const auto& alg = cfg.algorithm;
  auto fail = [&](const std::string& key, const std::string& msg) {
    throw Error(cfg.where(key), key, msg);
  };
  auto names = [](const auto& table) {
    std::string s;
    for (const auto& e : table) s += std::string(s.empty() ? "" : ", ") + e.name;
    return s;
  };
  const PolicyLossSpec* loss = nullptr;
  for (const auto& e : policy_losses())
    if (alg.policy_loss == e.name) loss = &e;
  if (!loss) fail("algorithm.policy_loss", "unknown policy loss '" + alg.policy_loss + "' (known: " + names(policy_losses()) + ")");
  bool known_adv = false;
  for (const auto& e : advantage_estimators()) known_adv |= alg.advantage == e.name;
  if (!known_adv)
    fail("algorithm.advantage", "unknown advantage estimator '" + alg.advantage + "' (known: " +
                                    names(advantage_estimators()) + ")");
  if (alg.dual_clip > 0 && !loss->reads_dual_clip)
    fail("algorithm.dual_clip", "policy loss '" + alg.policy_loss + "' has no dual clip: set it to 0");
  if (alg.dual_clip > 0 && alg.dual_clip <= 1)
    fail("algorithm.dual_clip", "the dual-clip constant must be > 1 (or 0 = off), got " + std::to_string(alg.dual_clip));
  if (alg.dynamic_sampling.enabled) {
    bool found = false;
    std::string listed;
    for (const auto& c : cfg.reward.components) {
      found |= c.name == alg.dynamic_sampling.component;
      listed += std::string(listed.empty() ? "" : ", ") + c.name;
    }
    if (!found)
      fail("algorithm.dynamic_sampling.component",
           "'" + alg.dynamic_sampling.component + "' is not in reward.components (" + listed + ")");
  }
}

LossNorm count_tokens(const at::Tensor& mask) {
  check(mask.dim() == 2, "count_tokens: mask must be [B, T], got " + shape_str(mask));
  at::Tensor per_seq = mask.to(torch::kDouble).sum(1);
  LossNorm n;
  n.tokens = per_seq.sum().item<double>();
  n.seqs = per_seq.gt(0).sum().item<double>();
  return n;
}

at::Tensor aggregate_loss(const at::Tensor& loss, const at::Tensor& mask, config::LossAgg mode,
                          const LossNorm& norm) {
  check_same_shape(loss, "loss", mask, "mask", "aggregate_loss");
  check(loss.dim() == 2, "aggregate_loss: loss must be [B, T], got " + shape_str(loss));
  at::Tensor m = mask_like(mask, loss);
  at::Tensor seq_sum = (loss * m).sum(1);  // S_s
  auto need = [&](double v, const char* what) {
    check(v > 0, std::string("aggregate_loss (") + config::enum_name(mode) + "): global " + what +
                     " must be > 0, got " + std::to_string(v));
    return v;
  };
  switch (mode) {
    case config::LossAgg::kTokenMean:
      return seq_sum.sum() / need(norm.tokens, "token count");
    case config::LossAgg::kSeqMeanTokenMean: {
      at::Tensor n = m.sum(1);
      return (seq_sum / n.clamp_min(1.0)).sum() / need(norm.seqs, "sequence count");
    }
    case config::LossAgg::kSeqMeanTokenSum:
      return seq_sum.sum() / need(norm.seqs, "sequence count");
    case config::LossAgg::kSeqMeanTokenSumNorm:
      return seq_sum.sum() / (need(norm.seqs, "sequence count") *
                              need(double(norm.max_response_len), "max_response_len"));
  }
  throw Error("aggregate_loss: unknown mode");
}

}  // namespace principia::trainer
