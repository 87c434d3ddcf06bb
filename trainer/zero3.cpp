#include "trainer/zero3.h"

#include <c10/core/StorageImpl.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "core/error.h"

namespace principia::trainer {

using torch::Tensor;

namespace {

// A gathered group's memory comes and goes under the same storage, so every view of it — the
// module's parameters, and the tensors autograd saved from them for backward — sees the weights
// again once the group is re-gathered (the way PyTorch's FSDP frees a flat parameter).
void free_storage(const Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  s->set_data_ptr_noswap(c10::DataPtr(nullptr, t.device()));
  s->set_nbytes(0);
}

void allocate_storage(const Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  const size_t bytes = size_t(t.numel()) * t.element_size();
  if (s->nbytes() == bytes) return;
  s->set_data_ptr_noswap(s->allocator()->allocate(bytes));
  s->set_nbytes(bytes);
}

using NodePtr = decltype(torch::autograd::impl::grad_accumulator(std::declval<const at::Tensor&>()));

int64_t layer_of(const std::string& name) {
  static const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return model::ParamGather::kOuter;
  return std::stoll(name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size()));
}

}  // namespace

struct ShardedParams::Group {
  std::string name;                // "model.layers.3", or "outer"
  std::vector<NamedParam> params;  // decay-weighted first; the module's tensors
  std::vector<int64_t> offsets;    // of each parameter in the flat buffer
  int64_t numel = 0, decay_numel = 0, shard = 0, split = 0;
  Tensor full;                     // [W·shard]; memory only while gathered
  Tensor shard_decay, shard_no_decay;  // this rank's elements [r·shard, r·shard + split), then the rest
  bool gathered = false;
  std::function<void()> in_flight;  // the wait of a launched gather
  size_t ready = 0;                 // parameters whose gradient arrived in this pass
  bool reduced = false;
};

struct ShardedParams::Hook {
  NodePtr node;
  unsigned key;
};

ShardedParams::ShardedParams(model::Transformer& model, Dist& dist, bool trainable)
    : model_(model), dist_(dist), trainable_(trainable) {
  const int64_t W = dist.world_size(), rank = dist.rank();
  const int64_t L = model.config().num_layers;
  for (int64_t i = 0; i <= L; ++i) {
    groups_.push_back(std::make_unique<Group>());
    groups_.back()->name = i < L ? "model.layers." + std::to_string(i) : "outer";
  }
  // Decay-weighted parameters first, so each rank's shard splits into at most two pieces.
  for (bool decay : {true, false})
    for (auto& p : model.named_parameters()) {
      // No weight decay on norms (1-D gains), as for the unsharded model.
      if ((p.value().dim() >= 2) != decay) continue;
      int64_t l = layer_of(p.key());
      Group& g = *groups_[size_t(l == kOuter ? L : l)];
      g.params.push_back({p.key(), p.value(), decay});
      g.offsets.push_back(g.numel);
      g.numel += p.value().numel();
      if (decay) g.decay_numel += p.value().numel();
    }
  for (auto& p : model.named_parameters()) full_params_.push_back({p.key(), p.value(), p.value().dim() >= 2});

  torch::NoGradGuard no_grad;
  for (auto& gp : groups_) {
    Group& g = *gp;
    if (g.params.empty()) throw Error("internal: ZeRO-3 group " + g.name + " has no parameters");
    g.shard = std::max<int64_t>(1, (g.numel + W - 1) / W);
    g.split = std::clamp<int64_t>(g.decay_numel - rank * g.shard, 0, g.shard);
    const auto options = g.params.front().tensor.options();
    g.full = torch::zeros({g.shard * W}, options);
    for (size_t j = 0; j < g.params.size(); ++j) {
      Tensor& p = g.params[j].tensor;
      if (p.options().dtype() != options.dtype() || p.device() != options.device())
        throw Error("ZeRO-3: parameters of " + g.name + " differ in dtype or device");
      Tensor view = g.full.narrow(0, g.offsets[j], p.numel());
      view.copy_(p.reshape(-1));
      p.set_data(view.view(p.sizes()));
    }
    Tensor mine = g.full.narrow(0, rank * g.shard, g.shard);
    g.shard_decay = mine.narrow(0, 0, g.split).clone().set_requires_grad(trainable);
    g.shard_no_decay = mine.narrow(0, g.split, g.shard - g.split).clone().set_requires_grad(trainable);
    free_storage(g.full);
  }

  if (trainable) {
    try {
      for (size_t gi = 0; gi < groups_.size(); ++gi)
        for (auto& p : groups_[gi]->params) {
          if (!p.tensor.requires_grad()) continue;
          NodePtr acc = torch::autograd::impl::grad_accumulator(p.tensor);
          Group* g = groups_[gi].get();
          unsigned key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
              [this, g](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
                if (++g->ready == g->params.size()) reduce_grads(*g);
                return outputs;
              }));
          hooks_.push_back(std::make_unique<Hook>(Hook{acc, key}));
        }
    } catch (...) {
      for (auto& h : hooks_) h->node->del_post_hook(h->key);
      throw;
    }
  }
  model.set_param_gather(this);
}

