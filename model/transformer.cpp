#include "model/transformer.h"

#include <cmath>
#include <limits>
#include <tuple>

#include "core/error.h"

namespace principia::model {
namespace F = torch::nn::functional;
using torch::Tensor;

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  throw Error("unsupported dtype '" + name + "' (float32, bfloat16 or float16)");
}

// ---- Linear, Embedding: torch::nn's math, parameters created as ParamInit says ----
LinearImpl::LinearImpl(int64_t in, int64_t out, bool with_bias, const ParamInit& init) {
  weight = register_parameter("weight", torch::empty({out, in}, init.options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, init.options));
  if (init.torch_init) {  // torch::nn::LinearImpl::reset_parameters
    torch::NoGradGuard no_grad;
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5));
    if (with_bias) torch::nn::init::uniform_(bias, -1.0 / std::sqrt(double(in)), 1.0 / std::sqrt(double(in)));
  }
}

Tensor LinearImpl::forward(const Tensor& x) { return F::linear(x, weight, bias); }

EmbeddingImpl::EmbeddingImpl(int64_t num, int64_t dim, const ParamInit& init) {
  weight = register_parameter("weight", torch::empty({num, dim}, init.options));
  if (init.torch_init) {  // torch::nn::EmbeddingImpl::reset_parameters
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(weight);
  }
}

Tensor EmbeddingImpl::forward(const Tensor& ids) { return torch::embedding(weight, ids); }

// ---- RMSNorm: fp32 statistics, cast back, then the weight in the input dtype (as HF) ----
RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const ParamInit& init) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}, init.options));
}

Tensor RMSNormImpl::forward(const Tensor& x) {
  if (x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32)
    return at::rms_norm(x, {weight.size(0)}, weight, eps);  // one fused kernel, same math
  Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

// ---- attention ----
namespace {

Tensor rotate_half(const Tensor& x) {
  int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

}  // namespace

AttentionImpl::AttentionImpl(const TransformerConfig& c, const ParamInit& init)
    : num_heads(c.num_heads), num_kv_heads(c.num_kv_heads), head_dim(c.head_dim) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, c.num_heads * c.head_dim, c.qkv_bias(), init));
  k_proj = register_module("k_proj", Linear(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias(), init));
  v_proj = register_module("v_proj", Linear(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias(), init));
  o_proj = register_module("o_proj", Linear(c.num_heads * c.head_dim, c.hidden_size, c.attention_bias, init));
  if (c.qk_norm()) {
    q_norm = register_module("q_norm", RMSNorm(c.head_dim, c.rms_norm_eps, init));
    k_norm = register_module("k_norm", RMSNorm(c.head_dim, c.rms_norm_eps, init));
  }
}

Tensor AttentionImpl::forward(const Tensor& x, const Tensor& cos, const Tensor& sin,
                              const Tensor& mask, bool causal, KVCache* cache, int64_t layer,
                              const PagedBatch* paged) {
  const int64_t B = x.size(0), T = x.size(1);
  Tensor q = q_proj(x).view({B, T, num_heads, head_dim});
  Tensor k = k_proj(x).view({B, T, num_kv_heads, head_dim});
  Tensor v = v_proj(x).view({B, T, num_kv_heads, head_dim}).transpose(1, 2);
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  q = apply_rope(q.transpose(1, 2), cos, sin);
  k = apply_rope(k.transpose(1, 2), cos, sin);
  if (paged) {  // write this forward's keys into the pool, then gather each row's positions
    Tensor& pool_k = paged->kv->keys[layer];
    Tensor& pool_v = paged->kv->values[layer];
    pool_k.index_copy_(0, paged->write_slots.flatten(), k.transpose(1, 2).reshape({B * T, num_kv_heads, head_dim}));
    pool_v.index_copy_(0, paged->write_slots.flatten(), v.transpose(1, 2).reshape({B * T, num_kv_heads, head_dim}));
    const int64_t L = paged->read_slots.size(1);
    k = pool_k.index_select(0, paged->read_slots.flatten()).view({B, L, num_kv_heads, head_dim}).transpose(1, 2);
    v = pool_v.index_select(0, paged->read_slots.flatten()).view({B, L, num_kv_heads, head_dim}).transpose(1, 2);
  } else if (cache && cache->write_slot.defined()) {  // decode_step: static shapes, the slot on the device
    cache->keys[layer].index_copy_(2, cache->write_slot, k);
    cache->values[layer].index_copy_(2, cache->write_slot, v);
    k = cache->keys[layer];
    v = cache->values[layer];
  } else if (cache) {
    const int64_t start = cache->length;
    cache->keys[layer].narrow(2, start, T).copy_(k);
    cache->values[layer].narrow(2, start, T).copy_(v);
    k = cache->keys[layer].narrow(2, 0, start + T);
    v = cache->values[layer].narrow(2, 0, start + T);
  }
  std::optional<Tensor> m;
  if (mask.defined()) m = mask;
  Tensor out = at::scaled_dot_product_attention(q, k, v, m, 0.0, causal && !mask.defined(),
                                                std::nullopt, num_heads != num_kv_heads);
  return o_proj(out.transpose(1, 2).reshape({B, T, num_heads * head_dim}));
}

