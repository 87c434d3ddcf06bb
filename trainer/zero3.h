// ZeRO-3 (optim.zero_stage: 3): the model's parameters are sharded across the data-parallel
// ranks, not only their optimizer state and gradients.
//
// Each decoder layer is one flat group, and the embedding, final norm and head are another
// (the "outer" group). A group's parameters are laid out in one flat buffer of W·S elements
// (W ranks, S = ⌈numel / W⌉, zero padding at the end), weight-decayed parameters first; rank r
// keeps elements [r·S, (r+1)·S) — its shard — and the optimizer updates only that. The module's
// parameters keep their names and shapes as views into the flat buffer, whose memory exists
// only while the group is gathered:
//
//   forward   layer i: all-gather (prefetched while layer i−1 runs), run, release
//   backward  layer i: all-gather again just before its backward (a hook on its output's
//             gradient; under gradient checkpointing also before the recompute), prefetching
//             layer i−1; once every parameter of the layer has its gradient, reduce-scatter the
//             gradients into this rank's shard, free them and release the weights
//   outer     gathered at the first forward of a pass and kept until that pass's backward ends
//             (the head is used after the last layer, the embedding's gradient comes last)
//
// Phases with many forwards (generation, log-probs without grad, evaluation, saving) gather
// every group once (model::FullWeights) instead: a collective per layer per decoded token would
// cost more than the memory saved.
//
// The update then needs only the shards: AdamW runs over shards() (elementwise, so the result is
// the unsharded one's), the global gradient norm sums the shards' squares across ranks.
// Checkpoints keep the format of the other stages — the full model, and the optimizer state per
// parameter name, each parameter's entries written by one rank (balanced_owners) — so a run
// resumes under any stage and world size.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "trainer/dist.h"
#include "trainer/optimizer.h"

namespace principia::trainer {

class ShardedParams final : public model::ParamGather, public Dist::GradReducer {
 public:
  // Shards `model` (its parameters fully present, identical on every rank) and installs itself
  // as its ParamGather. With `trainable`, gradients are reduce-scattered into the shards during
  // backward (hooks on the parameters' gradient accumulators); a frozen model (the reference)
  // only gathers. `model` must outlive this object.
  ShardedParams(model::Transformer& model, Dist& dist, bool trainable);
  ~ShardedParams() override;
  ShardedParams(const ShardedParams&) = delete;
  ShardedParams& operator=(const ShardedParams&) = delete;

  // This rank's shard of every group, as the optimizer's parameters: per group "<group>.decay"
  // and "<group>.no_decay" (1-D gains), each a leaf whose .grad the backward fills.
  std::vector<NamedParam> shards() const;

  // model::ParamGather
  void acquire(int64_t group) override;
  torch::Tensor after_layer(int64_t layer, const torch::Tensor& output) override;
  void gather_all() override;
  void release_all() override;

  // Dist::GradReducer: the reduction happens in the hooks; passes() agrees on a count across
  // ranks (every pass gathers), a rank without a micro-batch runs idle_pass().
  size_t passes(size_t local) override;
  void before_backward(size_t k, size_t n) override;
  void after_backward(size_t k, size_t n) override;
  bool sharded() const override { return true; }
  bool needs_idle_pass() const override { return true; }
  void after_step() override { release_all(); }
  void arm() override {}
  void finish() override;

  // The optimizer state in the per-parameter format of the other stages (AdamW::state_dict
  // keys of the unsharded model), holding the parameters balanced_owners gives this rank. A
  // collective: every rank calls it.
  std::map<std::string, torch::Tensor> checkpoint_state(const AdamW& optimizer);
  // The parameter names whose entries this rank needs to restore its shards.
  std::vector<std::string> params_needed() const;
  // Restores the shards' optimizer state from per-parameter entries (checkpoint_state output of
  // any world size, or another stage's shards): `state` holds at least params_needed()'s.
  void load_checkpoint_state(AdamW& optimizer, const std::map<std::string, torch::Tensor>& state);

  // The unsharded model's parameters as the other stages name them (for balanced_owners).
  const std::vector<NamedParam>& full_params() const { return full_params_; }

 private:
  struct Group;
  Group& group(int64_t g);
  void launch(Group& g);          // start gathering (a prefetch), unless present or in flight
  void gather(Group& g);          // launch, then wait
  void release(Group& g);
  void reduce_grads(Group& g);    // reduce-scatter the group's gradients into its shard

  model::Transformer& model_;
  Dist& dist_;
  bool trainable_;
  bool pinned_ = false;           // gather_all(): nothing released until release_all()
  std::vector<std::unique_ptr<Group>> groups_;  // layers 0..L-1, then outer
  std::vector<NamedParam> full_params_;
  struct Hook;
  std::vector<std::unique_ptr<Hook>> hooks_;
};

// One forward and backward of a single token, contributing zero gradients: the passes of a rank
// that has no micro-batch of its own under ZeRO-3, so that it issues the same gathers and
// reductions as its peers.
void idle_pass(model::Transformer& model);

}  // namespace principia::trainer
