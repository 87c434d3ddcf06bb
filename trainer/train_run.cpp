#include "trainer/train_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/files.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/run_lock.h"
#include "core/sha256.h"
#include "core/stop_signal.h"
#include "data/loader.h"
#include "data/record_source.h"
#include "data/synth.h"
#include "model/hf_checkpoint.h"
#include "model/pretrained.h"
#include "model/tokenizer/sentencepiece_trainer.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "rewards/registry.h"
#include "trainer/checkpoint.h"
#include "trainer/dist.h"
#include "trainer/evaluate.h"
#include "trainer/grpo_step.h"
#include "trainer/metrics.h"
#include "trainer/optimizer.h"
#include "trainer/plan.h"
#include "trainer/sft.h"
#include "trainer/zero3.h"

namespace principia::trainer {
namespace fs = std::filesystem;
namespace {

struct DataPaths {
  std::string train, eval;
};

// The synthetic task's files live in the run directory; they are a pure function of the seed.
DataPaths prepare_data(const config::Config& cfg, const std::string& run_dir) {
  DataPaths p{cfg.data.train, cfg.eval.data.empty() ? cfg.data.eval : cfg.eval.data};
  if (!cfg.data.synth) return p;
  fs::create_directories(run_dir + "/data");
  p.train = run_dir + "/data/train.jsonl";
  if (!cfg.eval.data.empty()) {  // an explicit eval set wins over the synthetic one
    p.eval = cfg.eval.data;
  } else {
    p.eval = run_dir + "/data/eval.jsonl";
  }
  data::SynthOptions o;
  o.seed = uint64_t(cfg.run.seed);
  o.candidates = int(cfg.data.synth_config.candidates);
  if (!fs::exists(p.train)) {
    o.n = cfg.data.synth_config.train_items;
    o.split = data::SynthSplit::kTrain;
    o.lenient_teacher_rate = cfg.data.synth_config.lenient_teacher_rate;
    data::write_synth_jsonl(o, p.train);
    o.lenient_teacher_rate = 0;  // eval items carry the gold only
  }
  if (cfg.eval.data.empty() && !fs::exists(p.eval)) {
    o.n = cfg.data.synth_config.eval_items;
    switch (cfg.data.synth_config.eval_principles) {
      case config::SynthEvalPrinciples::kHeldOut: o.split = data::SynthSplit::kEval; break;
      case config::SynthEvalPrinciples::kTrained:
        o.split = data::SynthSplit::kTrain;
        o.first_index = cfg.data.synth_config.train_items;  // after the training items
        break;
      case config::SynthEvalPrinciples::kAll: o.split = data::SynthSplit::kAll; break;
    }
    data::write_synth_jsonl(o, p.eval);
  }
  if (cfg.eval.data.empty())
    log::info("synthetic task: ", p.train, " (", cfg.data.synth_config.train_items, " items), ", p.eval,
              " (", cfg.data.synth_config.eval_items, " eval items, principles: ",
              config::enum_name(cfg.data.synth_config.eval_principles), ")");
  else
    log::info("synthetic task: ", p.train, " (", cfg.data.synth_config.train_items, " items); eval set ", p.eval);
  return p;
}

// How the run reads its data files: data.skip_bad skips (and logs) bad JSONL records instead of
// failing on the first.
data::SourceOptions source_options(const config::Config& cfg) {
  data::SourceOptions o;
  o.skip_bad = cfg.data.skip_bad;
  return o;
}

std::vector<data::Record> read_all(const std::string& path, int64_t max_items, const data::SourceOptions& options) {
  auto src = data::open_record_source(path, options);
  int64_t n = src->size();
  if (max_items > 0) n = std::min(n, max_items);
  std::vector<data::Record> out;
  out.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) out.push_back(src->get(i));
  return out;
}

// Trains the run's SentencePiece tokenizer on what the model will read and write: rendered
// prompts and gold judgments of the training data (so JSON punctuation and the think tags get
// pieces of their own).
std::string train_tokenizer(const config::Config& cfg, const std::string& run_dir,
                            const std::string& train_path) {
  std::string dir = run_dir + "/tokenizer";
  std::string model_path = dir + "/tokenizer.model";
  if (fs::exists(model_path)) return model_path;
  if (train_path.empty())
    throw Error("tokenizer.train: true needs training data to train on (data.train or data.synth);"
                " or set tokenizer.path, or a model.path that has a tokenizer");
  fs::create_directories(dir);
  auto records = read_all(train_path, 2000, source_options(cfg));
  auto templ = prompt::PromptTemplate::from_config(cfg.prompt);
  auto chat = prompt::parse_chat_template(cfg.prompt.chat_template);
  std::string corpus_path = dir + "/corpus.txt";
  {
    std::ofstream corpus(corpus_path);
    for (size_t i = 0; i < records.size(); ++i) {
      auto perm = sample_permutation(uint64_t(cfg.run.seed), -1, int64_t(i), 0, records[i].size());
      auto rendered = templ.render({records[i].principle, records[i].prompt, records[i].responses}, perm);
      corpus << prompt::render_chat(chat, rendered.system, rendered.user) << "\n";
      corpus << prompt::render_assistant_target(chat, sft_reasoning(records[i], rendered),
                                                sft_answer_json(records[i], rendered))
             << "\n";
    }
  }
  tokenizer::SentencePieceTrainOptions o;
  o.inputs = {corpus_path};
  o.vocab_size = cfg.tokenizer.train_vocab_size;
  o.model_type = cfg.tokenizer.train_model_type;
  // Trained under a temporary name and renamed: a run killed mid-training never finds a torn
  // tokenizer.model when it restarts.
  o.out_prefix = dir + "/tokenizer.partial";
  o.user_defined_symbols = {"<think>", "</think>", "model-"};
  log::info("training a ", o.vocab_size, "-piece SentencePiece tokenizer on ", corpus_path);
  std::string partial = tokenizer::train_sentencepiece(o);
  std::error_code ec;
  fs::remove(dir + "/tokenizer.partial.vocab", ec);
  rename_durable(partial, model_path);
  return model_path;
}

std::vector<NamedParam> named_params(model::Transformer& m) {
  std::vector<NamedParam> out;
  for (auto& p : m.named_parameters()) {
    // No weight decay on norms (1-D gains), as every common recipe does.
    out.push_back({p.key(), p.value(), p.value().dim() >= 2});
  }
  return out;
}

// Copies the tokenizer file next to a model folder so the folder is self-contained.
void copy_tokenizer(const std::string& tokenizer_path, const std::string& model_dir) {
  fs::path src = tokenizer_path;
  if (fs::is_directory(src)) {
    for (const auto& name : model::tokenizer_file_names(src.string()))
      fs::copy_file(src / name, fs::path(model_dir) / name, fs::copy_options::overwrite_existing);
  } else {
    std::string name = src.extension() == ".model" ? "tokenizer.model" : src.filename().string();
    fs::copy_file(src, fs::path(model_dir) / name, fs::copy_options::overwrite_existing);
  }
}

// Batch sizes are global (across ranks); each rank takes an equal share.
void check_divisible(const config::Config& cfg, const std::string& key, int64_t value, int world) {
  if (value % world != 0)
    throw Error(cfg.where(key), key,
                std::to_string(value) + " is not divisible by the world size " + std::to_string(world) +
                    " (batch sizes count items across all ranks)");
}

// Preflight: room for one checkpoint before any heavy work, rather than a failed write hours
// in: weights, AdamW's two fp32 moments, fp32 masters of non-fp32 weights, 10% slack.
void check_room_for_checkpoint(const std::string& run_dir, int64_t params, config::DType dtype) {
  const bool fp32 = dtype == config::DType::kFloat32;
  const double need = double(params) * ((fp32 ? 4 : 2) + 8 + (fp32 ? 0 : 4)) * 1.1;
  std::error_code ec;
  const auto space = fs::space(run_dir, ec);
  if (!ec && double(space.available) < need)
    throw Error(run_dir + ": " + std::to_string(space.available >> 20) + " MiB free, a checkpoint of " +
                std::to_string(params) + " parameters needs about " + std::to_string(int64_t(need) >> 20) +
                " MiB (weights + optimizer state); free space or set run.output_dir elsewhere");
}

// ZeRO-1 and -2 (optim.zero_stage >= 1, more than one rank): this rank allocates and keeps
// optimizer state (and, at stage 2, gradients) for its share of the parameters only. ZeRO-3:
// the optimizer updates this rank's shards of the weights (`shards`), nothing else.
AdamW make_optimizer(model::Transformer& model, const config::Config& cfg, const Dist& dist,
                     const ShardedParams* shards) {
  if (shards) return AdamW(shards->shards(), AdamWOptions::from(cfg.optim));
  std::vector<NamedParam> params = named_params(model);
  if (cfg.optim.zero_stage < 1 || dist.world_size() == 1) return AdamW(std::move(params), AdamWOptions::from(cfg.optim));
  std::vector<int> owners = balanced_owners(params, dist.world_size());
  return AdamW(std::move(params), AdamWOptions::from(cfg.optim), dist.rank(), std::move(owners));
}

std::vector<torch::Tensor> tensors_of(const std::vector<NamedParam>& params) {
  std::vector<torch::Tensor> out;
  for (const auto& p : params) out.push_back(p.tensor);
  return out;
}

// Gradients all-reduced (stages 0, 1) or reduced to the owner of each parameter (stage 2,
// the optimizer's own sharding). Stage 3 reduce-scatters them in ShardedParams' hooks instead.
std::unique_ptr<Dist::GradReducer> gradient_reducer(const AdamW& optimizer, const config::Config& cfg, Dist& dist,
                                                    const ShardedParams* shards) {
  if (shards) return nullptr;
  const bool sharded_grads = cfg.optim.zero_stage >= 2 && optimizer.sharded();
  return dist.grad_reducer(tensors_of(optimizer.params()), cfg.dist.bucket_mb << 20,
                           sharded_grads ? optimizer.owners() : std::vector<int>{});
}

// run.device -> this rank's torch device. Under a launcher each rank takes its own GPU
// (cuda:LOCAL_RANK) unless the config names one.
std::string resolve_device(const config::Config& cfg, int local_rank) {
  const std::string& d = cfg.run.device;
  const bool cuda = torch::cuda::is_available();
  const std::string own_gpu = "cuda:" + std::to_string(local_rank);
  if (d == "cpu") return d;
  if (d == "auto") return cuda ? own_gpu : "cpu";
  const bool numbered = d.size() > 5 && d.rfind("cuda:", 0) == 0 &&
                        d.find_first_not_of("0123456789", 5) == std::string::npos;
  if (d != "cuda" && !numbered)
    throw Error(cfg.where("run.device"), "run.device", "'" + d + "' is not a device; use cpu, cuda, cuda:N or auto");
  if (!cuda)
    throw Error(cfg.where("run.device"), "run.device",
                "'" + d + "': no CUDA device is visible to this process (or this LibTorch is a CPU build); use cpu or auto");
  if (numbered && std::stoll(d.substr(5)) >= int64_t(torch::cuda::device_count()))
    throw Error(cfg.where("run.device"), "run.device",
                "'" + d + "': only " + std::to_string(torch::cuda::device_count()) + " CUDA devices are visible");
  return d == "cuda" ? own_gpu : d;
}

// What a checkpoint's config must match for a resume to be "the same run": the whole resolved
// config but where the run lives (a run directory copied or moved elsewhere is the same run).
std::string resume_config_hash(const config::Config& cfg) {
  config::Config c = cfg;
  c.run.output_dir.clear();
  return sha256_hex(config::to_yaml(c));
}

void print_table(const std::vector<std::pair<std::string, EvalSummary>>& rows) {
  std::printf("\n%s\n", eval_table(rows).c_str());
  std::fflush(stdout);
}


// One run of `train`, `sft` or `eval`: its phases in the order they run, and the state one
// phase hands the next.
class Run {
 public:
  Run(const config::Config& cfg, const RunOptions& options)
      : cfg(cfg), options(options), run_dir(cfg.run.output_dir), eval_only(options.mode == RunMode::kEval) {}