MlpImpl::MlpImpl(const TransformerConfig& c, const ParamInit& init) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, init));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias, init));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias, init));
}

Tensor MlpImpl::forward(const Tensor& x) {
  return down_proj(F::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const TransformerConfig& c, const ParamInit& init) {
  self_attn = register_module("self_attn", Attention(c, init));
  mlp = register_module("mlp", Mlp(c, init));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
}

Tensor DecoderLayerImpl::forward(const Tensor& x, const Tensor& cos, const Tensor& sin,
                                 const Tensor& mask, bool causal, KVCache* cache, int64_t layer,
                                 const PagedBatch* paged) {
  Tensor h = x + self_attn(input_layernorm(x), cos, sin, mask, causal, cache, layer, paged);
  return h + mlp(post_attention_layernorm(h));
}

DecoderImpl::DecoderImpl(const TransformerConfig& c, const ParamInit& init) {
  embed_tokens = register_module("embed_tokens", Embedding(c.vocab_size, c.hidden_size, init));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_layers; ++i) layers->push_back(DecoderLayer(c, init));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, init));
}

// ---- activation checkpointing ----
// LibTorch has no checkpoint(): this Function runs a layer without keeping its graph and, in
// backward, reruns it with grad enabled on a detached copy of the input, back-propagates the
// incoming gradient through that fresh graph (which accumulates the layer's parameter grads,
// as PyTorch's reentrant checkpoint does) and returns the input's gradient. The layer has no
// randomness (no dropout), so the recompute is exact.
namespace {

// What a checkpointed layer needs besides its input; none of it takes gradients.
struct LayerInputs {
  Tensor cos, sin, mask;
  bool causal = true;
  DecoderLayerImpl* layer = nullptr;
};

struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static Tensor forward(torch::autograd::AutogradContext* ctx, Tensor x, const LayerInputs* in) {
    ctx->save_for_backward({x});
    ctx->saved_data["cos"] = in->cos;
    ctx->saved_data["sin"] = in->sin;
    ctx->saved_data["has_mask"] = in->mask.defined();
    if (in->mask.defined()) ctx->saved_data["mask"] = in->mask;
    ctx->saved_data["causal"] = in->causal;
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(in->layer);
    return in->layer->forward(x, in->cos, in->sin, in->mask, in->causal, nullptr, 0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    Tensor mask = ctx->saved_data["has_mask"].toBool() ? ctx->saved_data["mask"].toTensor() : Tensor();
    Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    Tensor out;
    {
      torch::AutoGradMode enable(true);
      out = layer->forward(x, ctx->saved_data["cos"].toTensor(), ctx->saved_data["sin"].toTensor(),
                           mask, ctx->saved_data["causal"].toBool(), nullptr, 0);
    }
    torch::autograd::backward({out}, {grad_out[0]});
    return {x.grad(), Tensor()};
  }
};

}  // namespace

