// Data-parallel communication over c10d (the distributed engine inside LibTorch). Every
// reduction the trainer does across ranks goes through Dist; at world size 1 each call is a
// no-op, so single-process runs take the same code path without a process group.
//
// Rendezvous (DESIGN.md §Distributed): torchrun / launch scripts set RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT; rank 0 hosts a c10d::TCPStore the
// others join — or, under torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True), every rank
// is a client of the agent's store under the attempt's key prefix. Slurm's SLURM_PROCID /
// SLURM_NTASKS / SLURM_LOCALID are the fallback when RANK is absent.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace principia::trainer {

class AdamW;

// Where this process sits in the job, read from the launcher's environment.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool agent_store = false;        // torchrun's agent hosts the TCPStore; every rank is a client
  std::string store_prefix;        // key prefix under the agent store
  std::string source = "single";   // "torchrun/env", "slurm" or "single"
  // A process group even for a world of one (normally none: every collective is a no-op). Tests
  // use it to run a backend's collectives, e.g. NCCL, on one GPU.
  bool group_at_world_size_1 = false;
};

// Reads the environment. A malformed value (RANK=x, RANK >= WORLD_SIZE, WORLD_SIZE > 1 without
// MASTER_ADDR, ...) is a principia::Error naming the variable.
DistEnv dist_env_from_environment();

// The first host of a Slurm node list: "gpu[03-05,07],cpu1" -> "gpu03".
std::string first_slurm_host(const std::string& nodelist);

enum class ReduceOp { kSum, kMin, kMax };

class Dist {
 public:
  // World size 1: no process group (unless env.group_at_world_size_1). Otherwise rendezvous and
  // a Gloo (CPU) or NCCL (this rank's GPU, cuda:LOCAL_RANK) process group per `cfg.backend`
  // (auto: NCCL where a GPU is visible), with cfg.timeout_s on every collective. Under NCCL,
  // host tensors passed to a collective are staged through the GPU. Throws principia::Error
  // when the backend is not in this build, has no device, or the rendezvous fails.
  static std::unique_ptr<Dist> create(const config::DistConfig& cfg, const DistEnv& env);
  ~Dist();
  Dist(const Dist&) = delete;
  Dist& operator=(const Dist&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  const std::string& backend_name() const { return backend_name_; }  // "none", "gloo", "nccl"
  bool grouped() const;  // a process group exists (collectives communicate)

  // In-place collectives (no-ops without a process group). Failures — a peer that exited, a timeout —
  // become principia::Error naming the collective, this rank and the cause.
  void all_reduce(torch::Tensor& t, ReduceOp op = ReduceOp::kSum);
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  // Concatenation along dim 0 of every rank's `t` (all ranks pass the same shape).
  torch::Tensor all_gather(const torch::Tensor& t);
  std::vector<double> all_reduce(std::vector<double> values, ReduceOp op);
  double all_reduce(double value, ReduceOp op);
  void barrier();
  // Runs `work` on rank 0 alone (evaluation, writing the run's files, a checkpoint) while the
  // others wait for it through the store: not bounded by dist.timeout_s, which such work may
  // exceed, but failing at once if rank 0 fails or exits. Every rank calls it, in the same order.
  void on_rank0(const std::string& what, const std::function<void()>& work);
  // ZeRO-3: `out` [W·n] receives every rank's `in` [n] in rank order. Returns the wait: call
  // it before reading `out` (the gather may be in flight meanwhile). Without a process group,
  // a copy. Tensors must be on the collective's device (this rank's GPU under NCCL).
  std::function<void()> all_gather_into(torch::Tensor out, torch::Tensor in);
  // ZeRO-3: `out` [n] receives the sum over ranks of their `in` [W·n]'s rank-th slice.
  void reduce_scatter(torch::Tensor out, torch::Tensor in);
  // ZeRO-1: once each rank has updated the parameters it owns (owners[i]), every rank receives
  // them — one broadcast per owner and dtype, of the owner's parameters flattened.
  void broadcast_from_owners(const std::vector<torch::Tensor>& params, const std::vector<int>& owners);
  // optimizer.step(lr) and, when it is sharded (ZeRO-1), the owners' broadcasts.
  void optimizer_step(AdamW& optimizer, double lr);

  // Gradient reduction in buckets of about `bucket_bytes`, launched as soon as every gradient in
  // a bucket has been accumulated during backward (hooks on the parameters' gradient
  // accumulators), so communication overlaps the rest of backward.
  //
  // Replicated gradients (ZeRO 0/1): each bucket is all-reduced, once per update: the
  // micro-batches accumulate locally and the last backward reduces. Sharded gradients (ZeRO-2,
  // `owners` given, as AdamW::owners()): each bucket is reduced to the owner of each of its
  // parameters after every backward, every gradient is then freed, and the owner adds the sum
  // into its own accumulator; a rank keeps the gradients of the parameters it owns only, and
  // never more than one backward's gradients of the others, in flight.
  //
  // Usage per update, with n = passes(local micro-batches):
  //   for k in 0..n-1: before_backward(k, n); [backward of micro-batch k, if this rank has it];
  //                    after_backward(k, n)
  // after which every parameter this rank updates holds the sum over ranks and micro-batches
  // (a parameter that got no gradient on any rank stays without one).
  class GradReducer {
   public:
    virtual ~GradReducer() = default;
    // Backward passes this rank runs for `local` micro-batches: at least one (a rank with none
    // contributes zeros); sharded, the most any rank has (a collective), since every pass
    // reduces and all ranks must issue the same collectives.
    virtual size_t passes(size_t local) { return std::max<size_t>(1, local); }
    virtual void before_backward(size_t k, size_t n) {
      if (k + 1 == n) arm();
    }
    virtual void after_backward(size_t k, size_t n) {
      if (k + 1 == n) finish();
    }
    // Gradients live on their owners only: the global norm needs a sum across ranks.
    virtual bool sharded() const { return false; }
    // A pass without a micro-batch of its own must still run the model (ZeRO-3: the forward
    // and backward issue the weight gathers the other ranks wait for); see zero3.h's idle_pass.
    virtual bool needs_idle_pass() const { return false; }
    // After the optimizer updated the parameters (ZeRO-3: gathered copies are stale).
    virtual void after_step() {}
    // The building blocks: arm() before a backward whose gradients are reduced, finish() after
    // it (waits for the buckets, launches any whose parameters got no gradient, writes back).
    virtual void arm() = 0;
    virtual void finish() = 0;
  };
  std::unique_ptr<GradReducer> grad_reducer(const std::vector<torch::Tensor>& params, int64_t bucket_bytes,
                                            const std::vector<int>& owners = {});

 private:
  struct Impl;
  explicit Dist(DistEnv env);
  DistEnv env_;
  std::string backend_name_ = "none";
  int64_t rank0_calls_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace principia::trainer