  int execute() {
    if (!start_ranks()) return 0;
    prepare_data_and_tokenizer();
    build_policy();
    if (eval_only) {
      evaluate("model", "eval");
      print_table(table);
      return 0;
    }
    if (resume_dir.empty()) evaluate("base", "step-base");
    if (!sft()) return kExitPreempted;
    if (options.mode == RunMode::kSft) {
      write_sft_model();
      return 0;
    }
    build_reference();
    if (!grpo()) return kExitPreempted;
    evaluate("grpo", "step-" + std::to_string(cfg.trainer.max_steps));
    if (main_rank) export_for_serving();
    return 0;
  }

 private:
  // ---- ranks, device, the run directory and its lock, the resume point ----
  // false: this process has nothing to do (eval runs on rank 0 only).
  bool start_ranks() {
    // One process without a launcher; torchrun / Slurm set the environment.
    const DistEnv dist_env = dist_env_from_environment();
    if (eval_only && dist_env.rank != 0) return false;
    device = resolve_device(cfg, eval_only ? 0 : dist_env.local_rank);
    // This rank's GPU becomes the current device before any CUDA or NCCL work, so nothing (NCCL's
    // communicator, a default-device allocation) lands on cuda:0 for every rank.
    if (const torch::Device d(device); d.is_cuda())
      c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(d);
    log::set_level(dist_env.rank == 0 ? log::parse_level(cfg.log.level) : log::Level::kWarn);  // rank 0 logs
    // One writer per run directory: rank 0 (the writer) holds the lock until the process ends; a
    // second run on the same directory stops here, before it touches anything.
    if (dist_env.rank == 0) run_lock = std::make_unique<RunDirLock>(run_dir);
    if (!eval_only) {
      check_divisible(cfg, "rollout.batch_size", cfg.rollout.batch_size, dist_env.world_size);
      check_divisible(cfg, "algorithm.mini_batch", cfg.algorithm.mini_batch, dist_env.world_size);
      if (cfg.trainer.sft_steps > 0)
        check_divisible(cfg, "trainer.sft_batch_size", cfg.trainer.sft_batch_size, dist_env.world_size);
    }
    dist = Dist::create(cfg.dist, eval_only ? DistEnv{} : dist_env);
    baseline_rss_gib = current_rss_gib();  // before any data, tokenizer or model
    main_rank = dist->is_main();
    world = dist->world_size();
    fs::create_directories(run_dir);
    {  // Preflight: the run directory must be writable before any heavy work.
      std::string probe = run_dir + "/.write-probe-" + std::to_string(dist->rank());
      write_file_atomic(probe, "ok");
      fs::remove(probe);
    }
    resolved = config::to_yaml(cfg);
    if (main_rank) write_file_atomic(run_dir + "/config.resolved.yaml", resolved);

    // The resume point is checked before any work (a bad --resume PATH costs nothing).
    auto resolve = [&] {
      if (!options.resume.empty()) resume_dir = resolve_resume(run_dir, options.resume);
    };
    dist->on_rank0("finding the checkpoint to resume", resolve);  // first: it removes torn ones
    if (!main_rank) resolve();
    if (!eval_only) install_stop_handlers();
    torch::manual_seed(uint64_t(cfg.run.seed));
    // Intra-op threads: OMP_NUM_THREADS when the launcher set it, else the cores shared out among
    // this node's ranks.
    int threads = std::max(1, int(std::thread::hardware_concurrency()) / std::max(1, dist_env.local_world_size));
    if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp && std::atoi(omp) > 0) threads = std::atoi(omp);
    at::set_num_threads(threads);

