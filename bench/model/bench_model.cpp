// principia_bench_model: throughput of our transformer on a Hugging Face model directory.
//   principia_bench_model train  MODEL_DIR BATCH SEQ STEPS THREADS [DEVICE [DTYPE [CKPT]]]
//       forward + backward of the next-token loss (token_logprobs), tokens/s = BATCH*SEQ/step;
//       CKPT 1: activation checkpointing (each layer recomputed in backward)
//   principia_bench_model sample MODEL_DIR BATCH PROMPT_LEN NEW_TOKENS THREADS [DEVICE [DTYPE [DECODE]]]
//       batched sampling (temperature 1, no EOS stop), tokens/s = BATCH*NEW_TOKENS/run;
//       DECODE: auto (default: a CUDA graph on CUDA), eager or graph
//   principia_bench_model rollout MODEL_DIR REQUESTS.json ENGINE THREADS [MAX_NUM_SEQS [DEVICE]]
//       a rollout's request set ({"prompts": [[ids]], "lengths": [n], "seeds": [s]}: each request
//       generates exactly its length, EOS ignored, temperature 1) on ENGINE paged or static (the
//       static batch in slices of MAX_NUM_SEQS rows); tokens/s = generated tokens / run, with
//       the process's peak RSS and the paged engine's prefix hit rate. bench/rollout/run_bench.py
// DEVICE: cpu (default), cuda, cuda:N; DTYPE: float32 (default), bfloat16. On CUDA the clock
// stops after a device synchronisation.
// Prints one JSON line. Inputs are random ids from a fixed seed (the same as run_bench.py uses
// is not required: throughput does not depend on the ids). bench/model/run_bench.py runs this
// and transformers side by side.
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "core/files.h"
#include "core/heap.h"
#include "model/generation.h"
#include "model/paged_generation.h"
#include "model/pretrained.h"
#include "model/token_logprobs.h"
#include "model/transformer.h"
#include "model/weights.h"

using namespace principia::model;
using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

static int rollout(int argc, char** argv) {
  if (argc < 6 || argc > 8) {
    std::fprintf(stderr, "usage: principia_bench_model rollout MODEL_DIR REQUESTS.json paged|static THREADS [MAX_NUM_SEQS [DEVICE]]\n");
    return 2;
  }
  try {
    at::set_num_threads(std::stoi(argv[5]));
    const std::string engine = argv[4];
    const int64_t max_num_seqs = argc > 6 ? std::stoll(argv[6]) : 64;
    LoadOptions load;
    if (argc > 7) load.device = argv[7];
    auto m = load_pretrained(argv[2], load);
    const auto j = nlohmann::json::parse(principia::read_file(argv[3]));
    std::vector<GenerationRequest> reqs;
    int64_t longest = 0;
    for (size_t r = 0; r < j["prompts"].size(); ++r) {
      GenerationRequest g;
      g.prompt = j["prompts"][r].get<std::vector<int64_t>>();
      g.max_new_tokens = j["lengths"][r].get<int64_t>();
      g.seed = j["seeds"][r].get<uint64_t>();
      longest = std::max(longest, g.max_new_tokens);
      reqs.push_back(std::move(g));
    }
    SamplingOptions o;
    o.max_new_tokens = longest;
    o.use_config_eos = false;  // every request generates exactly its length, as in the peers' runs
    EngineOptions e;
    e.max_num_seqs = max_num_seqs;
    EngineStats stats;
    auto run = [&](const std::vector<GenerationRequest>& rs) {
      if (engine == "paged") return generate_paged(*m, rs, o, e, &stats);
      if (engine == "static") return generate_in_batches(*m, rs, o, max_num_seqs);
      throw principia::Error("ENGINE must be paged or static, not " + engine);
    };
    run({reqs.front()});  // warm-up
    auto t0 = Clock::now();
    auto out = run(reqs);
    if (torch::Device(load.device).is_cuda()) torch::cuda::synchronize();
    const double s = seconds_since(t0);
    int64_t tokens = 0;
    for (const auto& g : out) tokens += static_cast<int64_t>(g.ids.size());
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("{\"mode\": \"rollout\", \"engine\": \"%s\", \"tokens\": %lld, \"tokens_per_s\": %.2f, "
                "\"seconds\": %.3f, \"peak_rss_gib\": %.3f, \"prefix_hit_rate\": %.4f, \"preemptions\": %lld}\n",
                engine.c_str(), static_cast<long long>(tokens), double(tokens) / s, s,
                double(ru.ru_maxrss) / (1024.0 * 1024.0), stats.prefix_hit_rate(),
                static_cast<long long>(stats.preemptions));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "principia_bench_model: error: %s\n", e.what());
    return 2;
  }
  return 0;
}