// ---- RoPE frequencies, operation for operation as transformers' modeling_rope_utils (fp32
// tensors; Python's `scalar / tensor` is reciprocal() * scalar, written so here) ----
std::pair<Tensor, double> rope_inv_freq(const TransformerConfig& c, int64_t seq_len) {
  const RopeScaling& r = c.rope_scaling;
  const int64_t dim = c.head_dim;
  auto exponents = [&] { return torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / double(dim); };
  Tensor inv_freq = torch::pow(c.rope_theta, exponents()).reciprocal();
  double attention_factor = 1.0;
  if (r.type == "linear") {
    inv_freq = inv_freq / r.factor;
  } else if (r.type == "dynamic") {
    if (seq_len > c.max_position_embeddings) {
      // base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2)), with seq_len a
      // tensor in transformers: the new base is an fp32 scalar tensor.
      Tensor len = torch::tensor(seq_len, torch::kInt64);
      Tensor scale = (r.factor * len / c.max_position_embeddings) - (r.factor - 1);
      Tensor base = c.rope_theta * torch::pow(scale, double(dim) / double(dim - 2));
      inv_freq = torch::pow(base, exponents()).reciprocal();
    }
  } else if (r.type == "llama3") {
    const double old_len = double(r.original_max_position_embeddings);
    const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
    Tensor wavelen = inv_freq.reciprocal() * (2 * M_PI);
    Tensor scaled = torch::where(wavelen > low_wavelen, inv_freq / r.factor, inv_freq);
    Tensor smooth = (wavelen.reciprocal() * old_len - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
    Tensor smoothed = (1 - smooth) * scaled / r.factor + smooth * scaled;
    Tensor medium = (wavelen < high_wavelen).logical_not() * (wavelen > low_wavelen).logical_not();
    inv_freq = torch::where(medium, smoothed, scaled);
  } else if (r.type == "yarn") {
    auto mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
    attention_factor = r.attention_factor;
    if (attention_factor == 0)
      attention_factor = r.mscale != 0 && r.mscale_all_dim != 0
                             ? mscale(r.factor, r.mscale) / mscale(r.factor, r.mscale_all_dim)
                             : mscale(r.factor, 1.0);
    const double base = c.rope_theta, orig = double(r.original_max_position_embeddings);
    auto correction_dim = [&](double rotations) {
      return (double(dim) * std::log(orig / (rotations * 2 * M_PI))) / (2 * std::log(base));
    };
    double low = correction_dim(r.beta_fast), high = correction_dim(r.beta_slow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;  // as transformers: no singular ramp
    Tensor pos_freqs = torch::pow(base, exponents());
    Tensor extrapolation = pos_freqs.reciprocal();
    Tensor interpolation = (r.factor * pos_freqs).reciprocal();
    Tensor ramp = torch::clamp((torch::arange(dim / 2, torch::kFloat32) - low) / (high - low), 0, 1);
    Tensor extrapolation_factor = 1 - ramp;
    inv_freq = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return {inv_freq, attention_factor};
}

// ---- the model ----
Transformer::Transformer(const TransformerConfig& config, const torch::TensorOptions& options) : config_(config) {
  config_.validate("model config");
  const ParamInit init{options, /*torch_init=*/false};
  model = register_module("model", Decoder(config_, init));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, false, init));
  std::tie(inv_freq_, rope_attention_scaling_) = rope_inv_freq(config_);
  rope_cached_len_ = config_.max_position_embeddings;
}

Transformer::Transformer(const TransformerConfig& config, double init_std) : config_(config) {
  config_.validate("model config");
  const ParamInit init{torch::TensorOptions().dtype(torch::kFloat32), /*torch_init=*/true};
  model = register_module("model", Decoder(config_, init));
  if (!config_.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, false, init));
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& n = p.key();
    if (n.find("norm") != std::string::npos) p.value().fill_(1.0);
    else if (n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0) p.value().zero_();
    else p.value().normal_(0.0, init_std);
  }
  std::tie(inv_freq_, rope_attention_scaling_) = rope_inv_freq(config_);
  rope_cached_len_ = config_.max_position_embeddings;
}

torch::Dtype Transformer::dtype() { return model->embed_tokens->weight.scalar_type(); }
torch::Device Transformer::device() { return model->embed_tokens->weight.device(); }

