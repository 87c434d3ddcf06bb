#include "trainer/dist.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#if defined(PRINCIPIA_WITH_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(PRINCIPIA_WITH_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <map>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "core/error.h"
#include "core/log.h"
#include "trainer/optimizer.h"

namespace principia::trainer {
namespace {

std::optional<std::string> env_var(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

int env_int(const char* name, int fallback, int lo, int hi) {
  auto v = env_var(name);
  if (!v) return fallback;
  size_t used = 0;
  long x = 0;
  try {
    x = std::stol(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v->size() || x < lo || x > hi)
    throw Error("environment: " + std::string(name) + "=" + *v + " is not an integer in [" + std::to_string(lo) +
                ", " + std::to_string(hi) + "]");
  return int(x);
}

// The first line of a c10d error (they carry multi-line C++ stack traces).
std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMin: return c10d::ReduceOp::MIN;
    case ReduceOp::kMax: return c10d::ReduceOp::MAX;
    case ReduceOp::kSum: break;
  }
  return c10d::ReduceOp::SUM;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // "prefix[03-05,07],other" -> "prefix03"; "a,b" -> "a".
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first += c;
  }
  auto open = first.find('[');
  if (open == std::string::npos) return first;
  std::string head = first.substr(0, open);
  std::string range = first.substr(open + 1);
  size_t end = range.find_first_of(",-]");
  return head + range.substr(0, end);
}

DistEnv dist_env_from_environment() {
  DistEnv e;
  if (env_var("RANK") || env_var("WORLD_SIZE")) {
    e.source = "torchrun/env";
    e.world_size = env_int("WORLD_SIZE", 1, 1, 1 << 20);
    e.rank = env_int("RANK", 0, 0, e.world_size - 1);
    e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size, 1, e.world_size);
    e.local_rank = env_int("LOCAL_RANK", e.rank % e.local_world_size, 0, e.local_world_size - 1);
  } else if (env_var("SLURM_PROCID") && env_var("SLURM_NTASKS")) {
    e.source = "slurm";
    e.world_size = env_int("SLURM_NTASKS", 1, 1, 1 << 20);
    e.rank = env_int("SLURM_PROCID", 0, 0, e.world_size - 1);
    e.local_world_size = env_int("SLURM_NTASKS_PER_NODE", 1, 1, e.world_size);
    if (auto tpn = env_var("SLURM_TASKS_PER_NODE")) {  // "4(x2)" or "4": the first count
      try {
        e.local_world_size = std::max(1, std::stoi(*tpn));
      } catch (const std::exception&) {
      }
    }
    e.local_rank = env_int("SLURM_LOCALID", 0, 0, 1 << 20);
    if (!env_var("MASTER_ADDR"))
      if (auto nodes = env_var("SLURM_JOB_NODELIST")) e.master_addr = first_slurm_host(*nodes);
  } else {
    return e;  // one process, no launcher
  }
  if (auto a = env_var("MASTER_ADDR")) e.master_addr = *a;
  else if (e.world_size > 1 && e.source != "slurm")
    throw Error("environment: WORLD_SIZE=" + std::to_string(e.world_size) +
                " but MASTER_ADDR is not set (launch with torchrun or launch/local.sh)");
  e.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  e.agent_store = env_var("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  if (e.agent_store) e.store_prefix = "/worker/attempt_" + env_var("TORCHELASTIC_RESTART_COUNT").value_or("0") + "/";
  return e;
}

struct Dist::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
  // Where collectives run: NCCL reduces tensors on this rank's GPU, so host tensors (the
  // trainer's scalar sums) are staged through it; Gloo takes them where they are.
  std::optional<c10::Device> device;

  // `t` on the collective's device: itself when it is there already, else a copy.
  at::Tensor staged(const at::Tensor& t) const {
    return device && t.device() != *device ? t.to(*device) : t;
  }
};

