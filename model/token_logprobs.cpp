#include "model/token_logprobs.h"

#include "core/error.h"

namespace principia::model {
namespace {
using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One chunk's fp32 logits / temperature, written into `out` [n, V] fp32 (a slice of the kept
// logits or a scratch buffer), so no chunk-sized temporary is allocated and copied.
void chunk_logits(Tensor out, const Tensor& h, const Tensor& w, double temperature) {
  if (w.scalar_type() == torch::kFloat32 && h.scalar_type() == torch::kFloat32)
    at::mm_out(out, h, w.t());
  else
    out.copy_(torch::matmul(h, w.t()));
  if (temperature != 1.0) out.div_(temperature);
}

struct ChunkedLogprobs : torch::autograd::Function<ChunkedLogprobs> {
  // hidden [N, H], weight [V, H], targets [N]. Returns {logprobs [N], entropy [N] or empty}.
  static variable_list forward(AutogradContext* ctx, Tensor hidden, Tensor weight, Tensor targets,
                               int64_t chunk, double temperature, bool with_entropy,
                               int64_t keep_logits_bytes) {
    const int64_t N = hidden.size(0), V = weight.size(0);
    // Small enough: keep the fp32 logits for backward instead of recomputing the matmul.
    const bool keep = N * V * 4 <= keep_logits_bytes;
    auto f32 = hidden.options().dtype(torch::kFloat32);
    Tensor kept = keep ? torch::empty({N, V}, f32) : Tensor();
    Tensor scratch = keep ? Tensor() : torch::empty({std::min(chunk, N), V}, f32);
    Tensor lp = torch::empty({N}, f32);
    Tensor lse = torch::empty({N}, f32);
    Tensor ent = with_entropy ? torch::empty({N}, f32) : torch::empty({0}, f32);
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      Tensor z = keep ? kept.narrow(0, s, n) : scratch.narrow(0, 0, n);
      chunk_logits(z, hidden.narrow(0, s, n), weight, temperature);
      Tensor lse_s = lse.narrow(0, s, n);
      at::logsumexp_out(lse_s, z, {-1});
      Tensor tz = z.gather(1, targets.narrow(0, s, n).unsqueeze(1)).squeeze(1);
      Tensor lp_s = lp.narrow(0, s, n);
      at::sub_out(lp_s, tz, lse_s);
      if (with_entropy) {
        Tensor p = torch::softmax(z, -1);
        ent.narrow(0, s, n).copy_(lse_s - (p * z).sum(-1));
      }
    }
    ctx->save_for_backward({hidden, weight, targets, lse});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["keep"] = keep;
    if (keep) ctx->saved_data["logits"] = kept;
    return {lp, ent};
  }

  // With z = logits / T, log p = z - lse and p = exp(log p):
  //   d logp[t] / dz_j = 1[j = t] - p_j
  //   d H / dz_j       = -p_j (log p_j - E_p[log p])
  // then dlogits = dz / T, dhidden = dlogits W, dW = dlogits^T hidden.
  // Each chunk's logits become log p, then dz, in their own buffer (the kept logits themselves
  // the first time backward runs; recomputed if a retained graph runs it again).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    Tensor hidden = saved[0], weight = saved[1], targets = saved[2], lse = saved[3];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const bool keep = ctx->saved_data["keep"].toBool();
    Tensor kept = keep ? ctx->saved_data["logits"].toTensor() : Tensor();
    if (keep) ctx->saved_data["keep"] = false;  // about to be overwritten
    Tensor g_lp = grads[0], g_ent = grads[1].defined() && grads[1].numel() ? grads[1] : Tensor();
    const int64_t N = hidden.size(0), V = weight.size(0);
    const bool fp32 =
        weight.scalar_type() == torch::kFloat32 && hidden.scalar_type() == torch::kFloat32;
    Tensor scratch = keep ? Tensor() : torch::empty({std::min(chunk, N), V}, lse.options());
    Tensor g_hidden = torch::empty_like(hidden);
    Tensor g_weight =
        fp32 && N > 0 ? torch::empty_like(weight) : torch::zeros(weight.sizes(), lse.options());
    for (int64_t s = 0; s < N; s += chunk) {
      const int64_t n = std::min(chunk, N - s);
      Tensor h = hidden.narrow(0, s, n);
      Tensor dz = keep ? kept.narrow(0, s, n) : scratch.narrow(0, 0, n);
      if (!keep) chunk_logits(dz, h, weight, temperature);
      Tensor logp = dz.sub_(lse.narrow(0, s, n).unsqueeze(1));
      Tensor p_g_ent;  // -g_ent p (log p - E_p[log p]), computed before logp is overwritten
      if (g_ent.defined()) {
        Tensor p = logp.exp();
        Tensor g = g_ent.narrow(0, s, n).to(torch::kFloat32).unsqueeze(1);
        p_g_ent = p * (logp - (p * logp).sum(-1, true)) * -g;
      }
      dz.exp_();  // p
      if (g_lp.defined()) {
        Tensor g = g_lp.narrow(0, s, n).to(torch::kFloat32).unsqueeze(1);
        dz.mul_(-g);
        dz.scatter_add_(1, targets.narrow(0, s, n).unsqueeze(1), g);
      } else {
        dz.zero_();
      }
      if (p_g_ent.defined()) dz.add_(p_g_ent);
      if (temperature != 1.0) dz.div_(temperature);
      if (fp32) {
        Tensor g_hidden_s = g_hidden.narrow(0, s, n);
        at::mm_out(g_hidden_s, dz, weight);
        if (s == 0)
          at::mm_out(g_weight, dz.t(), h);
        else
          g_weight.addmm_(dz.t(), h);
      } else {
        Tensor dlogits = dz.to(weight.scalar_type());
        g_hidden.narrow(0, s, n).copy_(torch::matmul(dlogits, weight));
        g_weight.add_(torch::matmul(dlogits.t(), h).to(torch::kFloat32));
      }
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
  auto out =
      ChunkedLogprobs::apply(h, weight, t, chunk, temperature, with_entropy, keep_logits_bytes);
  TokenLogprobs r;
  r.logprobs = out[0].view(lead);
  if (with_entropy) r.entropy = out[1].view(lead);
  return r;
}

}  // namespace principia::model