Tensor Transformer::head_weight() {
  if (gather_) gather_->acquire(ParamGather::kOuter);
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

std::pair<Tensor, Tensor> Transformer::rope(const Tensor& positions, torch::Dtype dtype) {
  if (config_.rope_scaling.type == "dynamic") {
    // transformers' dynamic_frequency_update: grow past the longest sequence seen, reset when a
    // call stays within the original length after a longer one. Needs the positions on the host
    // (a CUDA graph capture of this step fails and generation runs it eagerly).
    const int64_t seq_len = positions.max().item<int64_t>() + 1;
    const int64_t original = config_.max_position_embeddings;
    if (seq_len > rope_cached_len_) {
      inv_freq_ = rope_inv_freq(config_, seq_len).first;
      rope_cached_len_ = seq_len;
    }
    if (seq_len < original && rope_cached_len_ > original) {
      inv_freq_ = rope_inv_freq(config_, original).first;
      rope_cached_len_ = original;
    }
  }
  if (inv_freq_.device() != positions.device()) inv_freq_ = inv_freq_.to(positions.device());
  // As transformers: fp32 angles, cos/sin (times the yarn scale) cast to the activation dtype.
  Tensor freqs = positions.unsqueeze(-1).to(torch::kFloat32) * inv_freq_;
  Tensor emb = torch::cat({freqs, freqs}, -1);
  Tensor cos = emb.cos(), sin = emb.sin();
  if (rope_attention_scaling_ != 1.0) {
    cos = cos * rope_attention_scaling_;
    sin = sin * rope_attention_scaling_;
  }
  return {cos.to(dtype).unsqueeze(1), sin.to(dtype).unsqueeze(1)};
}

KVCache Transformer::make_cache(int64_t batch, int64_t capacity) {
  KVCache cache;
  auto opts = torch::TensorOptions().dtype(dtype()).device(device());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    cache.keys.push_back(torch::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, opts));
    cache.values.push_back(torch::zeros({batch, config_.num_kv_heads, capacity, config_.head_dim}, opts));
  }
  cache.key_valid = torch::zeros({batch, capacity}, opts.dtype(torch::kBool));
  return cache;
}

PagedKV Transformer::make_paged_kv(int64_t num_slots) {
  PagedKV kv;
  auto opts = torch::TensorOptions().dtype(dtype()).device(device());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    kv.keys.push_back(torch::zeros({num_slots, config_.num_kv_heads, config_.head_dim}, opts));
    kv.values.push_back(torch::zeros({num_slots, config_.num_kv_heads, config_.head_dim}, opts));
  }
  return kv;
}

Tensor Transformer::hidden_states(const Tensor& input_ids, const ForwardArgs& args) {
  if (input_ids.dim() != 2) throw Error("Transformer: input_ids must be [batch, time]");
  if (args.paged) return paged_hidden_states(input_ids, args);
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  KVCache* cache = args.cache;
  const int64_t start = cache ? cache->length : 0;
  if (cache && start + T > cache->capacity())
    throw Error("Transformer: KV cache full (" + std::to_string(start + T) + " > capacity " +
                std::to_string(cache->capacity()) + ")");
  if (gather_) gather_->acquire(ParamGather::kOuter);
  Tensor x = model->embed_tokens(input_ids);
  Tensor positions = args.position_ids.defined()
                         ? args.position_ids
                         : torch::arange(start, start + T, input_ids.options()).unsqueeze(0);
  auto [cos, sin] = rope(positions, x.scalar_type());

  // Which keys each query may see. Plain causal attention needs no mask tensor; padding (or a
  // cache holding padded prompts) does. A query on a padding slot may always see itself, so no
  // row of the softmax is empty (an all -inf row would give NaN and spread through the values).
  Tensor mask;
  bool causal = true;
  Tensor valid;  // [B, S] key validity
  if (cache) {
    Tensor slots = cache->key_valid.narrow(1, start, T);
    if (args.attention_mask.defined()) {
      slots.copy_(args.attention_mask.to(torch::kBool));
      cache->padded = true;
    } else {
      slots.fill_(true);
    }
    if (cache->padded) valid = cache->key_valid.narrow(1, 0, start + T);
    causal = T > 1;
    if (!valid.defined() && start > 0 && T > 1) valid = cache->key_valid.narrow(1, 0, start + T);
  } else if (args.attention_mask.defined()) {
    valid = args.attention_mask.to(torch::kBool);
  }
  if (valid.defined()) {
    auto idx = torch::TensorOptions().dtype(torch::kLong).device(x.device());
    Tensor q_slot = torch::arange(start, start + T, idx).unsqueeze(1);
    Tensor k_slot = torch::arange(0, start + T, idx).unsqueeze(0);
    Tensor allowed = (k_slot <= q_slot).unsqueeze(0) & valid.unsqueeze(1);
    allowed = allowed | (k_slot == q_slot).unsqueeze(0);
    mask = allowed.unsqueeze(1);  // [B, 1, T, S]
  }
  (void)B;

  const bool recompute = checkpointing_ && torch::GradMode::is_enabled() && !cache;
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    auto* layer = model->layers[i]->as<DecoderLayerImpl>();
    if (gather_) gather_->acquire(i);
    if (recompute && x.requires_grad()) {
      LayerInputs in{cos, sin, mask, causal, layer};
      x = CheckpointedLayer::apply(x, &in);
    } else {
      x = layer->forward(x, cos, sin, mask, causal, cache, i);
    }
    if (gather_) x = gather_->after_layer(i, x);
  }
  if (cache) cache->length += T;
  return model->norm(x);
}

