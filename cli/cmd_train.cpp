// Config-driven verbs: train, sft, eval, plan. They share config loading (YAML + overrides) and
// --print-config; the work itself is done by trainer/.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/config.h"
#include "core/error.h"
#ifdef PRINCIPIA_WITH_TORCH
#include "model/model_config.h"
#include "model/tokenizer/tokenizer.h"
#include "trainer/plan.h"
#include "trainer/train_run.h"
#endif

namespace principia::cli {
namespace {

CommandSpec config_verb_spec(const std::string& verb, const std::string& description) {
  CommandSpec s;
  s.usage = "principia " + verb + " CONFIG.yaml [key.path=value ...] [key.path+=value ...]";
  if (verb == "train") s.usage += " [--resume auto|PATH]";
  s.usage += " [--print-config]";
  s.description = description +
                  "\n\nOverrides: `key.path=value` sets a value (YAML syntax, e.g. optim.lr=3e-6, "
                  "optim.betas=[0.9,0.95]);\n`key.path+=value` appends to a list. Numeric "
                  "segments index lists (reward.components.0.weight=0.2).";
  s.flags = {{"--print-config", "", "print the resolved config (YAML) and exit"}};
  if (verb == "train") s.flags.push_back({"--resume", "auto|PATH", "resume from a checkpoint"});
  if (verb == "plan")
    s.flags.push_back({"--world-size", "N", "ranks to plan for (default: $WORLD_SIZE, else 1)"});
  if (verb == "plan")
    s.flags.push_back({"--gpu-memory-gib", "G", "warn when the peak per rank exceeds G GiB (default 80; 0: never)"});
  s.min_positional = 1;
  s.max_positional = SIZE_MAX;
  return s;
}

struct ConfigInvocation {
  Args args;
  config::Config cfg;
};

ConfigInvocation load_invocation(const CommandSpec& spec, const Argv& argv) {
  ConfigInvocation inv{parse_args(spec, argv), {}};
  const auto& pos = inv.args.positional();
  std::vector<std::string> overrides(pos.begin() + 1, pos.end());
  for (const auto& o : overrides)
    if (o.find('=') == std::string::npos)
      throw UsageError("unexpected argument '" + o + "' (overrides look like key.path=value)",
                       spec.help_text());
  inv.cfg = config::load(pos[0], overrides);
  return inv;
}

}  // namespace

int cmd_train(const Argv& argv) {
  auto spec = config_verb_spec("train", "GRPO training of a listwise judge (DESIGN.md, 'One GRPO step').");
  auto inv = load_invocation(spec, argv);
  if (inv.args.has("--print-config")) {
    std::fputs(config::to_yaml(inv.cfg).c_str(), stdout);
    return 0;
  }
  config::validate_for_training(inv.cfg);
#ifdef PRINCIPIA_WITH_TORCH
  return trainer::run(inv.cfg, {trainer::RunMode::kTrain, inv.args.get("--resume")});
#else
  return not_landed("train", "the trainer (this binary was built without LibTorch)");
#endif
}

int cmd_sft(const Argv& argv) {
  auto spec = config_verb_spec("sft", "Supervised warm-start on gold judgments.");
  auto inv = load_invocation(spec, argv);
  if (inv.args.has("--print-config")) {
    std::fputs(config::to_yaml(inv.cfg).c_str(), stdout);
    return 0;
  }
#ifdef PRINCIPIA_WITH_TORCH
  return trainer::run(inv.cfg, {trainer::RunMode::kSft, ""});
#else
  return not_landed("sft", "the trainer (this binary was built without LibTorch)");
#endif
}

int cmd_eval(const Argv& argv) {
  auto spec = config_verb_spec("eval", "Judgments and metrics on the eval set.");
  auto inv = load_invocation(spec, argv);
  if (inv.args.has("--print-config")) {
    std::fputs(config::to_yaml(inv.cfg).c_str(), stdout);
    return 0;
  }
#ifdef PRINCIPIA_WITH_TORCH
  return trainer::run(inv.cfg, {trainer::RunMode::kEval, ""});
#else
  return not_landed("eval", "the trainer (this binary was built without LibTorch)");
#endif
}

#ifdef PRINCIPIA_WITH_TORCH
namespace {

// The shape and vocabulary the run would train: the base model's config.json when model.path is
// set, else the YAML shape with the tokenizer's vocabulary.
int64_t resolve_shape_for_plan(config::Config& cfg) {
  const std::string hf_config = cfg.model.path + "/config.json";
  if (!cfg.model.path.empty() && !std::filesystem::exists(hf_config) && cfg.model.vocab_size > 0) {
    // Planning a cluster run from a laptop: the YAML's shape stands in for the absent model.
    std::fprintf(stderr, "plan: %s not found; using the shape in the config's model section\n",
                 hf_config.c_str());
  } else if (!cfg.model.path.empty()) {
    auto hf = model::read_hf_config(hf_config);
    auto& m = cfg.model;
    m.arch = model::arch_model_type(hf.arch);
    m.hidden_size = hf.hidden_size;
    m.intermediate_size = hf.intermediate_size;
    m.num_layers = hf.num_layers;
    m.num_heads = hf.num_heads;
    m.num_kv_heads = hf.num_kv_heads;
    m.head_dim = hf.head_dim;
    m.tie_word_embeddings = hf.tie_word_embeddings;
    return hf.vocab_size;
  }
  if (cfg.model.vocab_size > 0) return cfg.model.vocab_size;
  if (cfg.tokenizer.train) return cfg.tokenizer.train_vocab_size;
  if (!cfg.tokenizer.path.empty()) return tokenizer::load_tokenizer(cfg.tokenizer.path)->vocab_size();
  throw Error("plan: the vocabulary size is unknown: set model.path, model.vocab_size or tokenizer.path");
}

int64_t world_size_for_plan(const Args& args) {
  if (args.has("--world-size")) {
    int64_t w = args.get_int("--world-size", 1);
    if (w < 1) throw UsageError("--world-size must be at least 1");
    return w;
  }
  const char* env = std::getenv("WORLD_SIZE");
  return env && std::atoll(env) > 0 ? std::atoll(env) : 1;
}

}  // namespace
#endif

int cmd_plan(const Argv& argv) {
  auto spec = config_verb_spec("plan", "Parameters, memory per rank and tokens per step for a config.");
  auto inv = load_invocation(spec, argv);
  if (inv.args.has("--print-config")) {
    std::fputs(config::to_yaml(inv.cfg).c_str(), stdout);
    return 0;
  }
#ifdef PRINCIPIA_WITH_TORCH
  config::Config cfg = inv.cfg;
  const int64_t vocab = resolve_shape_for_plan(cfg);
  const auto plan = trainer::make_plan(cfg, world_size_for_plan(inv.args), vocab);
  double gpu_gib = 80;
  if (inv.args.has("--gpu-memory-gib")) {
    gpu_gib = inv.args.get_double("--gpu-memory-gib", 80);
    if (gpu_gib < 0) throw UsageError("--gpu-memory-gib must be 0 or more");
  }
  std::fputs(trainer::format_plan(plan, cfg, gpu_gib).c_str(), stdout);
  return 0;
#else
  return not_landed("plan", "trainer/ (this binary was built without LibTorch)");
#endif
}

}  // namespace principia::cli