int main(int argc, char** argv) {
  principia::core::keep_freed_memory_in_heap();  // as the principia binary does
  if (argc >= 2 && std::string(argv[1]) == "rollout") return rollout(argc, argv);
  if (argc < 7 || argc > 10) {
    std::fprintf(stderr, "usage: principia_bench_model train|sample MODEL_DIR B T N THREADS [DEVICE [DTYPE [CKPT]]]\n");
    return 2;
  }
  try {
    const std::string mode = argv[1];
    const int64_t B = std::stoll(argv[3]), T = std::stoll(argv[4]), N = std::stoll(argv[5]);
    at::set_num_threads(std::stoi(argv[6]));
    LoadOptions load;
    if (argc > 7) load.device = argv[7];
    if (argc > 8) load.dtype = argv[8];
    auto m = load_pretrained(argv[2], load);
    const torch::Device device(load.device);
    auto sync = [&] {
      if (device.is_cuda()) torch::cuda::synchronize();
    };
    const int64_t V = m->config().vocab_size;
    torch::manual_seed(0);
    if (mode == "train") {
      m->train();
      m->set_gradient_checkpointing(argc > 9 && std::string(argv[9]) == "1");
      auto step = [&] {
        torch::Tensor ids = torch::randint(0, V, {B, T + 1}, torch::TensorOptions(torch::kLong).device(device));
        torch::Tensor h = m->hidden_states(ids.narrow(1, 0, T));
        torch::Tensor loss =
            -token_logprobs(h, m->head_weight(), ids.narrow(1, 1, T), 2048).logprobs.mean();
        m->zero_grad();
        loss.backward();
        return loss.item<double>();
      };
      step();  // warm-up
      auto t0 = Clock::now();
      for (int64_t i = 0; i < N; ++i) step();
      sync();
      double s = seconds_since(t0);
      std::printf("{\"mode\": \"train\", \"tokens_per_s\": %.2f, \"seconds\": %.3f}\n",
                  B * T * N / s, s);
    } else if (mode == "sample") {
      std::vector<GenerationRequest> reqs;
      torch::Tensor prompts = torch::randint(3, V, {B, T}, torch::kLong);
      for (int64_t r = 0; r < B; ++r)
        reqs.push_back({{prompts[r].data_ptr<int64_t>(), prompts[r].data_ptr<int64_t>() + T},
                        static_cast<uint64_t>(r)});
      SamplingOptions o;
      o.max_new_tokens = N;
      o.use_config_eos = false;  // every row generates N tokens, as in the transformers run
      const std::string decode = argc > 9 ? argv[9] : "auto";
      if (decode == "eager") o.decode_mode = DecodeMode::kEager;
      else if (decode == "graph") o.decode_mode = DecodeMode::kGraph;
      else if (decode != "auto") throw principia::Error("DECODE must be auto, eager or graph, not " + decode);
      SamplingOptions warm = o;
      warm.max_new_tokens = 4;
      generate(*m, reqs, warm);
      sync();
      auto t0 = Clock::now();
      auto out = generate(*m, reqs, o);
      sync();
      double s = seconds_since(t0);
      int64_t tokens = 0;
      for (const auto& g : out) tokens += static_cast<int64_t>(g.ids.size());
      std::printf("{\"mode\": \"sample\", \"tokens_per_s\": %.2f, \"seconds\": %.3f}\n",
                  tokens / s, s);
    } else {
      std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
      return 2;
    }
  } catch (const principia::Error& e) {
    std::fprintf(stderr, "principia_bench_model: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