Tensor Transformer::paged_hidden_states(const Tensor& input_ids, const ForwardArgs& args) {
  if (!args.position_ids.defined() || args.cache)
    throw Error("Transformer: a paged forward needs position_ids and no KVCache");
  const PagedBatch* paged = args.paged;
  if (gather_) gather_->acquire(ParamGather::kOuter);
  Tensor x = model->embed_tokens(input_ids);
  auto [cos, sin] = rope(args.position_ids, x.scalar_type());
  // Query at position p sees key positions 0..p of its row: an additive mask [B, 1, T, L] in
  // the activation dtype, built once for all layers.
  Tensor k_pos = torch::arange(paged->read_slots.size(1), args.position_ids.options());
  Tensor allowed = (k_pos.view({1, 1, -1}) <= args.position_ids.unsqueeze(2)).unsqueeze(1);
  Tensor mask = torch::zeros(allowed.sizes(), x.options())
                    .masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    auto* layer = model->layers[i]->as<DecoderLayerImpl>();
    if (gather_) gather_->acquire(i);
    x = layer->forward(x, cos, sin, mask, /*causal=*/false, nullptr, i, paged);
    if (gather_) x = gather_->after_layer(i, x);
  }
  return model->norm(x);
}

Tensor Transformer::decode_step(const Tensor& ids, const Tensor& positions, const Tensor& slot, KVCache& cache) {
  if (gather_) gather_->acquire(ParamGather::kOuter);
  Tensor x = model->embed_tokens(ids);
  auto [cos, sin] = rope(positions, x.scalar_type());
  // The slot becomes valid; each row sees its valid slots up to this one (its prompt without
  // the left padding, and everything generated), as the masked path of hidden_states does.
  cache.key_valid.index_fill_(1, slot, true);
  // As an additive mask in the activation dtype, built once for all layers (a boolean one
  // would be converted by SDPA in every layer).
  Tensor k_slot = torch::arange(cache.capacity(), slot.options()).unsqueeze(0);
  Tensor allowed = (cache.key_valid & (k_slot <= slot)).unsqueeze(1).unsqueeze(1);  // [B, 1, 1, capacity]
  Tensor mask = torch::zeros(allowed.sizes(), x.options()).masked_fill_(allowed.logical_not(),
                                                                       -std::numeric_limits<float>::infinity());
  struct WriteSlot {  // cleared on every exit, so a failed capture leaves the cache usable
    KVCache& c;
    ~WriteSlot() { c.write_slot = Tensor(); }
  } scope{cache};
  cache.write_slot = slot;
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    if (gather_) gather_->acquire(i);
    x = model->layers[i]->as<DecoderLayerImpl>()->forward(x, cos, sin, mask, /*causal=*/false, &cache, i);
    if (gather_) x = gather_->after_layer(i, x);
  }
  return model->norm(x);
}

Tensor Transformer::logits(const Tensor& hidden) {
  if (gather_) gather_->acquire(ParamGather::kOuter);
  return lm_head ? lm_head(hidden) : F::linear(hidden, model->embed_tokens->weight);
}

Tensor Transformer::forward(const Tensor& input_ids, const ForwardArgs& args) {
  return logits(hidden_states(input_ids, args));
}

}  // namespace principia::model
