// principia_model_probe: diagnostics the interop tests drive from Python.
//   logits MODEL_DIR OUT.safetensors ID...        logits [1, T, V] (fp32) as tensor "logits"
//   train  MODEL_DIR OUT_DIR STEPS SEED            STEPS AdamW steps (lr 1e-3) of next-token
//                                                  loss on random tokens, then save_pretrained
// Exit 2 with one line on principia::Error.
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/safetensors.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "model/weights.h"

using namespace principia;
using namespace principia::model;

static int dump_logits(int argc, char** argv) {
  auto m = load_pretrained(argv[2]);
  std::vector<int64_t> ids;
  for (int i = 4; i < argc; ++i) ids.push_back(std::stoll(argv[i]));
  torch::NoGradGuard ng;
  torch::Tensor logits = m->forward(torch::tensor(ids).unsqueeze(0)).to(torch::kFloat32).contiguous();
  write_safetensors(argv[3], {{"logits", StDType::kF32, logits.sizes().vec(), logits.data_ptr(),
                               static_cast<size_t>(logits.numel()) * 4}});
  return 0;
}

static int train(char** argv) {
  auto m = load_pretrained(argv[2]);
  const int steps = std::stoi(argv[4]);
  torch::manual_seed(std::stoull(argv[5]));
  m->train();
  m->set_gradient_checkpointing(true);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  const int64_t V = m->config().vocab_size;
  for (int s = 0; s < steps; ++s) {
    torch::Tensor ids = torch::randint(0, V, {2, 17}, torch::kLong);
    torch::Tensor h = m->hidden_states(ids.narrow(1, 0, 16));
    torch::Tensor loss =
        -token_logprobs(h, m->head_weight(), ids.narrow(1, 1, 16), 8).logprobs.mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    std::fprintf(stderr, "step %d loss %.5f\n", s, loss.item<double>());
  }
  save_pretrained(*m, argv[3]);
  return 0;
}

int main(int argc, char** argv) {
  try {
    std::string verb = argc > 1 ? argv[1] : "";
    if (verb == "logits" && argc >= 5) return dump_logits(argc, argv);
    if (verb == "train" && argc == 6) return train(argv);
    std::fprintf(stderr,
                 "usage: principia_model_probe logits MODEL_DIR OUT.safetensors ID...\n"
                 "       principia_model_probe train MODEL_DIR OUT_DIR STEPS SEED\n");
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "principia_model_probe: error: %s\n", e.what());
    return 2;
  }
}
