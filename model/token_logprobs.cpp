#include "model/token_logprobs.h"

#include "core/error.h"

namespace principia::model {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One chunk's fp32 logits / temperature.
Tensor chunk_logits(const Tensor& h, const Tensor& w, double temperature) {
  Tensor z = torch::matmul(h, w.t()).to(torch::kFloat32);
  if (temperature != 1.0) z.div_(temperature);
  return z;
}

struct ChunkedLogprobs : torch::autograd::Function<ChunkedLogprobs> {
  // hidden [N, H], weight [V, H], targets [N]. Returns {logprobs [N], entropy [N] or empty}.
  static variable_list forward(AutogradContext* ctx, Tensor hidden, Tensor weight, Tensor targets,
                               int64_t chunk, double temperature, bool with_entropy,
                               int64_t keep_logits_bytes) {
    const int64_t N = hidden.size(0);
    // Small enough: keep the fp32 logits for backward instead of recomputing the matmul.
    const bool keep = N * weight.size(0) * 4 <= keep_logits_bytes;
    Tensor kept = keep ? torch::empty({N, weight.size(0)}, hidden.options().dtype(torch::kFloat32))
                       : Tensor();
    auto f32 = hidden.options().dtype(torch::kFloat32);
    Tensor lp = torch::empty({N}, f32);
    Tensor ent = with_entropy ? torch::empty({N}, f32) : torch::empty({0}, f32);
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      Tensor z = chunk_logits(hidden.narrow(0, s, n), weight, temperature);
      if (keep) kept.narrow(0, s, n).copy_(z);
      Tensor lse = torch::logsumexp(z, -1);
      Tensor tz = z.gather(1, targets.narrow(0, s, n).unsqueeze(1)).squeeze(1);
      lp.narrow(0, s, n).copy_(tz - lse);
      if (with_entropy) {
        Tensor p = torch::softmax(z, -1);
        ent.narrow(0, s, n).copy_(lse - (p * z).sum(-1));
      }
    }
    ctx->save_for_backward({hidden, weight, targets});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["with_entropy"] = with_entropy;
    ctx->saved_data["keep"] = keep;
    if (keep) ctx->saved_data["logits"] = kept;
    return {lp, ent};
  }

  // With p = softmax(z), z = logits / T:
  //   d logp[t] / dz_j = 1[j = t] - p_j
  //   d H / dz_j       = -p_j (z_j - E_p[z])
  // then dlogits = dz / T, dhidden = dlogits W, dW = dlogits^T hidden.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    Tensor hidden = saved[0], weight = saved[1], targets = saved[2];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const bool with_entropy = ctx->saved_data["with_entropy"].toBool();
    const bool keep = ctx->saved_data["keep"].toBool();
    Tensor kept = keep ? ctx->saved_data["logits"].toTensor() : Tensor();
    Tensor g_lp = grads[0], g_ent = with_entropy ? grads[1] : Tensor();
    const int64_t N = hidden.size(0);
    Tensor g_hidden = torch::zeros_like(hidden);
    Tensor g_weight = torch::zeros(weight.sizes(), weight.options().dtype(torch::kFloat32));
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      Tensor h = hidden.narrow(0, s, n);
      Tensor z = keep ? kept.narrow(0, s, n) : chunk_logits(h, weight, temperature);
      Tensor p = torch::softmax(z, -1);
      Tensor dz = torch::zeros_like(z);
      if (g_lp.defined()) {
        Tensor g = g_lp.narrow(0, s, n).to(torch::kFloat32);
        dz = -p * g.unsqueeze(1);
        dz.scatter_add_(1, targets.narrow(0, s, n).unsqueeze(1), g.unsqueeze(1));
      }
      if (g_ent.defined() && g_ent.numel() == N) {
        Tensor g = g_ent.narrow(0, s, n).to(torch::kFloat32).unsqueeze(1);
        Tensor mean_z = (p * z).sum(-1, true);
        dz -= g * p * (z - mean_z);
      }
      if (temperature != 1.0) dz.div_(temperature);
      Tensor dlogits = dz.to(weight.scalar_type());
      g_hidden.narrow(0, s, n).copy_(torch::matmul(dlogits, weight));
      g_weight.add_(torch::matmul(dlogits.t(), h).to(torch::kFloat32));
    }
    return {g_hidden, g_weight.to(weight.scalar_type()), Tensor(), Tensor(), Tensor(), Tensor(),
            Tensor()};
  }
};

}  // namespace

TokenLogprobs token_logprobs(const Tensor& hidden, const Tensor& weight, const Tensor& targets,
                             int64_t chunk, double temperature, bool with_entropy,
                             int64_t keep_logits_bytes) {
  if (hidden.dim() < 1 || hidden.size(-1) != weight.size(1))
    throw Error("token_logprobs: hidden size does not match the head weight");
  if (targets.sizes() != hidden.sizes().slice(0, hidden.dim() - 1))
    throw Error("token_logprobs: targets must have hidden's leading shape");
  if (chunk <= 0 || !(temperature > 0)) throw Error("token_logprobs: bad chunk or temperature");
  auto lead = targets.sizes().vec();
  Tensor h = hidden.reshape({-1, hidden.size(-1)});
  Tensor t = targets.reshape({-1}).to(torch::kLong);
  auto out = ChunkedLogprobs::apply(h, weight, t, chunk, temperature, with_entropy,
                                     keep_logits_bytes);
  TokenLogprobs r;
  r.logprobs = out[0].view(lead);
  if (with_entropy) r.entropy = out[1].view(lead);
  return r;
}

}  // namespace principia::model