    // A model initialised from the YAML shape is sized before the data and tokenizer are made.
    if (!eval_only && cfg.model.path.empty()) {
      const int64_t vocab = cfg.tokenizer.train ? cfg.tokenizer.train_vocab_size : cfg.model.vocab_size;
      if (vocab > 0) check_room_for_checkpoint(run_dir, count_parameters(cfg.model, vocab).total, cfg.model.dtype);
    }
    return true;
  }

  // Every rank stops at the same step: the signal any rank got, agreed on once per step.
  int agreed_stop() { return int(dist->all_reduce(double(stop_requested()), ReduceOp::kMax)); }

  // ---- data, tokenizer, prompt format, reward (rank 0 writes the run's files, the others read) ----
  void prepare_data_and_tokenizer() {
    std::string tok_file = cfg.tokenizer.path;
    auto prepare = [&] {
      paths = prepare_data(cfg, run_dir);
      // Eval reads a trained model with the tokenizer it was trained with, never a new one.
      const bool eval_of_a_model = eval_only && !cfg.model.path.empty();
      if (cfg.tokenizer.train && !eval_of_a_model) tok_file = train_tokenizer(cfg, run_dir, paths.train);
    };
    dist->on_rank0("data and tokenizer preparation", prepare);
    if (!main_rank) prepare();  // finds rank 0's files
    tok_path = tok_file.empty() ? cfg.model.path : tok_file;
    tok = tokenizer::load_tokenizer(tok_path);
    format = std::make_unique<JudgeFormat>(JudgeFormat::from_config(cfg, tok));
    reward = std::make_unique<rewards::CompositeReward>(cfg.reward.components, cfg.reward.require_valid_format);
    if (!resume_dir.empty()) {
      ckpt = load_checkpoint(resume_dir, /*read_optimizer=*/false);
      if (ckpt.state.config_hash != resume_config_hash(cfg))
        log::warn("resuming from ", resume_dir, " with a different config than it was written with");
      log::info("resuming from ", resume_dir, " (step ", ckpt.state.step, ")");
    }
    if (!paths.eval.empty()) eval_items = read_all(paths.eval, cfg.eval.max_items, source_options(cfg));
  }

