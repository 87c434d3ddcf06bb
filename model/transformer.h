// Decoder-only transformer (Qwen3 / Llama) in LibTorch, parameters named exactly as Hugging Face
// names them ("model.layers.0.self_attn.q_proj.weight", ...), so named_parameters() is the
// checkpoint's state dict.
//
//   x = embed(ids)
//   per layer: x += o_proj(attn(rope(qk_norm(q)), rope(qk_norm(k)), v))   (RMSNorm'd input)
//              x += down(silu(gate(h)) * up(h))                           (RMSNorm'd input)
//   logits = lm_head(norm(x))   (lm_head = embed when tied)
//
// RMSNorm is computed in fp32 and cast back (as transformers does); attention goes through
// at::scaled_dot_product_attention with a causal mask, a padding mask when given, GQA.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace principia::model {

// Preallocated keys/values for incremental decoding. Rows share one timeline: prompts of
// different lengths are left-padded so that every row writes step t into slot t.
struct KVCache {
  std::vector<torch::Tensor> keys, values;  // per layer [B, kv_heads, capacity, head_dim]
  torch::Tensor key_valid;                  // [B, capacity] bool: slot holds a real token
  int64_t length = 0;                       // slots filled so far
  bool padded = false;                      // some slot is padding: attention needs a mask
  // Set only inside Transformer::decode_step: the [1] int64 slot (on the device) that this
  // step's keys/values go to; attention then spans the whole capacity under a mask.
  torch::Tensor write_slot;
  int64_t capacity() const { return keys.empty() ? 0 : keys[0].size(2); }
};

// A paged KV cache (model/paged_generation.h): every layer's keys and values live in one pool of
// slots, [num_slots, kv_heads, head_dim]; BlockManager says which slot holds a sequence's position.
struct PagedKV {
  std::vector<torch::Tensor> keys, values;
  int64_t num_slots() const { return keys.empty() ? 0 : keys[0].size(0); }
};

// One forward pass over a paged cache. Row b's tokens go to `write_slots` (padding to slot 0, a
// scratch slot no position uses); it attends over `read_slots`, the slots of its positions
// 0..L-1 (beyond its length, slot 0), each query seeing the keys at positions <= its own
// (ForwardArgs' position_ids; a padding query at position 0 sees key 0). Every row's keys are
// written before any row reads, so rows of one forward may read positions another row writes.
struct PagedBatch {
  PagedKV* kv = nullptr;
  torch::Tensor write_slots;  // [B, T] int64
  torch::Tensor read_slots;   // [B, L] int64
};

// Where a model's weights live when they are sharded across ranks (ZeRO-3, trainer/zero3.h):
// the parameters keep their names and shapes but hold memory only while gathered. The model
// asks for a layer's weights just before using them and hands the layer's output back, so the
// implementation can release the weights and re-gather them for that layer's backward.
// Unset (the default), the weights are always present and none of this is called.
class ParamGather {
 public:
  static constexpr int64_t kOuter = -1;  // the embedding, the final norm and the head
  virtual ~ParamGather() = default;
  virtual void acquire(int64_t group) = 0;  // a layer index or kOuter; blocks until present
  virtual torch::Tensor after_layer(int64_t layer, const torch::Tensor& output) = 0;
  // Every weight present until release_all() (a collective over the ranks sharing the model):
  // for phases with many forwards (generation, log-probs without grad, evaluation, saving).
  virtual void gather_all() = 0;
  virtual void release_all() = 0;
};

// Inputs to one forward pass beyond the token ids.
struct ForwardArgs {
  // [B, T] int64 RoPE positions; undefined = 0..T-1 (or cache->length.. when decoding).
  torch::Tensor position_ids;
  // [B, T] bool/int, true where the token is real (padding elsewhere). Undefined = no padding.
  // With right padding only, leave it undefined: causal attention never looks right.
  torch::Tensor attention_mask;
  KVCache* cache = nullptr;  // when set, keys/values are appended and attended over
  // Instead of `cache`: a paged cache (position_ids required).
  const PagedBatch* paged = nullptr;
};

// How a module's parameters are created: empty (never initialised) in `options`' dtype and
// device, so a model that is about to be loaded costs no random init and no fp32 host copy; with
// `torch_init`, filled as torch::nn's Linear (kaiming uniform) and Embedding (normal) would be,
// which keeps the random stream of a model initialised from scratch as it always was.
struct ParamInit {
  torch::TensorOptions options;
  bool torch_init = false;
};

// y = x·Wᵀ + b, as torch::nn::Linear (parameters "weight" [out, in] and "bias" [out]).
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// Rows of "weight" [vocab, hidden] by id, as torch::nn::Embedding.
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t num, int64_t dim, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& ids);
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const TransformerConfig& c, const ParamInit& init);
  // x [B, T, H]; cos/sin [B, T, head_dim] in x's dtype; mask for SDPA (or undefined + causal).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, bool causal, KVCache* cache, int64_t layer,
                        const PagedBatch* paged = nullptr);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only
  int64_t num_heads, num_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const TransformerConfig& c, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const TransformerConfig& c, const ParamInit& init);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, bool causal, KVCache* cache, int64_t layer,
                        const PagedBatch* paged = nullptr);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// "model.*" in HF names.
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const TransformerConfig& c, const ParamInit& init);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

