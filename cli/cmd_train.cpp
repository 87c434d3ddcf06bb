// Config-driven verbs: train, sft, eval, plan. They share config loading (YAML + overrides) and
// --print-config; the work itself is done by trainer/.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/config.h"
#ifdef PRINCIPIA_WITH_TORCH
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

int cmd_plan(const Argv& argv) {
  auto spec = config_verb_spec("plan", "Parameters, memory per rank and tokens per step for a config.");
  auto inv = load_invocation(spec, argv);
  if (inv.args.has("--print-config")) {
    std::fputs(config::to_yaml(inv.cfg).c_str(), stdout);
    return 0;
  }
  return not_landed("plan", "trainer/ (plan)");
}

}  // namespace principia::cli