bool Dist::grouped() const { return impl_->pg.defined(); }

Dist::Dist(DistEnv env) : env_(std::move(env)), impl_(std::make_unique<Impl>()) {}
Dist::~Dist() = default;

std::unique_ptr<Dist> Dist::create(const config::DistConfig& cfg, const DistEnv& env) {
  std::unique_ptr<Dist> d(new Dist(env));
  if (env.world_size == 1 && !env.group_at_world_size_1) return d;
  const auto timeout = std::chrono::milliseconds(int64_t(cfg.timeout_s) * 1000);
  const std::string where = "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
  try {
    c10d::TCPStoreOptions o;
    o.port = uint16_t(env.master_port);
    o.isServer = !env.agent_store && env.rank == 0;
    o.numWorkers = env.agent_store ? std::nullopt : std::optional<size_t>(size_t(env.world_size));
    o.waitWorkers = false;
    o.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    d->impl_->store = c10::make_intrusive<c10d::PrefixStore>(env.store_prefix + "principia", store);
  } catch (const std::exception& e) {
    throw Error("dist: " + where + ": rendezvous with " + env.master_addr + ":" + std::to_string(env.master_port) +
                " failed within dist.timeout_s = " + std::to_string(cfg.timeout_s) + " s: " + first_line(e.what()));
  }
  config::Backend backend = cfg.backend;
  if (backend == config::Backend::kAuto)
    backend = torch::cuda::is_available() ? config::Backend::kNccl : config::Backend::kGloo;
  if (backend == config::Backend::kNccl) {
#if defined(PRINCIPIA_WITH_NCCL)
    if (!torch::cuda::is_available() || env.local_rank >= int(torch::cuda::device_count()))
      throw Error("dist.backend: nccl: " + where + " (local rank " + std::to_string(env.local_rank) +
                  ") has no CUDA device of its own (" + std::to_string(torch::cuda::device_count()) +
                  " visible); use dist.backend: gloo, or one process per GPU");
    try {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      d->impl_->device = c10::Device(c10::kCUDA, c10::DeviceIndex(env.local_rank));
      d->impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(d->impl_->store, env.rank, env.world_size, opts);
    } catch (const std::exception& e) {
      throw Error("dist: " + where + ": creating the NCCL process group failed: " + first_line(e.what()));
    }
    d->backend_name_ = "nccl";
#else
    throw Error("dist.backend: nccl: this build of principia has no NCCL process group (it was built "
                "against a CPU LibTorch, or nccl.h was not found); use dist.backend: gloo");
#endif
  } else {
#if defined(PRINCIPIA_WITH_GLOO)
    try {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; otherwise the one this
      // host's name resolves to.
      if (auto ifname = env_var("GLOO_SOCKET_IFNAME"))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(*ifname));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      d->impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(d->impl_->store, env.rank, env.world_size, opts);
    } catch (const std::exception& e) {
      throw Error("dist: " + where + ": creating the Gloo process group failed: " + first_line(e.what()));
    }
    d->backend_name_ = "gloo";
#else
    throw Error("dist.backend: gloo: this build has no Gloo process group (configure with Gloo's headers: "
                "launch/setup.sh installs libgloo-dev)");
#endif
  }
  log::info("dist: ", d->backend_name_, " process group, ", where, " (", env.source, ", local rank ",
            env.local_rank, ")");
  return d;
}

namespace {
template <class F> void collective(const Dist& d, const std::string& what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    throw Error("dist: " + what + " failed on rank " + std::to_string(d.rank()) + " of " +
                std::to_string(d.world_size()) + " (a peer rank exited or timed out; see its log): " +
                first_line(e.what()));
  }
}
}  // namespace

void Dist::all_reduce(torch::Tensor& t, ReduceOp op) {
  if (!grouped()) return;
  collective(*this, "all_reduce", [&] {
    std::vector<at::Tensor> v{impl_->staged(t)};
    c10d::AllreduceOptions o;
    o.reduceOp = to_c10d(op);
    impl_->pg->allreduce(v, o)->wait();
    if (!v[0].is_same(t)) t.copy_(v[0]);
  });
}