  // ---- the policy: loaded (a checkpoint, a model folder) or initialised, the same on every rank ----
  void build_policy() {
    load.dtype = config::enum_name(cfg.model.dtype);
    load.device = device;
    if (!resume_dir.empty()) policy = model::load_pretrained(ckpt.model_dir, load);
    else if (!cfg.model.path.empty()) policy = model::load_pretrained(cfg.model.path, load);
    else {  // initialised on the CPU, so every device starts from the same weights
      policy = model::init_from_config(cfg.model, tok->vocab_size(), uint64_t(cfg.run.seed));
      policy->to(torch::Device(device));
    }
    policy->set_gradient_checkpointing(cfg.model.gradient_checkpointing);
    {  // Same initial weights on every rank, whatever each read or initialised.
      std::vector<torch::Tensor> weights;
      for (auto& p : policy->parameters()) weights.push_back(p.detach());
      dist->broadcast(weights);
    }
    log::info("model: ", model::model_config(*policy).num_parameters(), " parameters, vocabulary ",
              tok->vocab_size(), ", on ", device);
    if (!eval_only) {
      check_room_for_checkpoint(run_dir, model::model_config(*policy).num_parameters(), cfg.model.dtype);
      if (cfg.rollout.kv_cache_gib > 0) {  // the budget must hold one sequence of the longest kind
        const auto& shape = model::model_config(*policy);
        const double row = kv_bytes_per_token(shape.num_layers, shape.num_kv_heads, shape.head_dim,
                                              double(policy->parameters().front().element_size())) *
                           double(cfg.data.max_prompt_tokens + cfg.rollout.max_new_tokens);
        try {
          generation_rows(cfg.rollout, 1, row);
        } catch (const Error& e) {
          const SourceLocation at = cfg.where("rollout.kv_cache_gib");
          throw Error((at.known() ? at.str() + ": " : std::string()) + e.what());
        }
      }
    }
    // ZeRO-3: from here on each rank keeps only its shard of the policy's weights.
    if (cfg.optim.zero_stage == 3 && !eval_only)
      policy_shards = std::make_unique<ShardedParams>(*policy, *dist, /*trainable=*/true);
  }

