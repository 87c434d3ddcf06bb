#include "model/weights.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace principia::model {
namespace {

torch::Dtype torch_dtype_of(StDType t) {
  switch (t) {
    case StDType::kF32: return torch::kFloat32;
    case StDType::kBF16: return torch::kBFloat16;
    case StDType::kF16: return torch::kFloat16;
    default: throw Error(std::string("unsupported weight dtype ") + st_dtype_name(t));
  }
}

StDType st_dtype_of(torch::Dtype t) {
  if (t == torch::kFloat32) return StDType::kF32;
  if (t == torch::kBFloat16) return StDType::kBF16;
  if (t == torch::kFloat16) return StDType::kF16;
  throw Error("save_pretrained: unsupported parameter dtype");
}

bool same_shape(const TransformerConfig& a, const TransformerConfig& b) {
  return a.arch == b.arch && a.vocab_size == b.vocab_size && a.hidden_size == b.hidden_size &&
         a.intermediate_size == b.intermediate_size && a.num_layers == b.num_layers &&
         a.num_heads == b.num_heads && a.num_kv_heads == b.num_kv_heads &&
         a.head_dim == b.head_dim && a.tie_word_embeddings == b.tie_word_embeddings &&
         a.attention_bias == b.attention_bias && a.mlp_bias == b.mlp_bias;
}

}  // namespace

void load_weights(Transformer& model, const HfCheckpoint& ckpt) {
  if (!same_shape(model.config(), ckpt.config()))
    throw Error("model directory " + ckpt.dir() + ": its config.json describes a different model "
                "shape than the one being loaded into");
  torch::NoGradGuard no_grad;
  auto params = model.named_parameters();
  if (params.size() != ckpt.names().size())
    throw Error("internal: model has " + std::to_string(params.size()) + " parameters, checkpoint " +
                std::to_string(ckpt.names().size()));
  for (auto& p : params) {
    const TensorView& t = ckpt.tensor(p.key());
    // from_blob does not copy; the mapping is read-only and only read by copy_.
    torch::Tensor src = torch::from_blob(const_cast<std::byte*>(t.data), t.shape,
                                         torch::TensorOptions().dtype(torch_dtype_of(t.dtype)));
    if (src.sizes() != p.value().sizes())
      throw Error("model directory " + ckpt.dir() + ": weight '" + p.key() + "' has the wrong shape");
    p.value().copy_(src);
  }
}

void save_pretrained(Transformer& model, const std::string& dir, uint64_t max_shard_bytes) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<torch::Tensor> keep;  // contiguous CPU copies alive while writing
  std::vector<TensorBytes> tensors;
  TransformerConfig config = model.config();
  torch::Dtype dt = model.dtype();
  config.dtype = dt == torch::kBFloat16 ? "bfloat16" : dt == torch::kFloat16 ? "float16" : "float32";
  for (auto& p : model.named_parameters()) {
    torch::Tensor t = p.value().detach().to(torch::kCPU).contiguous();
    keep.push_back(t);
    tensors.push_back({p.key(), st_dtype_of(t.scalar_type()), t.sizes().vec(), t.data_ptr(),
                       static_cast<size_t>(t.numel()) * t.element_size()});
  }
  write_hf_shards(dir, tensors, max_shard_bytes);
  write_file_atomic((fs::path(dir) / "config.json").string(), to_hf_config(config).dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "generation_config.json").string(),
                    to_hf_generation_config(config).dump(2) + "\n");
}

std::shared_ptr<Transformer> load_pretrained(const std::string& dir, const LoadOptions& options) {
  HfCheckpoint ckpt(dir);
  const torch::Dtype dtype = parse_dtype(options.dtype);
  // Allocated where and as it will live, uninitialised: each weight is then copied once from the
  // mapped file, converting on the way (no random init, no fp32 host copy of the model).
  std::shared_ptr<Transformer> model;
  try {
    model = std::make_shared<Transformer>(ckpt.config(),
                                          torch::TensorOptions().dtype(dtype).device(torch::Device(options.device)));
  } catch (const c10::Error& e) {
    throw Error("cannot use device '" + options.device + "': " + e.what_without_backtrace());
  }
  load_weights(*model, ckpt);
  model->eval();
  return model;
}

std::shared_ptr<Transformer> init_from_config(const config::ModelConfig& m,
                                              int64_t tokenizer_vocab_size, uint64_t seed) {
  TransformerConfig c = from_model_config(m, tokenizer_vocab_size);
  torch::manual_seed(seed);
  auto model = std::make_shared<Transformer>(c, m.init_std);
  model->to(parse_dtype(c.dtype));
  model->set_gradient_checkpointing(m.gradient_checkpointing);
  return model;
}

const TransformerConfig& model_config(const Transformer& model) { return model.config(); }

}  // namespace principia::model