void Dist::broadcast(std::vector<torch::Tensor>& tensors, int root) {
  if (!grouped()) return;
  collective(*this, "broadcast", [&] {
    for (auto& t : tensors) {
      std::vector<at::Tensor> v{impl_->staged(t)};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      impl_->pg->broadcast(v, o)->wait();
      if (!v[0].is_same(t)) t.copy_(v[0]);
    }
  });
}

torch::Tensor Dist::all_gather(const torch::Tensor& t) {
  if (!grouped()) return t;
  torch::Tensor out;
  collective(*this, "all_gather", [&] {
    std::vector<at::Tensor> in{impl_->staged(t).contiguous()};
    std::vector<std::vector<at::Tensor>> outs(1);
    for (int r = 0; r < world_size(); ++r) outs[0].push_back(torch::empty_like(in[0]));
    impl_->pg->allgather(outs, in)->wait();
    out = torch::cat(outs[0], 0).to(t.device());
  });
  return out;
}

std::function<void()> Dist::all_gather_into(torch::Tensor out, torch::Tensor in) {
  if (out.numel() != in.numel() * world_size())
    throw Error("internal: all_gather_into: output must hold world_size inputs");
  if (!grouped()) {
    out.copy_(in);
    return [] {};
  }
  c10::intrusive_ptr<c10d::Work> work;
  collective(*this, "all_gather", [&] { work = impl_->pg->_allgather_base(out, in); });
  return [this, work, out, in] { collective(*this, "all_gather", [&] { work->wait(); }); };
}

void Dist::reduce_scatter(torch::Tensor out, torch::Tensor in) {
  if (in.numel() != out.numel() * world_size())
    throw Error("internal: reduce_scatter: input must hold world_size outputs");
  if (!grouped()) {
    out.copy_(in);
    return;
  }
  collective(*this, "reduce_scatter", [&] {
    c10d::ReduceScatterOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    impl_->pg->_reduce_scatter_base(out, in, o)->wait();
  });
}

std::vector<double> Dist::all_reduce(std::vector<double> values, ReduceOp op) {
  if (!grouped() || values.empty()) return values;
  auto t = torch::from_blob(values.data(), {int64_t(values.size())}, torch::kFloat64).clone();
  all_reduce(t, op);
  std::memcpy(values.data(), t.data_ptr<double>(), values.size() * sizeof(double));
  return values;
}

double Dist::all_reduce(double value, ReduceOp op) { return all_reduce(std::vector<double>{value}, op)[0]; }

void Dist::barrier() {
  if (!grouped()) return;
  collective(*this, "barrier", [&] { impl_->pg->barrier()->wait(); });
}

void Dist::on_rank0(const std::string& what, const std::function<void()>& work) {
  if (!grouped()) {
    work();
    return;
  }
  const std::string key = "on_rank0/" + std::to_string(rank0_calls_++);
  if (is_main()) {
    try {
      work();
    } catch (...) {
      try {
        impl_->store->set(key, std::vector<uint8_t>{0});
      } catch (const std::exception&) {
      }
      throw;
    }
    collective(*this, what + " (done signal)", [&] { impl_->store->set(key, std::vector<uint8_t>{1}); });
    return;
  }
  std::vector<uint8_t> status;
  collective(*this, "waiting for rank 0's " + what, [&] {
    impl_->store->wait({key}, std::chrono::hours(24 * 7));
    status = impl_->store->get(key);
  });
  if (status.empty() || status[0] != 1)
    throw Error("dist: rank 0 failed during " + what + " (see its log); rank " + std::to_string(rank()) + " stops");
}

