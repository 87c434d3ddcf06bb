// AdamW over a named list of parameters, the learning-rate schedule and global-norm gradient
// clipping. Hand-written (not torch::optim) so that the state is a flat map of named fp32
// tensors: a checkpoint saves and restores it exactly, and ZeRO-1 can later shard it by name.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"

namespace principia::trainer {

class Dist;

struct NamedParam {
  std::string name;     // e.g. "model.layers.0.self_attn.q_proj.weight"; unique
  at::Tensor tensor;    // a leaf that requires grad
  bool weight_decay = true;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  // CUDA parameters are updated by ATen's fused multi-tensor kernel (as torch.optim.AdamW's
  // fused=True); CPU ones always by the per-parameter loop (bitwise-reproducible resume).
  bool fused = true;
  static AdamWOptions from(const config::OptimConfig& o);  // throws Error on a bad `betas`
};

// torch.optim.AdamW (amsgrad off, decoupled weight decay), per parameter p with gradient g at
// its t-th update:
//   p ← p·(1 − lr·wd)
//   m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g²
//   p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
// Moments are fp32 whatever the parameter dtype. A bf16/fp16 parameter also gets an fp32 master
// copy: the update is applied to the master and the parameter is its rounding (small updates
// accumulate instead of vanishing below the bf16 ulp). A parameter with no gradient is skipped
// and its t does not advance (as in torch). On CUDA the same rule runs as one fused kernel per
// device and weight-decay group (AdamWOptions::fused).
class AdamW {
 public:
  // With `owners` (ZeRO: the rank that updates each parameter), state is allocated for this
  // rank's parameters only: the peak never holds the unsharded state.
  AdamW(std::vector<NamedParam> params, AdamWOptions options, int rank = 0, std::vector<int> owners = {});

  void step(double lr);  // updates the parameters this rank owns (all, unless sharded)
  void zero_grad();  // resets gradients to undefined (set_to_none)

  // ZeRO-1: keep state for, and update, only the parameters with owners[i] == rank; the state
  // of the others is freed. The caller broadcasts each updated parameter from its owner.
  void shard(int rank, std::vector<int> owners);
  bool sharded() const { return !owners_.empty(); }
  bool owns(size_t i) const { return owners_.empty() || owners_[i] == rank_; }
  const std::vector<int>& owners() const { return owners_; }  // empty: not sharded

  const std::vector<NamedParam>& params() const { return params_; }
  const AdamWOptions& options() const { return options_; }

  // The state as named tensors: "<param>.exp_avg", "<param>.exp_avg_sq" (fp32, param's shape),
  // "<param>.step" (int64 scalar) and, for non-fp32 parameters, "<param>.master" (fp32).
  // Sharded: the owned parameters' entries only. Tensors alias the live state (clone to snapshot).
  std::map<std::string, at::Tensor> state_dict() const;
  // The parameter a state_dict() key belongs to ("<param>.exp_avg" -> "<param>").
  static std::string param_of_key(const std::string& key);
  // Restores from state_dict() output (sharded: the owned parameters' entries; others in
  // `state` are ignored, so the union of any sharding's shards restores any other sharding);
  // throws principia::Error naming a missing key or a shape mismatch (e.g. a checkpoint of
  // another model).
  void load_state_dict(const std::map<std::string, at::Tensor>& state);

 private:
  struct State {
    at::Tensor exp_avg, exp_avg_sq;
    at::Tensor master;  // fp32 copy of a non-fp32 parameter; undefined for fp32 ones
    int64_t step = 0;
  };
  std::vector<NamedParam> params_;
  std::vector<State> state_;
  AdamWOptions options_;
  std::vector<int> owners_;
  int rank_ = 0;
};

// ZeRO-1 ownership: parameters by size, largest first, each to the rank holding the least so
// far (ties: the lower rank), so ranks keep about equal shares of optimizer state. Deterministic.
std::vector<int> balanced_owners(const std::vector<NamedParam>& params, int world_size);

// Learning rate after `step` optimizer steps (0-based: the lr used by update number step + 1):
//   warmup (step < W):  lr · (step + 1) / W
//   then, with progress p = (step − W) / max(1, total_steps − W) clamped to [0, 1] and
//   floor f = min_lr_ratio:
//     constant: lr
//     linear:   lr · (f + (1 − f)·(1 − p))
//     cosine:   lr · (f + (1 − f)·½(1 + cos πp))
double lr_at(const config::OptimConfig& optim, double base_lr, int64_t step, int64_t total_steps);

struct GradNorm {
  double norm = 0;      // global L2 norm before clipping (NaN/inf when non-finite)
  bool finite = true;   // false: skip the step (gradients were left untouched)
  bool clipped = false; // gradients were scaled by max_norm / (norm + 1e-6)
};

// Global L2 norm over all gradients (fp32 accumulation): √Σ_p ‖g_p‖². When finite and
// max_norm > 0 and norm > max_norm, every gradient is scaled by max_norm / (norm + 1e-6)
// (torch.nn.utils.clip_grad_norm_). Parameters without a gradient are ignored. With
// `sharded_over` (ZeRO-2: each rank holds the gradients it owns), the squared norms are summed
// across its ranks, every one of which must call this.
GradNorm clip_grad_norm(const std::vector<NamedParam>& params, double max_norm, Dist* sharded_over = nullptr);

}  // namespace principia::trainer
