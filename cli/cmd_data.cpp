// `principia data validate|pack|inspect|synth|import`: dataset tooling (data/).
#include <algorithm>
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "data/h5_store.h"
#include "data/importers.h"
#include "data/synth.h"
#ifdef PRINCIPIA_HAS_PROMPT
#include "data/prompt_length.h"
#endif
#include "data/validate.h"

namespace principia::cli {
namespace {

const char* kDataUsage =
    "usage: principia data <subverb> [args...]   (principia data <subverb> --help)\n\n"
    "subverbs:\n"
    "  validate   check every record of a JSONL file (file:line reasons, counts by kind)\n"
    "  synth      generate the synthetic principle-following task\n"
    "  pack       JSONL -> HDF5 store with rendered-prompt token lengths\n"
    "  inspect    counts by domain/category and a length histogram of an HDF5 store\n"
    "  import     convert Prometheus / RM-Bench / RMB best-of-N files to records\n";

const CommandSpec kValidateSpec{
    "principia data validate FILE.jsonl [--skip-bad] [--max-errors N] [--max-record-bytes N]",
    "Checks every record (DESIGN.md §Formats): JSON, field types, unknown fields, 2..16\n"
    "responses, duplicate names or ids, scores present and in [1,5], a ranking that is a\n"
    "permutation agreeing with the scores, valid UTF-8, the size limit. Without --skip-bad any\n"
    "bad record fails the command (exit 2), listing the first N problems as file:line: reason\n"
    "and the counts by kind; with --skip-bad the counts are reported and the exit code is 0.",
    {{"--skip-bad", "", "report bad records but succeed"},
     {"--max-errors", "N", "problems listed (default 20)"},
     {"--max-record-bytes", "N", "largest accepted line (default 4194304)"}},
    1,
    1};

int run_validate(const Argv& argv) {
  Args a = parse_args(kValidateSpec, argv);
  data::ReadOptions opts;
  opts.max_record_bytes = static_cast<uint64_t>(a.get_int("--max-record-bytes", data::kDefaultMaxRecordBytes));
  int64_t max_errors = a.get_int("--max-errors", 20);
  if (max_errors < 0) throw UsageError("--max-errors must be >= 0", kValidateSpec.help_text());
  const std::string& path = a.positional()[0];
  data::ReadSummary summary(static_cast<size_t>(max_errors));
  for_each_record(path, opts, summary, [](data::Record&&, const data::LinePosition&) {});
  std::printf("%s: %lld good, %lld bad record(s)\n", path.c_str(),
              static_cast<long long>(summary.good), static_cast<long long>(summary.bad));
  if (summary.bad == 0) return 0;
  if (a.has("--skip-bad")) {
    std::printf("%s\n", summary.report.summary().c_str());
    return 0;
  }
  throw Error(path + ": " + std::to_string(summary.bad) + " bad record(s):\n" +
              summary.report.summary());
}

const CommandSpec kSynthSpec{
    "principia data synth --n N --seed S --out X.jsonl [--candidates K] [--split train|eval|all]\n"
    "                   [--first-index I] [--lenient-teacher-rate P]",
    "Writes N items of the synthetic principle-following task: principles over ten countable\n"
    "attributes in five dimensions (content, structure, logic, style, tone) with a polarity\n"
    "(more / fewer is better), tiny texts over a closed vocabulary, gold scores computed from\n"
    "the text. One principle per dimension is held out: --split eval uses only those, train\n"
    "only the others, all both (meta.split says which). Same (seed, split, index), same item.",
    {{"--n", "N", "number of items (required)"},
     {"--seed", "S", "seed (default 0)"},
     {"--out", "X.jsonl", "output file (required)"},
     {"--candidates", "K", "responses per item, 2..5 (default 3)"},
     {"--split", "NAME", "train (default), eval or all"},
     {"--first-index", "I", "index of the first item (default 0): items I..I+N-1, e.g. new items\n"
                            "of the training principles for evaluation"},
     {"--lenient-teacher-rate", "P",
      "share of items whose meta.teacher_scores (the SFT target) come from\n"
      "a lenient teacher that raises scores below 3 to 3 (default 0: no\n"
      "teacher_scores; the gold is unchanged)"}},
    0,
    0};

int run_synth(const Argv& argv) {
  Args a = parse_args(kSynthSpec, argv);
  data::SynthOptions o;
  o.n = a.get_int("--n", 0);
  if (!a.has("--n") || o.n < 1) throw UsageError("--n N (N >= 1) is required", kSynthSpec.help_text());
  int64_t seed = a.get_int("--seed", 0);
  if (seed < 0) throw UsageError("--seed must be >= 0", kSynthSpec.help_text());
  o.seed = static_cast<uint64_t>(seed);
  o.candidates = static_cast<int>(a.get_int("--candidates", 3));
  o.split = data::parse_synth_split(a.get("--split", "train"));
  o.first_index = a.get_int("--first-index", 0);
  if (o.first_index < 0) throw UsageError("--first-index must be >= 0", kSynthSpec.help_text());
  o.lenient_teacher_rate = a.get_double("--lenient-teacher-rate", 0.0);
  if (!(o.lenient_teacher_rate >= 0 && o.lenient_teacher_rate <= 1))
    throw UsageError("--lenient-teacher-rate must be in [0, 1]", kSynthSpec.help_text());
  std::string out = a.require("--out");
  int64_t n = data::write_synth_jsonl(o, out);
  std::printf("wrote %lld %s items to %s\n", static_cast<long long>(n),
              data::synth_split_name(o.split), out.c_str());
  return 0;
}

const CommandSpec kPackSpec{
    "principia data pack IN.jsonl OUT.h5 [--tokenizer PATH] [--template NAME] "
    "[--chat-template qwen3|llama3|plain] [--skip-bad] [--max-errors N]",
    "Validates IN.jsonl and writes an HDF5 store (chunked, compressed, ragged texts as flat\n"
    "arrays + offsets) with, per record, the token length of the rendered judge prompt under\n"
    "--tokenizer (judge template --template, default rewardanything-v1; chat template\n"
    "--chat-template, default qwen3). Without --tokenizer the lengths are stored as -1 (unknown)\n"
    "and a loader limit on prompt tokens then needs a tokenizer at run time. OUT is written to\n"
    "OUT.tmp and renamed when complete.",
    {{"--tokenizer", "PATH", "tokenizer file or model directory"},
     {"--template", "NAME", "judge prompt template (default rewardanything-v1)"},
     {"--chat-template", "NAME", "qwen3 (default), llama3 or plain"},
     {"--skip-bad", "", "skip bad records (counted) instead of failing"},
     {"--max-errors", "N", "problems listed when failing (default 20)"},
     {"--deflate", "L", "compression level 0..9 (default 4)"}},
    2,
    2};

int run_pack(const Argv& argv) {
  Args a = parse_args(kPackSpec, argv);
  data::PromptTokensFn length;
  if (a.has("--tokenizer")) {
#ifdef PRINCIPIA_HAS_PROMPT
    length = data::make_prompt_tokens_fn(a.get("--tokenizer"), a.get("--template", "rewardanything-v1"),
                                         a.get("--chat-template", "qwen3"));
#else
    throw Error("--tokenizer: this build has no judge-prompt module (data/prompt/)");
#endif
  }
  data::SourceOptions opts;
  opts.skip_bad = a.has("--skip-bad");
  opts.max_errors = static_cast<size_t>(std::max<int64_t>(0, a.get_int("--max-errors", 20)));
  data::H5WriteOptions w;
  w.deflate_level = static_cast<int>(a.get_int("--deflate", 4));
  if (w.deflate_level < 0 || w.deflate_level > 9)
    throw UsageError("--deflate must be 0..9", kPackSpec.help_text());
  const auto& pos = a.positional();
  data::PackSummary s = data::pack_jsonl(pos[0], pos[1], length, opts, w);
  std::printf("packed %lld records into %s", static_cast<long long>(s.records), pos[1].c_str());
  if (length) std::printf(" (longest rendered prompt: %lld tokens)", static_cast<long long>(s.max_prompt_tokens));
  std::printf("\n");
  return 0;
}

const CommandSpec kInspectSpec{
    "principia data inspect FILE.h5",
    "Prints the record count, counts by domain and by category, and a histogram of the stored\n"
    "rendered-prompt token lengths of a store made by `principia data pack`.",
    {},
    1,
    1};

int run_inspect(const Argv& argv) {
  Args a = parse_args(kInspectSpec, argv);
  std::fputs(data::inspect_h5(a.positional()[0]).c_str(), stdout);
  return 0;
}

const CommandSpec kImportSpec{
    "principia data import --from prometheus|rmbench|rmb IN OUT.jsonl",
    "Converts a published judge dataset into dataset records (then `data validate` / `pack`):\n"
    "  prometheus  Prometheus absolute-grading rows (e.g. mt_bench_eval.json): grouped by idx,\n"
    "              rubric -> principle, the GPT-4 scores -> consensus gold (Kemeny + mean);\n"
    "              or pairwise rows {chosen_instruction, rejected_instruction}: one\n"
    "              two-candidate item each, chosen 5 > rejected 1\n"
    "  rmbench     RM-Bench items: 3 chosen + 3 rejected -> one 6-candidate item under a\n"
    "              correctness principle, chosen 5 > rejected 1\n"
    "  rmb         RMB best-of-N ({bon_uid, conversation_input, bon_best, loser_list}; JSON\n"
    "              array or JSONL): best 5 > losers 1; or RMB pairwise ({pair_uid,\n"
    "              conversation_input, chosen, reject}): chosen 5 > reject 1\n"
    "  (the shape is told by the first item's keys)",
    {{"--from", "FORMAT", "prometheus, rmbench or rmb (required)"}},
    2,
    2};

int run_import(const Argv& argv) {
  Args a = parse_args(kImportSpec, argv);
  data::ImportFormat f = data::parse_import_format(a.require("--from"));
  const auto& pos = a.positional();
  int64_t n = data::import_file(f, pos[0], pos[1]);
  std::printf("imported %lld records into %s\n", static_cast<long long>(n), pos[1].c_str());
  return 0;
}

}  // namespace

int cmd_data(const Argv& argv) {
  if (argv.empty()) {
    std::fputs(kDataUsage, stderr);
    return kUserErrorExit;
  }
  const std::string& sub = argv[0];
  Argv rest(argv.begin() + 1, argv.end());
  if (sub == "--help" || sub == "-h" || sub == "help") throw HelpRequested{kDataUsage};
  if (sub == "validate") return run_validate(rest);
  if (sub == "synth") return run_synth(rest);
  if (sub == "pack") return run_pack(rest);
  if (sub == "inspect") return run_inspect(rest);
  if (sub == "import") return run_import(rest);
  throw UsageError("unknown subverb '" + sub + "'", kDataUsage);
}

}  // namespace principia::cli