ShardedParams::~ShardedParams() {
  if (model_.param_gather() == this) model_.set_param_gather(nullptr);
  for (auto& h : hooks_) h->node->del_post_hook(h->key);
  for (auto& g : groups_)
    if (g->in_flight) try {
        g->in_flight();
      } catch (...) {
      }
}

ShardedParams::Group& ShardedParams::group(int64_t g) {
  return *groups_[size_t(g == kOuter ? int64_t(groups_.size()) - 1 : g)];
}

std::vector<NamedParam> ShardedParams::shards() const {
  std::vector<NamedParam> out;
  for (const auto& g : groups_) {
    if (g->shard_decay.numel() > 0) out.push_back({g->name + ".decay", g->shard_decay, true});
    if (g->shard_no_decay.numel() > 0) out.push_back({g->name + ".no_decay", g->shard_no_decay, false});
  }
  return out;
}

void ShardedParams::launch(Group& g) {
  if (g.gathered || g.in_flight) return;
  allocate_storage(g.full);
  Tensor mine = torch::cat({g.shard_decay.detach(), g.shard_no_decay.detach()});
  g.in_flight = dist_.all_gather_into(g.full, mine);
}

void ShardedParams::gather(Group& g) {
  if (g.gathered) return;
  launch(g);
  auto wait = std::move(g.in_flight);
  g.in_flight = nullptr;
  wait();
  g.gathered = true;
}

void ShardedParams::release(Group& g) {
  if (pinned_) return;
  if (g.in_flight) {  // a prefetch nobody used: its buffer may not go while the gather writes it
    auto wait = std::move(g.in_flight);
    g.in_flight = nullptr;
    wait();
  }
  free_storage(g.full);
  g.gathered = false;
}

void ShardedParams::acquire(int64_t gi) {
  gather(group(gi));
  // The next layer's gather runs while this one computes.
  if (!pinned_ && gi != kOuter && gi + 1 < int64_t(groups_.size()) - 1) launch(group(gi + 1));
}

Tensor ShardedParams::after_layer(int64_t layer, const Tensor& output) {
  if (pinned_) return output;
  if (trainable_ && output.requires_grad()) {
    // Before this layer's backward (or its recompute), its weights are gathered again; the
    // layer below's gather starts meanwhile.
    output.register_hook([this, layer](const Tensor& grad) {
      gather(group(layer));
      if (layer > 0) launch(group(layer - 1));
      return grad;
    });
  }
  release(group(layer));
  return output;
}

void ShardedParams::gather_all() {
  if (pinned_) return;
  for (auto& g : groups_) launch(*g);
  for (auto& g : groups_) gather(*g);
  pinned_ = true;
}

void ShardedParams::release_all() {
  pinned_ = false;
  for (auto& g : groups_) release(*g);
}

void ShardedParams::reduce_grads(Group& g) {
  torch::NoGradGuard no_grad;
  const int64_t W = dist_.world_size();
  const auto options = g.full.options();
  Tensor flat = torch::zeros({g.shard * W}, options);
  for (size_t j = 0; j < g.params.size(); ++j) {
    const Tensor& grad = g.params[j].tensor.grad();
    if (grad.defined()) flat.narrow(0, g.offsets[j], grad.numel()).copy_(grad.reshape(-1));
  }
  Tensor mine = torch::empty({g.shard}, options);
  dist_.reduce_scatter(mine, flat);
  flat = Tensor();
  auto accumulate = [](Tensor& piece, const Tensor& part) {
    if (piece.numel() == 0) return;
    Tensor& grad = piece.mutable_grad();
    grad = grad.defined() ? grad.add_(part) : part.clone();
  };
  accumulate(g.shard_decay, mine.narrow(0, 0, g.split));
  accumulate(g.shard_no_decay, mine.narrow(0, g.split, g.shard - g.split));
  for (auto& p : g.params) p.tensor.mutable_grad().reset();
  g.reduced = true;
  // A layer's weights are not needed after its backward; the outer group's are, by the next
  // pass's forward only if it runs before an update, which re-gathers them anyway.
  if (&g != groups_.back().get()) release(g);
}

size_t ShardedParams::passes(size_t local) {
  const size_t mine = std::max<size_t>(1, local);
  return size_t(dist_.all_reduce(double(mine), ReduceOp::kMax));
}

void ShardedParams::before_backward(size_t k, size_t) {
  if (k == 0)
    for (auto& g : groups_) {
      g->shard_decay.mutable_grad().reset();
      g->shard_no_decay.mutable_grad().reset();
    }
  for (auto& g : groups_) g->ready = 0, g->reduced = false;
}

void ShardedParams::after_backward(size_t, size_t) { finish(); }

void ShardedParams::finish() {
  // Every parameter gets a gradient in every pass (idle passes included), so every group has
  // been reduced by its hooks, in the same order on every rank. A group that has not (a
  // parameter outside the loss) is reduced here, in group order.
  for (auto& g : groups_)
    if (!g->reduced) reduce_grads(*g);
  release(*groups_.back());
  for (auto& g : groups_) g->ready = 0, g->reduced = false;
}