void Dist::broadcast_from_owners(const std::vector<torch::Tensor>& params, const std::vector<int>& owners) {
  if (!grouped() || owners.empty()) return;
  torch::NoGradGuard no_grad;
  for (int owner = 0; owner < world_size(); ++owner) {
    std::map<c10::ScalarType, std::vector<size_t>> by_dtype;
    for (size_t i = 0; i < params.size(); ++i)
      if (owners[i] == owner) by_dtype[params[i].scalar_type()].push_back(i);
    for (const auto& [dtype, idx] : by_dtype) {
      int64_t total = 0;
      for (size_t i : idx) total += params[i].numel();
      torch::Tensor flat;
      if (rank() == owner) {
        std::vector<torch::Tensor> parts;
        for (size_t i : idx) parts.push_back(params[i].detach().reshape({-1}));
        flat = torch::cat(parts);
      } else {
        flat = torch::empty({total}, params[idx[0]].options().requires_grad(false));
      }
      std::vector<torch::Tensor> v{flat};
      broadcast(v, owner);
      if (rank() == owner) continue;
      int64_t offset = 0;
      for (size_t i : idx) {
        params[i].detach().copy_(flat.narrow(0, offset, params[i].numel()).view_as(params[i]));
        offset += params[i].numel();
      }
    }
  }
}

void Dist::optimizer_step(AdamW& optimizer, double lr) {
  optimizer.step(lr);
  if (!optimizer.sharded()) return;
  std::vector<torch::Tensor> params;
  for (const auto& p : optimizer.params()) params.push_back(p.tensor);
  broadcast_from_owners(params, optimizer.owners());
}

// ---- bucketed gradient all-reduce, overlapping backward ----
namespace {

// A gradient accumulator's handle: std::shared_ptr<Node> up to LibTorch 2.11, c10::intrusive_ptr
// after; whichever this LibTorch returns.
using NodePtr = decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()));