  // ---- evaluation: rank 0 evaluates the policy on the eval items, the others wait ----
  void evaluate(const std::string& label, const std::string& name) {
    if (eval_items.empty()) return;
    model::FullWeights weights(*policy);  // ZeRO-3: gathered on every rank, used by rank 0
    const EvalOptions eval_options = EvalOptions::from(cfg);
    dist->on_rank0("evaluation " + label, [&] {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<ordered_json> judgments;
      auto* keep = eval_options.write_judgments ? &judgments : nullptr;
      auto e = trainer::evaluate(*policy, *format, *reward, eval_items, eval_options, keep);
      write_eval(run_dir, name, e, keep);
      table.emplace_back(label, EvalSummary::of(e));
      log::info("eval ", label, ": ", eval_items.size(), " items in ",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), "s");
    });
  }

  void save_model_dir(const std::string& dir) {
    if (!main_rank) return;
    model::save_pretrained(*policy, dir);
    copy_tokenizer(tok_path, dir);
  }

  data::LoaderOptions loader_options(uint64_t seed, int64_t global_batch) const {
    data::LoaderOptions lo;
    lo.seed = seed;
    lo.rank = dist->rank();
    lo.world_size = world;
    lo.batch_size = global_batch / world;
    lo.max_prompt_tokens = cfg.data.max_prompt_tokens;
    lo.prompt_tokens = [fmt = format.get()](const data::Record& r) { return fmt->prompt_length(r); };
    lo.prefetch = cfg.data.prefetch;
    return lo;
  }

  // ---- SFT warm-start (skipped when resuming: checkpoints are taken after it) ----
  // false when a signal stopped it.
  bool sft() {
    const bool do_sft = resume_dir.empty() && (options.mode == RunMode::kSft || cfg.trainer.sft_steps > 0);
    if (!do_sft || cfg.trainer.sft_steps == 0) return true;
    auto src = std::shared_ptr<const data::RecordSource>(data::open_record_source(paths.train, source_options(cfg)));
    data::Loader loader(src, loader_options(uint64_t(cfg.run.seed) ^ 0x5f7ULL, cfg.trainer.sft_batch_size));
    config::OptimConfig sft_optim = cfg.optim;
    AdamW opt = make_optimizer(*policy, cfg, *dist, policy_shards.get());
    auto own_grads = gradient_reducer(opt, cfg, *dist, policy_shards.get());
    Dist::GradReducer& grads = own_grads ? *own_grads : *policy_shards;
    Progress bar("sft", cfg.trainer.sft_steps, main_rank ? stdout : nullptr);
    double recent = 0;
    for (int64_t s = 0; s < cfg.trainer.sft_steps; ++s) {
      data::Batch b = loader.next();
      double lr = lr_at(sft_optim, cfg.trainer.sft_lr, s, cfg.trainer.sft_steps);
      auto r = sft_update(*policy, opt, *format, b.items, b.indices, s, uint64_t(cfg.run.seed), lr,
                          cfg.optim.grad_clip, cfg.algorithm.micro_batch_tokens, *dist, grads);
      if (int sig = agreed_stop()) {
        // SFT has no checkpoints (they start with GRPO): a resumed run redoes it, bit for bit.
        bar.finish();
        log::warn("stopping on ", stop_signal_name(sig), " during SFT (step ", s + 1, " of ",
                  cfg.trainer.sft_steps, "); nothing to checkpoint yet, a resumed run starts over");
        return false;
      }
      recent = s == 0 ? r.loss : 0.9 * recent + 0.1 * r.loss;
      char buf[64];
      std::snprintf(buf, sizeof buf, "loss %.4f", recent);
      bar.advance(1, buf);
    }
    bar.finish();
    evaluate("sft", "step-sft");
    return true;
  }

  void write_sft_model() {
    model::FullWeights weights(*policy);
    dist->on_rank0("writing the SFT model", [&] {
      save_model_dir(run_dir + "/sft-model");
      print_table(table);
    });
  }

  // ---- the frozen reference: the policy GRPO starts from (after SFT), kept beside the run ----
  void build_reference() {
    if (cfg.algorithm.kl_coef == 0) return;
    std::string ref_dir = run_dir + "/reference";
    if (resume_dir.empty()) {
      model::FullWeights weights(*policy);
      dist->on_rank0("writing the reference model", [&] { save_model_dir(ref_dir); });
    }
    reference = model::load_pretrained(ref_dir, load);
    for (auto& p : reference->parameters()) p.set_requires_grad(false);
    if (policy_shards) reference_shards = std::make_unique<ShardedParams>(*reference, *dist, /*trainable=*/false);
  }

  // A resumed run's optimizer state; returns the step to continue from (0 for a fresh run).
  int64_t restore_optimizer(AdamW& optimizer) {
    if (resume_dir.empty()) return 0;
    if (policy_shards) {
      // The entries of the parameters this rank's shards overlap, re-cut into the shards.
      std::set<std::string> needed;
      for (const auto& name : policy_shards->params_needed()) needed.insert(name);
      policy_shards->load_checkpoint_state(
          optimizer, read_optimizer_state(resume_dir, [&](const std::string& key) {
            return needed.count(AdamW::param_of_key(key)) > 0;
          }));
    } else {
      // Each rank reads only the state of the parameters it owns, from whichever shards hold it.
      std::set<std::string> owned;
      for (size_t i = 0; i < optimizer.params().size(); ++i)
        if (optimizer.owns(i)) owned.insert(optimizer.params()[i].name);
      optimizer.load_state_dict(read_optimizer_state(
          resume_dir, [&](const std::string& key) { return owned.count(AdamW::param_of_key(key)) > 0; }));
    }
    return ckpt.state.step;
  }

  // A checkpoint of step `step`: the model, the optimizer state (each rank its shard when
  // sharded), state.json with the data cursor; returns its directory on rank 0.
  std::string write_checkpoint(int64_t step, data::Loader& loader, AdamW& optimizer) {
    CheckpointContents c;
    c.state.step = step;
    c.state.world_size = world;
    c.state.config_hash = resume_config_hash(cfg);
    c.state.data_cursor = nlohmann::json::parse(loader.cursor_json().dump());
    c.write_model = [this](const std::string& dir) { save_model_dir(dir); };
    // ZeRO-3 writes the per-parameter format of the other stages (each rank its owners' share).
    c.optimizer_state = policy_shards ? policy_shards->checkpoint_state(optimizer) : optimizer.state_dict();
    c.files = {{"config.resolved.yaml", resolved}};
    // Data-parallel ranks hold identical weights: rank 0 writes the checkpoint while the others
    // wait (nobody runs ahead of a checkpoint that might be needed). Under ZeRO-1 every rank
    // first writes its optimizer shard (fsynced) to a staging folder; rank 0 moves the shards
    // into the checkpoint before its MANIFEST, which then covers them too.
    const bool sharded = world > 1 && (optimizer.sharded() || policy_shards);
    const std::string staging = run_dir + "/.optimizer-shards-" + std::to_string(step);
    if (sharded) {
      c.optimizer_file = optimizer_shard_name(dist->rank(), world);
      if (main_rank) {
        for (const auto& e : fs::directory_iterator(run_dir))  // left by a run killed mid-write
          if (e.path().filename().string().rfind(".optimizer-shards-", 0) == 0) fs::remove_all(e.path());
        fs::create_directories(staging);
      }
      dist->barrier();
      if (!main_rank) write_safetensors(staging + "/" + c.optimizer_file, c.optimizer_state);
      dist->barrier();  // every shard is staged
      c.before_manifest = [&](const std::string& tmp_dir) {
        for (int r = 1; r < world; ++r) {
          const std::string name = optimizer_shard_name(r, world);
          if (!fs::exists(staging + "/" + name)) throw Error(staging + "/" + name + ": optimizer shard missing");
          rename_durable(staging + "/" + name, tmp_dir + "/" + name);
        }
      };
    }
    std::string dir;
    model::FullWeights weights(*policy);
    dist->on_rank0("writing checkpoint step-" + std::to_string(step), [&] {
      dir = save_checkpoint(run_dir, c, cfg.checkpoint.keep_last);
      if (sharded) fs::remove_all(staging);
    });
    return dir;
  }

  // The caller's step observers, plus the reliability tests' fault injection: with
  // $PRINCIPIA_FAULT_NONFINITE_STEPS="3,4" the loss of those steps (0-based) is made NaN.
  StepHooks step_hooks() const {
    StepHooks hooks = options.hooks ? *options.hooks : StepHooks{};
    const char* faults = std::getenv("PRINCIPIA_FAULT_NONFINITE_STEPS");
    if (!faults) return hooks;
    std::vector<int64_t> steps;
    std::stringstream list(faults);
    for (std::string item; std::getline(list, item, ',');)
      if (!item.empty()) steps.push_back(std::stoll(item));
    log::warn("fault injection: non-finite loss at steps ", faults, " ($PRINCIPIA_FAULT_NONFINITE_STEPS)");
    hooks.micro_batch_loss = [steps, observe = hooks.micro_batch_loss](int64_t step, const MicroBatchView& view,
                                                                       at::Tensor& loss) {
      if (observe) observe(step, view, loss);
      if (std::find(steps.begin(), steps.end(), step) != steps.end())
        loss = loss * std::numeric_limits<double>::quiet_NaN();
    };
    return hooks;
  }

  // ---- GRPO: steps from the start or the resumed checkpoint, metrics, checkpoints, evals ----
  // false when a signal stopped it (after writing a checkpoint).
  bool grpo() {
    auto src = std::shared_ptr<const data::RecordSource>(data::open_record_source(paths.train, source_options(cfg)));
    const data::LoaderOptions lo = loader_options(uint64_t(cfg.run.seed), cfg.rollout.batch_size);
    data::Cursor start_cursor;
    AdamW optimizer = make_optimizer(*policy, cfg, *dist, policy_shards.get());  // any checkpoint restores it
    const int64_t first_step = restore_optimizer(optimizer);
    std::unique_ptr<data::Loader> loader_probe = std::make_unique<data::Loader>(src, [&] { auto l = lo; l.prefetch = 0; return l; }());
    if (!resume_dir.empty()) start_cursor = loader_probe->cursor_from_json(ckpt.state.data_cursor);
    if (loader_probe->filtered() > 0)
      log::info(loader_probe->filtered(), " training items longer than data.max_prompt_tokens = ",
                cfg.data.max_prompt_tokens, " skipped");
    loader_probe.reset();
    data::Loader loader(src, lo, start_cursor);

    std::unique_ptr<MetricsWriter> metrics;  // rank 0's; every rank's metrics are already global
    if (main_rank) metrics = std::make_unique<MetricsWriter>(run_dir, cfg.log.tensorboard, first_step);
    auto write_metrics = [&](int64_t step, const StepMetrics& m) {
      if (!metrics) return;
      StepMetrics with_baseline = m;
      with_baseline.set("memory/baseline_rss_gib", baseline_rss_gib);
      metrics->write(step, with_baseline);
    };
    auto own_grads = gradient_reducer(optimizer, cfg, *dist, policy_shards.get());
    Dist::GradReducer& grads = own_grads ? *own_grads : *policy_shards;
    GrpoContext ctx{cfg, *format, *reward, *policy, reference.get(), optimizer, *dist, grads, cfg.trainer.max_steps,
                    advantage_estimator(cfg.algorithm.advantage), policy_loss_spec(cfg.algorithm.policy_loss),
                    [&] { return loader.next(); }, step_hooks()};
    auto checkpoint = [&](int64_t step) { return write_checkpoint(step, loader, optimizer); };

    Progress bar("grpo", cfg.trainer.max_steps, main_rank ? stdout : nullptr);
    bar.set(first_step);
    int64_t last_checkpoint_step = -1;
    for (int64_t step = first_step; step < cfg.trainer.max_steps; ++step) {
      data::Batch batch = loader.next();
      StepMetrics m = grpo_step(ctx, batch.items, batch.indices, step);
      if (ctx.bad_steps_in_a_row > 0 && main_rank)
        log::warn("step ", step + 1, ": non-finite loss or gradient, update skipped (",
                  ctx.bad_steps_in_a_row, " in a row; trainer.max_bad_steps = ", cfg.trainer.max_bad_steps, ")");
      if (ctx.bad_steps_in_a_row >= cfg.trainer.max_bad_steps) {
        write_metrics(step + 1, m);
        // Skipped steps left the weights alone: this checkpoint is the last good state.
        std::string dir = checkpoint(step + 1);
        throw Error("stopping: " + std::to_string(ctx.bad_steps_in_a_row) +
                    " steps in a row had a non-finite loss or gradient (trainer.max_bad_steps = " +
                    std::to_string(cfg.trainer.max_bad_steps) + "); " +
                    (dir.empty() ? "rank 0's checkpoint of step " + std::to_string(step + 1) : dir) +
                    " holds the last good weights");
      }
      if ((step + 1) % cfg.log.every == 0 || step + 1 == cfg.trainer.max_steps) write_metrics(step + 1, m);
      char buf[96];
      std::snprintf(buf, sizeof buf, "reward %.3f valid %.2f", m.get("reward/mean"),
                    m.get("judgment/format_valid_rate"));
      bar.advance(1, buf);
      if (cfg.eval.every > 0 && (step + 1) % cfg.eval.every == 0 && step + 1 < cfg.trainer.max_steps)
        evaluate("step " + std::to_string(step + 1), "step-" + std::to_string(step + 1));
      bool last = step + 1 == cfg.trainer.max_steps;
      if (last || (cfg.checkpoint.every > 0 && (step + 1) % cfg.checkpoint.every == 0))
        last_checkpoint = checkpoint(step + 1), last_checkpoint_step = step + 1;
      if (int sig = agreed_stop(); sig && !last) {
        if (last_checkpoint_step != step + 1) last_checkpoint = checkpoint(step + 1);
        bar.finish();
        if (main_rank)
          log::warn("stopping on ", stop_signal_name(sig), " after step ", step + 1, ": ", last_checkpoint,
                  " written; continue with --resume auto (exit code ", kExitPreempted, ")");
        return false;
      }
    }
    bar.finish();
    if (last_checkpoint_step < 0 && cfg.trainer.max_steps > 0) last_checkpoint = checkpoint(cfg.trainer.max_steps);
    return true;
  }

  // ---- the last checkpoint as a Hugging Face folder, for serving (rank 0) ----
  void export_for_serving() {
    std::string export_dir = run_dir + "/export";
    if (!last_checkpoint.empty()) {
      model::export_hf(last_checkpoint, export_dir, model::ExportOptions{});
      log::info("exported a Hugging Face model to ", export_dir);
    }
    print_table(table);
  }

  const config::Config& cfg;
  const RunOptions& options;
  const std::string run_dir;
  const bool eval_only;
  std::string device;
  std::unique_ptr<RunDirLock> run_lock;
  std::unique_ptr<Dist> dist;
  bool main_rank = true;
  int world = 1;
  double baseline_rss_gib = 0;
  std::string resolved;     // config.resolved.yaml
  std::string resume_dir;   // "" for a fresh run
  LoadedCheckpoint ckpt;    // the resumed checkpoint's model and state
  DataPaths paths;
  std::string tok_path;
  std::shared_ptr<const tokenizer::Tokenizer> tok;
  std::unique_ptr<JudgeFormat> format;
  std::unique_ptr<rewards::CompositeReward> reward;
  std::vector<data::Record> eval_items;
  std::vector<std::pair<std::string, EvalSummary>> table;  // one row per evaluation
  model::LoadOptions load;
  std::shared_ptr<model::Transformer> policy, reference;
  std::unique_ptr<ShardedParams> policy_shards, reference_shards;  // ZeRO-3
  std::string last_checkpoint;
};

}  // namespace

int run(const config::Config& cfg, const RunOptions& options) {
  if (options.mode != RunMode::kEval) {
    config::validate_for_training(cfg);
    validate_algorithm(cfg);
  }
  return Run(cfg, options).execute();
}

}  // namespace principia::trainer