// ---- checkpoints in the per-parameter format of the other stages ----

namespace {
std::vector<std::string> state_kinds(const Tensor& param) {
  if (param.scalar_type() == torch::kFloat32) return {"exp_avg", "exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq", "master"};
}
}  // namespace

std::map<std::string, Tensor> ShardedParams::checkpoint_state(const AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  const auto state = optimizer.state_dict();
  const std::vector<int> owners = balanced_owners(full_params_, dist_.world_size());
  std::map<std::string, int> owner_of;
  for (size_t i = 0; i < full_params_.size(); ++i) owner_of[full_params_[i].name] = owners[i];
  std::map<std::string, Tensor> out;
  for (auto& gp : groups_) {
    Group& g = *gp;
    const std::string pieces[2] = {g.name + ".decay", g.name + ".no_decay"};
    const int64_t lengths[2] = {g.split, g.shard - g.split};
    // The step count: every piece of every rank has taken the same updates.
    Tensor step;
    for (int i = 0; i < 2; ++i)
      if (auto it = state.find(pieces[i] + ".step"); it != state.end()) step = it->second;
    for (const std::string& kind : state_kinds(g.full)) {
      std::vector<Tensor> parts;
      for (int i = 0; i < 2; ++i) {
        auto it = state.find(pieces[i] + "." + kind);
        parts.push_back(it != state.end() ? it->second.reshape(-1)
                                          : torch::zeros({lengths[i]}, g.full.options().dtype(torch::kFloat32)));
      }
      Tensor mine = torch::cat(parts);
      Tensor all = torch::empty({g.shard * dist_.world_size()}, mine.options());
      dist_.all_gather_into(all, mine)();
      for (size_t j = 0; j < g.params.size(); ++j) {
        const auto& p = g.params[j];
        if (owner_of.at(p.name) != dist_.rank()) continue;
        out[p.name + "." + kind] = all.narrow(0, g.offsets[j], p.tensor.numel()).view(p.tensor.sizes()).clone();
        if (step.defined()) out[p.name + ".step"] = step.clone();
      }
    }
  }
  return out;
}

std::vector<std::string> ShardedParams::params_needed() const {
  std::vector<std::string> out;
  const int64_t rank = dist_.rank();
  for (const auto& g : groups_) {
    const int64_t lo = rank * g->shard, hi = lo + g->shard;
    for (size_t j = 0; j < g->params.size(); ++j) {
      const int64_t a = g->offsets[j], b = a + g->params[j].tensor.numel();
      if (a < hi && b > lo) out.push_back(g->params[j].name);
    }
  }
  return out;
}

void ShardedParams::load_checkpoint_state(AdamW& optimizer, const std::map<std::string, Tensor>& state) {
  torch::NoGradGuard no_grad;
  const int64_t rank = dist_.rank();
  std::map<std::string, Tensor> mine;
  auto entry = [&](const std::string& key) -> const Tensor& {
    auto it = state.find(key);
    if (it == state.end()) throw Error("checkpoint: the optimizer state has no entry " + key);
    return it->second;
  };
  for (auto& gp : groups_) {
    Group& g = *gp;
    const std::string pieces[2] = {g.name + ".decay", g.name + ".no_decay"};
    const int64_t starts[2] = {rank * g.shard, rank * g.shard + g.split};
    const int64_t lengths[2] = {g.split, g.shard - g.split};
    for (int i = 0; i < 2; ++i) {
      if (lengths[i] == 0) continue;
      const int64_t lo = starts[i], hi = lo + lengths[i];
      Tensor step;
      for (const std::string& kind : state_kinds(g.full)) {
        Tensor t = torch::zeros({lengths[i]}, g.full.options().dtype(torch::kFloat32));
        for (size_t j = 0; j < g.params.size(); ++j) {
          const auto& p = g.params[j];
          const int64_t a = g.offsets[j], b = a + p.tensor.numel();
          if (a >= hi || b <= lo) continue;
          const Tensor& src = entry(p.name + "." + kind);
          if (src.numel() != p.tensor.numel())
            throw Error("checkpoint: optimizer entry " + p.name + "." + kind + " has " + std::to_string(src.numel()) +
                        " elements, the model's parameter " + std::to_string(p.tensor.numel()));
          const int64_t from = std::max(a, lo), to = std::min(b, hi);
          t.narrow(0, from - lo, to - from).copy_(src.reshape(-1).narrow(0, from - a, to - from));
          if (!step.defined()) step = entry(p.name + ".step");
        }
        mine[pieces[i] + "." + kind] = t;
      }
      // A piece of padding only: it never changes; any step count restores it.
      mine[pieces[i] + ".step"] = step.defined() ? step : torch::zeros({}, torch::kInt64);
    }
  }
  optimizer.load_state_dict(mine);
}

void idle_pass(model::Transformer& model) {
  Tensor ids = torch::zeros({1, 1}, torch::TensorOptions().dtype(torch::kLong).device(model.device()));
  Tensor logits = model.logits(model.hidden_states(ids));
  (logits.sum() * 0).backward();
}

}  // namespace principia::trainer