class BucketedGradReducer final : public Dist::GradReducer {
 public:
  BucketedGradReducer(Dist& dist, c10::intrusive_ptr<c10d::Backend> pg, const std::vector<torch::Tensor>& params,
                      int64_t bucket_bytes, const std::vector<int>& owners)
      : dist_(dist), pg_(std::move(pg)) {
    if (!owners.empty() && owners.size() != params.size())
      throw Error("internal: grad_reducer: one owner per parameter expected");
    // Only parameters that accumulate gradients take part (frozen ones have no accumulator).
    std::vector<NodePtr> accumulators;
    for (size_t j = 0; j < params.size(); ++j) {
      const auto& p = params[j];
      if (!p.requires_grad()) continue;
      auto acc = torch::autograd::impl::grad_accumulator(p);
      if (!acc) continue;
      params_.push_back(p);
      accumulators.push_back(acc);
      if (!owners.empty()) owner_of_.push_back(owners[j]);
    }
    acc_.resize(owner_of_.size());
    seen_ = torch::zeros({int64_t(params_.size())}, torch::kFloat);
    // Gradients become ready roughly in reverse registration order (the head first), so buckets
    // are cut from the back; a new bucket also starts where dtype or device changes.
    bucket_of_.assign(params_.size(), -1);
    for (int64_t i = int64_t(params_.size()) - 1; i >= 0; --i) {
      const auto& p = params_[size_t(i)];
      int64_t bytes = p.numel() * int64_t(p.element_size());
      if (buckets_.empty() || buckets_.back().bytes + bytes > bucket_bytes ||
          buckets_.back().dtype != p.scalar_type() || buckets_.back().device != p.device())
        buckets_.push_back(Bucket{{}, 0, p.scalar_type(), p.device(), 0, {}});
      buckets_.back().params.push_back(size_t(i));
      buckets_.back().bytes += bytes;
      bucket_of_[size_t(i)] = int64_t(buckets_.size()) - 1;
    }
    try {
      for (size_t i = 0; i < params_.size(); ++i)
        hooks_.push_back({accumulators[i],
                          accumulators[i]->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
                              [this, i](const torch::autograd::variable_list& outputs,
                                        const torch::autograd::variable_list&) {
                                on_ready(i);
                                return outputs;
                              }))});
    } catch (...) {
      remove_hooks();  // no hook may outlive this half-built reducer
      throw;
    }
  }

  ~BucketedGradReducer() override { remove_hooks(); }

  bool sharded() const override { return !owner_of_.empty(); }

  size_t passes(size_t local) override {
    const size_t mine = std::max<size_t>(1, local);
    if (!sharded()) return mine;
    return size_t(dist_.all_reduce(double(mine), ReduceOp::kMax));
  }

  void before_backward(size_t k, size_t n) override {
    if (!sharded()) return GradReducer::before_backward(k, n);
    if (k == 0) {  // a new update: nothing summed yet
      for (auto& a : acc_) a = torch::Tensor();
      seen_.zero_();
    }
    // This pass's gradients start from nothing (the owned sums so far live in acc_, which the
    // parameters' .grad alias after finish(): autograd must not add into them).
    for (auto& p : params_) p.mutable_grad().reset();
    arm();
  }

  void after_backward(size_t k, size_t n) override {
    if (!sharded()) return GradReducer::after_backward(k, n);
    finish();
    // The update's sums now live in the parameters' .grad alone: zero_grad() frees them.
    if (k + 1 == n)
      for (auto& a : acc_) a = torch::Tensor();
  }

  void arm() override {
    std::lock_guard lock(mu_);
    reset();
    armed_ = true;
  }

  void finish() override {
    {
      std::lock_guard lock(mu_);
      if (!armed_) reset();  // finish() alone: every bucket is launched here
      armed_ = false;
      // Buckets with a parameter that got no gradient are launched now, still in order.
      while (next_launch_ < buckets_.size()) launch(next_launch_++);
      drain(buckets_.size());
    }
    // Which parameters got a gradient on some rank: the others stay without one, as at world
    // size 1 (AdamW skips them) instead of receiving zeros.
    auto any = seen_.clone();
    dist_.all_reduce(any, ReduceOp::kMax);
    auto any_grad = any.accessor<float, 1>();
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i];
      if (any_grad[int64_t(i)] == 0) p.mutable_grad().reset();
      else if (sharded()) p.mutable_grad() = owner_of_[i] == dist_.rank() ? acc_[i] : torch::Tensor();
    }
    if (!sharded()) seen_.zero_();
  }

 private:
  // One collective of a bucket: all of it (all-reduce), or its parameters owned by one rank
  // (reduce to that rank).
  struct Part {
    int owner;  // -1: all-reduce
    std::vector<size_t> params;
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  struct Bucket {
    std::vector<size_t> params;
    int64_t bytes;
    c10::ScalarType dtype;
    c10::Device device;
    size_t ready;
    std::vector<Part> parts;
  };
  // Buckets whose reduction may still be in flight while backward goes on; older ones are
  // waited for, written back and freed as new ones launch, bounding the gradient copies held
  // to a few buckets instead of a second copy of every gradient.
  static constexpr size_t kInFlight = 2;

  void reset() {
    next_launch_ = 0;
    drained_ = 0;
    for (auto& b : buckets_) b.ready = 0, b.parts.clear();
  }

  void remove_hooks() {
    for (auto& [node, key] : hooks_) node->del_post_hook(key);
    hooks_.clear();
  }

  void on_ready(size_t param) {
    std::lock_guard lock(mu_);
    if (!armed_) return;
    auto& b = buckets_[size_t(bucket_of_[param])];
    ++b.ready;
    // Collectives must be issued in the same order on every rank: launch only in bucket order.
    while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].params.size())
      launch(next_launch_++);
  }

  torch::Tensor flat_grads(const std::vector<size_t>& idx) {
    std::vector<torch::Tensor> grads;
    for (size_t i : idx) {
      const auto& p = params_[i];
      grads.push_back(p.grad().defined() ? p.grad().detach().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
    }
    return torch::cat(grads);
  }

  void launch(size_t index) {
    auto& b = buckets_[index];
    for (size_t i : b.params)
      if (params_[i].grad().defined()) seen_[int64_t(i)] = 1;
    if (!sharded()) {
      Part part{-1, b.params, flat_grads(b.params), {}};
      std::vector<at::Tensor> v{part.flat};
      collective(dist_, "gradient all_reduce", [&] { part.work = pg_->allreduce(v); });
      b.parts.push_back(std::move(part));
      if (index + 1 > kInFlight) drain(index + 1 - kInFlight);  // at most a few flat copies alive
      return;
    }
    std::map<int, std::vector<size_t>> by_owner;  // ascending owner: the same order on every rank
    for (size_t i : b.params) by_owner[owner_of_[i]].push_back(i);
    for (auto& [owner, idx] : by_owner) {
      Part part{owner, idx, flat_grads(idx), {}};
      std::vector<at::Tensor> v{part.flat};
      c10d::ReduceOptions o;
      o.rootRank = owner;
      collective(dist_, "gradient reduce", [&] { part.work = pg_->reduce(v, o); });
      b.parts.push_back(std::move(part));
    }
    // The flats hold this pass's gradients now: free the parameters' copies at once.
    for (size_t i : b.params) params_[i].mutable_grad().reset();
    if (index + 1 > kInFlight) drain(index + 1 - kInFlight);
  }

  // Waits for the buckets before `upto` and writes their results back: all-reduced gradients
  // into the parameters; reduced ones added into this rank's owned sums. Frees their buffers.
  void drain(size_t upto) {
    for (; drained_ < upto; ++drained_) {
      auto& b = buckets_[drained_];
      for (auto& part : b.parts) {
        const bool all = part.owner < 0;
        collective(dist_, all ? "gradient all_reduce" : "gradient reduce", [&] { part.work->wait(); });
        if (!all && part.owner != dist_.rank()) continue;
        int64_t offset = 0;
        for (size_t i : part.params) {
          auto& p = params_[i];
          auto slice = part.flat.narrow(0, offset, p.numel()).view_as(p);
          offset += p.numel();
          if (all) {
            if (p.grad().defined()) p.mutable_grad().copy_(slice);
            else p.mutable_grad() = slice.clone();
          } else {
            acc_[i] = acc_[i].defined() ? acc_[i].add_(slice) : slice.clone();
          }
        }
      }
      b.parts.clear();
    }
  }

  Dist& dist_;
  c10::intrusive_ptr<c10d::Backend> pg_;
  std::vector<torch::Tensor> params_;
  std::vector<int> owner_of_;        // sharded: the rank that keeps each parameter's gradient
  std::vector<torch::Tensor> acc_;   // sharded: this rank's owned sums over ranks and passes
  torch::Tensor seen_;               // which parameters had a local gradient this update
  std::vector<Bucket> buckets_;
  std::vector<int64_t> bucket_of_;
  std::vector<std::pair<NodePtr, uintptr_t>> hooks_;
  std::mutex mu_;
  bool armed_ = false;
  size_t next_launch_ = 0;
  size_t drained_ = 0;
};

class NoGradReducer final : public Dist::GradReducer {
 public:
  void arm() override {}
  void finish() override {}
};

}  // namespace

std::unique_ptr<Dist::GradReducer> Dist::grad_reducer(const std::vector<torch::Tensor>& params, int64_t bucket_bytes,
                                                      const std::vector<int>& owners) {
  if (!grouped()) return std::make_unique<NoGradReducer>();
  return std::make_unique<BucketedGradReducer>(*this, impl_->pg, params, std::max<int64_t>(1, bucket_bytes), owners);
}

}  // namespace principia::trainer