class Transformer : public torch::nn::Module {
 public:
  // Parameters are allocated (fp32, CPU) and initialised like transformers does (normal(0,
  // init_std) for matrices, ones for norms); load weights with load_weights() (weights.h).
  explicit Transformer(const TransformerConfig& config, double init_std = 0.02);
  // Parameters allocated in `options`' dtype and device and left uninitialised: for a model
  // whose every weight is loaded next (load_pretrained).
  Transformer(const TransformerConfig& config, const torch::TensorOptions& options);

  const TransformerConfig& config() const { return config_; }

  // Final hidden states [B, T, H] (after the last RMSNorm). Autograd flows when enabled.
  torch::Tensor hidden_states(const torch::Tensor& input_ids, const ForwardArgs& args = {});
  // Logits [..., V] for hidden states [..., H] (in the model dtype).
  torch::Tensor logits(const torch::Tensor& hidden);
  // hidden_states + logits for every position: [B, T, V]. For training prefer token_logprobs.
  torch::Tensor forward(const torch::Tensor& input_ids, const ForwardArgs& args = {});

  // One decoding step with static shapes, for CUDA-graph capture (generation.cpp): `ids` and
  // `positions` [B, 1] at cache slot `slot` (a [1] int64 tensor on the model's device, the same
  // slot for every row), attending over the cache's whole capacity with a mask of the valid
  // slots up to `slot`. No host synchronisation and no host-side state: cache.length is not
  // advanced, so the same inputs may be replayed. Returns the final hidden state [B, 1, H].
  // Same result as hidden_states(ids, {positions, {}, &cache}) with cache.length == slot.
  torch::Tensor decode_step(const torch::Tensor& ids, const torch::Tensor& positions, const torch::Tensor& slot,
                            KVCache& cache);

  // The output projection [V, H]: lm_head.weight, or the embedding when tied.
  torch::Tensor head_weight();

  // Recompute each layer's activations in backward instead of keeping them (saves memory:
  // only each layer's input is kept). Only affects passes with grad enabled.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }

  // Sharded weights (ZeRO-3): `gather` is asked for each layer's weights before use. Not owned.
  void set_param_gather(ParamGather* gather) { gather_ = gather; }
  ParamGather* param_gather() const { return gather_; }

  // An empty cache for `batch` rows and `capacity` positions, in the model's dtype/device.
  KVCache make_cache(int64_t batch, int64_t capacity);
  // A zeroed paged cache of `num_slots` slots, in the model's dtype/device.
  PagedKV make_paged_kv(int64_t num_slots);

  torch::Dtype dtype();
  torch::Device device();

  Decoder model{nullptr};
  Linear lm_head{nullptr};  // null when tied

 private:
  torch::Tensor paged_hidden_states(const torch::Tensor& input_ids, const ForwardArgs& args);
  // cos/sin [B, T, head_dim] for positions [B, T], cast to `dtype`.
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& positions, torch::Dtype dtype);

  TransformerConfig config_;
  bool checkpointing_ = false;
  ParamGather* gather_ = nullptr;
  torch::Tensor inv_freq_;  // [head_dim/2] fp32, on the device of the last call
  double rope_attention_scaling_ = 1.0;  // yarn: cos/sin are scaled by it
  // Dynamic NTK scaling (rope_scaling.type "dynamic"): as transformers, the frequencies are
  // recomputed when a forward reaches a position beyond the longest seen so far (and reset below
  // max_position_embeddings), so this state follows the calls, as transformers' rotary module's.
  int64_t rope_cached_len_ = 0;
};

// Every weight of `model` present for this scope (ParamGather::gather_all, a collective when the
// model is sharded; nothing otherwise), released at its end.
class FullWeights {
 public:
  explicit FullWeights(Transformer& model) : gather_(model.param_gather()) {
    if (gather_) gather_->gather_all();
  }
  ~FullWeights() {
    if (gather_) gather_->release_all();
  }
  FullWeights(const FullWeights&) = delete;
  FullWeights& operator=(const FullWeights&) = delete;

 private:
  ParamGather* gather_;
};

// RoPE inverse frequencies [head_dim/2] (fp32, CPU) and the cos/sin scale for `config`'s
// rope_scaling, computed as transformers' modeling_rope_utils does (same fp32 operations).
// `seq_len` matters for "dynamic" only (the longest sequence seen; <= max positions: unscaled).
std::pair<torch::Tensor, double> rope_inv_freq(const TransformerConfig& config, int64_t seq_len = 0);

// Maps "float32" / "bfloat16" / "float16" to a torch dtype (principia::Error otherwise).
torch::Dtype parse_dtype(const std::string& name);

}  // namespace principia::model
