// `principia sweep`: ablations as one command. Each variant is `principia train` in a child
// process of this binary, so a variant that crashes or runs out of memory costs only itself and
// every variant starts with the memory of a fresh process.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/sweep.h"
#include "core/config.h"
#include "core/error.h"
#include "core/files.h"
#include "core/sha256.h"
#include "core/stop_signal.h"
#include "core/text.h"

extern char** environ;

namespace principia::cli {
namespace {
namespace fs = std::filesystem;
using sweep::Variant;

CommandSpec sweep_spec() {
  CommandSpec s;
  s.usage =
      "principia sweep BASE.yaml (--grid key.path=v1,v2 ... | --configs A.yaml B.yaml ...) [--out "
      "SWEEP_DIR]\n"
      "                [key.path=value ...] [--only K | --summarize-only | --list]";
  s.description =
      "Runs the variants of an ablation one after another, each as `principia train` in its\n"
      "own process into SWEEP_DIR/<variant>/, then writes SWEEP_DIR/sweep.md (one row per\n"
      "variant: its settings, exit status and final held-out eval), sweep.json (the same, with\n"
      "every eval) and sweep.svg (held-out weighted_pair and format-valid rate against step).\n\n"
      "--grid: each key.path=v1,v2 after it (a value list: at least one comma outside [...] and\n"
      "{...}) is an axis; the variants are the axes' cartesian product, named by their values\n"
      "(advantage-drgrpo_clip_high-0.28). key.path=value without such a comma, wherever it\n"
      "stands, applies to every variant.\n"
      "--configs: one variant per file, named by its stem: BASE.yaml with the file merged over\n"
      "it (SWEEP_DIR/configs/<name>.yaml includes both), so a file may include the base itself\n"
      "or hold only the keys it changes.\n"
      "Every variant's config is loaded and validated before the first one starts.\n\n"
      "Resumable: a variant whose run finished (exit 0, final eval written) is skipped; an\n"
      "unfinished one continues from its last checkpoint (train --resume auto). A failed variant\n"
      "is reported and the sweep goes on; the exit code is then 1. A variant stopped by a signal\n"
      "(exit 75, checkpoint written) stops the sweep: run the same command to continue. Under\n"
      "Slurm, launch/sweep_slurm.sh runs the variants as an array job (--only K), then\n"
      "--summarize-only.";
  s.flags = {
      {"--grid", "KEY=V1,V2 ...", "the axes of a grid of variants"},
      {"--configs", "A.yaml ...", "one variant per config file"},
      {"--out", "SWEEP_DIR", "where the runs and the summary go (default runs/sweep-<BASE stem>)"},
      {"--only", "K", "run only variant K (its 0-based index or its name); writes no summary"},
      {"--summarize-only", "", "run nothing: write the summary from the runs as they are"},
      {"--list", "", "print the variants (index, name, settings), one a line, and exit"},
  };
  return s;
}

struct SweepArgs {
  std::string base;
  std::vector<std::string> grid;     // raw axis arguments
  std::vector<std::string> configs;  // variant config files
  bool has_grid = false, has_configs = false;
  std::vector<std::string> overrides;  // for every variant
  std::string out, only;
  bool summarize_only = false, list = false;
};

// Hand-rolled because --grid and --configs take several values each.
SweepArgs parse_sweep_args(const Argv& argv) {
  const CommandSpec spec = sweep_spec();
  auto usage = [&](const std::string& msg) { return UsageError(msg, spec.help_text()); };
  SweepArgs a;
  enum class Mode { kNone, kGrid, kConfigs } mode = Mode::kNone;
  auto value = [&](size_t& i, const std::string& flag) {
    if (i + 1 >= argv.size() || argv[i + 1].rfind("--", 0) == 0)
      throw usage("option '" + flag + "' needs a value");
    return argv[++i];
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--help" || arg == "-h") throw HelpRequested{spec.help_text()};
    if (arg.rfind("--", 0) == 0) {
      mode = Mode::kNone;
      std::string name = arg, inline_value;
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) name = arg.substr(0, eq), inline_value = arg.substr(eq + 1);
      auto take = [&] { return eq != std::string::npos ? inline_value : value(i, name); };
      if (name == "--grid") {
        if (a.has_grid) throw usage("--grid is given twice (list every axis after one --grid)");
        a.has_grid = true, mode = Mode::kGrid;
        if (eq != std::string::npos) a.grid.push_back(inline_value);
      } else if (name == "--configs") {
        if (a.has_configs)
          throw usage("--configs is given twice (list every file after one --configs)");
        a.has_configs = true, mode = Mode::kConfigs;
        if (eq != std::string::npos) a.configs.push_back(inline_value);
      } else if (name == "--out") {
        a.out = take();
      } else if (name == "--only") {
        a.only = take();
      } else if (name == "--summarize-only" || name == "--list") {
        if (eq != std::string::npos) throw usage("option '" + name + "' takes no value");
        (name == "--list" ? a.list : a.summarize_only) = true;
      } else {
        throw usage("unknown option '" + name + "'");
      }
      continue;
    }
    const bool is_setting = arg.find('=') != std::string::npos;
    if (mode == Mode::kGrid && is_setting && sweep::is_value_list(arg))
      a.grid.push_back(arg);
    else if (mode == Mode::kConfigs && !is_setting)
      a.configs.push_back(arg);
    else if (a.base.empty() && !is_setting)
      a.base = arg;
    else if (is_setting)
      a.overrides.push_back(arg);
    else
      throw usage("unexpected argument '" + arg + "' (overrides look like key.path=value)");
  }
  if (a.base.empty()) throw usage("missing BASE.yaml");
  if (a.has_grid == a.has_configs) throw usage("give exactly one of --grid and --configs");
  if (a.has_grid && a.grid.empty()) throw usage("--grid needs at least one key.path=v1,v2 axis");
  if (a.has_configs && a.configs.empty()) throw usage("--configs needs at least one config file");
  if (int(a.summarize_only) + int(a.list) + int(!a.only.empty()) > 1)
    throw usage("--only, --summarize-only and --list exclude each other");
  if (a.out.empty()) a.out = "runs/sweep-" + sweep::safe_name(fs::path(a.base).stem().string());
  return a;
}

std::string override_key(const std::string& o) {
  std::string k = trim(o.substr(0, o.find('=')));
  if (!k.empty() && k.back() == '+') k.pop_back();
  return k;
}

// What one variant runs: the config file, its overrides and the resolved config's digest.
struct Plan {
  Variant variant;
  std::string run_dir;
  std::string config;                  // the file given to train
  std::vector<std::string> overrides;  // common, then the variant's, then run.output_dir
  std::string config_sha256;
  int64_t max_steps = 0;
};

// The file a --configs variant trains from: BASE with the variant's file merged over it. Written
// only when it changes, so a resumed sweep leaves it alone.
std::string write_merged_config(const std::string& sweep_dir, const Variant& v,
                                const std::string& base) {
  if (!fs::exists(v.config)) throw Error(v.config + ": config file not found");
  const std::string path = sweep_dir + "/configs/" + v.name + ".yaml";
  const std::string text =
      "# principia sweep: " + base + " with " + v.config + " merged over it.\ninclude:\n  - " +
      ordered_json(fs::absolute(base).lexically_normal().string()).dump() + "\n  - " +
      ordered_json(fs::absolute(v.config).lexically_normal().string()).dump() + "\n";
  std::error_code ec;
  if (!fs::exists(path, ec) || read_file(path) != text) {
    fs::create_directories(sweep_dir + "/configs");
    write_file_atomic(path, text);
  }
  return path;
}

// Every variant's config is loaded and validated here, before any run starts.
std::vector<Plan> make_plans(const SweepArgs& a) {
  if (!fs::exists(a.base)) throw Error(a.base + ": config file not found");
  std::vector<Variant> variants;
  if (a.has_grid) {
    std::vector<sweep::Axis> axes;
    for (const auto& g : a.grid) axes.push_back(sweep::parse_axis(g));
    std::set<std::string> common;
    for (const auto& o : a.overrides) common.insert(override_key(o));
    for (const auto& ax : axes)
      if (common.count(ax.key))
        throw Error("--grid: " + ax.key + " is both an axis and an override for every variant");
    variants = sweep::grid_variants(axes);
  } else {
    variants = sweep::config_variants(a.configs);
    for (const auto& v : variants)
      if (!fs::exists(v.config)) throw Error(v.config + ": config file not found");
  }
  std::vector<Plan> plans;
  for (const auto& v : variants) {
    Plan p;
    p.variant = v;
    p.run_dir = a.out + "/" + v.name;
    p.config = v.config.empty() ? a.base : write_merged_config(a.out, v, a.base);
    p.overrides = a.overrides;
    p.overrides.insert(p.overrides.end(), v.overrides.begin(), v.overrides.end());
    p.overrides.push_back("run.output_dir=" + p.run_dir);
    try {
      config::Config cfg = config::load(p.config, p.overrides);
      config::validate_for_training(cfg);
      p.max_steps = cfg.trainer.max_steps;
      cfg.run.output_dir.clear();  // a sweep directory that moved is still the same sweep
      p.config_sha256 = sha256_hex(config::to_yaml(cfg));
    } catch (const Error& e) {
      throw Error("variant " + v.name + ": " + e.what());
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

std::string status_path(const std::string& sweep_dir, const std::string& name) {
  return sweep_dir + "/status/" + name + ".json";
}

std::optional<ordered_json> read_status(const std::string& sweep_dir, const std::string& name) {
  std::error_code ec;
  const std::string path = status_path(sweep_dir, name);
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    return read_json_file(path);
  } catch (const std::exception&) {
    return std::nullopt;  // torn: as if the variant never ran
  }
}

bool final_eval_written(const Plan& p) {
  std::error_code ec;
  return fs::exists(p.run_dir + "/eval/step-" + std::to_string(p.max_steps) + ".json", ec);
}

// 0-based index or name; a usage mistake otherwise.
size_t select_variant(const std::vector<Plan>& plans, const std::string& only) {
  for (size_t i = 0; i < plans.size(); ++i)
    if (plans[i].variant.name == only || std::to_string(i) == only) return i;
  std::string names;
  for (size_t i = 0; i < plans.size(); ++i)
    names += (i ? ", " : "") + std::to_string(i) + " " + plans[i].variant.name;
  throw UsageError("--only " + only + ": no such variant (there are: " + names + ")",
                   sweep_spec().help_text());
}

std::string tail_lines(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const auto& l : lines) out += "    " + l.substr(0, 300) + "\n";
  return out;
}

// Runs `principia train` for the plan with its output in `log_path`; the child's exit code, or
// 128 + the signal that killed it.
int run_child(const Plan& p, const std::string& log_path) {
  std::vector<std::string> args = {"principia", "train", p.config};
  args.insert(args.end(), p.overrides.begin(), p.overrides.end());
  args.push_back("--resume");
  args.push_back("auto");
  std::vector<char*> cargv;
  for (auto& s : args) cargv.push_back(s.data());
  cargv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  // The child gets the default signal actions back: the sweep ignores SIGINT/SIGTERM while it waits
  // so that the trainer, which receives them too, can checkpoint and report exit 75.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGUSR1);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);

  struct sigaction ignore {
  }, old_int{}, old_term{}, old_usr1{};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGTERM, &ignore, &old_term);
  sigaction(SIGUSR1, &ignore, &old_usr1);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/proc/self/exe", &files, &attr, cargv.data(), environ);
  int status = 0;
  if (err == 0)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGUSR1, &old_usr1, nullptr);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (err != 0)
    throw std::runtime_error(std::string("cannot start principia train: ") + std::strerror(err));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<sweep::VariantResult> collect(const SweepArgs& a, const std::vector<Plan>& plans) {
  std::vector<sweep::VariantResult> out;
  for (const auto& p : plans) {
    sweep::VariantResult r;
    r.variant = p.variant;
    r.run_dir = p.run_dir;
    r.evals = sweep::read_evals(p.run_dir);
    r.state = "not run";
    if (auto st = read_status(a.out, p.variant.name)) {
      if ((*st)["exit_code"].is_number_integer()) r.exit_code = (*st)["exit_code"].get<int>();
      if ((*st)["seconds"].is_number()) r.seconds = (*st)["seconds"].get<double>();
      if (r.exit_code == 0)
        r.state = final_eval_written(p) ? "finished" : "incomplete";
      else if (r.exit_code == kExitPreempted)
        r.state = "stopped";
      else
        r.state = "failed";
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The sweep's command as sweep.md shows it: without --only / --summarize-only, which say which
// part of the sweep an invocation does, not what the sweep is.
std::string command_line(const Argv& argv) {
  std::string s = "principia sweep";
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--summarize-only" || argv[i].rfind("--only=", 0) == 0) continue;
    if (argv[i] == "--only") {
      ++i;
      continue;
    }
    s += " " + argv[i];
  }
  return s;
}

}  // namespace

int cmd_sweep(const Argv& argv) {
  const SweepArgs a = parse_sweep_args(argv);
  std::vector<Plan> plans = make_plans(a);
  if (a.list) {
    for (size_t i = 0; i < plans.size(); ++i) {
      const auto& v = plans[i].variant;
      std::printf("%zu\t%s\t%s\n", i, v.name.c_str(),
                  v.config.empty() ? join(v.overrides, " ").c_str() : v.config.c_str());
    }
    return 0;
  }
  std::vector<size_t> selected;
  if (!a.only.empty())
    selected.push_back(select_variant(plans, a.only));
  else if (!a.summarize_only)
    for (size_t i = 0; i < plans.size(); ++i) selected.push_back(i);

  bool any_failed = false;
  int stopped = 0;
  for (size_t i : selected) {
    const Plan& p = plans[i];
    const std::string tag =
        "[" + std::to_string(i + 1) + "/" + std::to_string(plans.size()) + "] " + p.variant.name;
    const auto status = read_status(a.out, p.variant.name);
    if (status && (*status)["exit_code"] == 0 && final_eval_written(p)) {
      if ((*status).value("config_sha256", std::string()) != p.config_sha256)
        throw Error("sweep: " + p.run_dir +
                    " finished with another configuration than this variant has now; use "
                    "another --out, or remove " +
                    p.run_dir + " and " + status_path(a.out, p.variant.name) + " to run it again");
      std::printf("sweep %s: already finished, skipped\n", tag.c_str());
      std::fflush(stdout);
      continue;
    }
    fs::create_directories(a.out + "/logs");
    fs::create_directories(a.out + "/status");
    const std::string log_path = a.out + "/logs/" + p.variant.name + ".log";
    std::printf("sweep %s: training into %s (log: %s)\n", tag.c_str(), p.run_dir.c_str(),
                log_path.c_str());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    const int rc = run_child(p, log_path);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ordered_json st;
    st["name"] = p.variant.name;
    st["exit_code"] = rc;
    st["seconds"] = seconds;
    st["config_sha256"] = p.config_sha256;
    st["config"] = p.config;
    st["overrides"] = p.overrides;
    write_file_atomic(status_path(a.out, p.variant.name), st.dump(2) + "\n");
    if (rc == 0 && final_eval_written(p)) {
      std::printf("sweep %s: finished in %.1f s\n", tag.c_str(), seconds);
    } else if (rc == kExitPreempted || rc == 128 + SIGINT || rc == 128 + SIGTERM) {
      std::printf("sweep %s: stopped by a signal (exit %d); the same command continues the sweep\n",
                  tag.c_str(), rc);
      stopped = rc;
    } else {
      any_failed = true;
      std::printf("sweep %s: FAILED (exit %d) after %.1f s; the end of %s:\n%s", tag.c_str(), rc,
                  seconds, log_path.c_str(), tail_lines(log_path, 15).c_str());
    }
    std::fflush(stdout);
    if (stopped) break;
  }

  if (!a.only.empty()) return stopped ? stopped : any_failed ? 1 : 0;
  const auto results = collect(a, plans);
  sweep::write_summary(a.out, command_line(argv), results);
  std::printf("sweep: wrote %s/sweep.md, sweep.json and sweep.svg\n", a.out.c_str());
  if (stopped) return stopped;
  for (const auto& r : results)
    if (r.state != "finished") {
      std::printf("sweep: variant %s: %s\n", r.variant.name.c_str(), r.state.c_str());
      any_failed = true;
    }
  return any_failed ? 1 : 0;
}

}  // namespace principia::cli
