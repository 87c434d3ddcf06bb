// principia — git-style verbs over one binary. See `principia --help`.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/heap.h"
#include "core/log.h"

namespace principia::cli {
namespace {

struct Verb {
  const char* name;
  const char* summary;
  int (*run)(const Argv&);
};

const Verb kVerbs[] = {
    {"train", "GRPO training from a YAML config", cmd_train},
    {"sft", "supervised warm-start on gold judgments", cmd_sft},
    {"eval", "judgments + metrics on the eval set", cmd_eval},
    {"plan", "parameters, memory per rank, tokens per step", cmd_plan},
    {"sweep", "ablations: train variants of a config, one table and chart", cmd_sweep},
    {"export", "checkpoint -> Hugging Face directory for serving", cmd_export},
    {"generate", "sample from a model (token ids or a judge request)", cmd_generate},
    {"score", "metrics + rewards of judgments against gold, as JSON", cmd_score},
    {"consensus", "consensus scores/ranking from several judges", cmd_consensus},
    {"data", "validate | pack | inspect | synth | import datasets", cmd_data},
    {"tokenize", "encode text (or decode ids) with a tokenizer", cmd_tokenize},
    {"tokenizer", "train a SentencePiece tokenizer", cmd_tokenizer},
    {"prompt", "print a rendered judge prompt", cmd_prompt},
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: principia <verb> [args...]   (principia <verb> --help for details)\n\n"
               "verbs:\n");
  for (const auto& v : kVerbs) std::fprintf(out, "  %-11s %s\n", v.name, v.summary);
}

// A message as printed: control characters but newline and tab escaped, each line cut after
// kMaxLineBytes and the whole after kMaxMessageBytes. Messages quote input in bounded excerpts;
// this is the net for any that do not (a terminal never receives megabytes or raw control
// bytes), while a report of many bad records keeps its lines.
std::string printable_message(std::string_view what) {
  constexpr size_t kMaxLineBytes = 1000, kMaxMessageBytes = 64 * 1024;
  std::string out;
  size_t line_bytes = 0, i = 0;
  for (; i < what.size() && out.size() < kMaxMessageBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(what[i]);
    if (c == '\n') {
      out += '\n';
      line_bytes = 0;
      continue;
    }
    if (line_bytes >= kMaxLineBytes) {  // skip to the end of this line
      const size_t eol = what.find('\n', i);
      const size_t end = eol == std::string_view::npos ? what.size() : eol;
      out += "... (" + std::to_string(end - i) + " more bytes)";
      i = end - 1;
      line_bytes = 0;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      line_bytes += 4;
    } else {
      out += char(c);
      ++line_bytes;
    }
  }
  if (i < what.size()) out += "... (message of " + std::to_string(what.size()) + " bytes cut)";
  return out;
}

}  // namespace

int not_landed(const std::string& verb, const std::string& what) {
  std::fprintf(stderr, "principia %s: not available yet — %s has not landed (see README)\n",
               verb.c_str(), what.c_str());
  return kNotLandedExit;
}

}  // namespace principia::cli

int main(int argc, char** argv) {
  using namespace principia;
  using namespace principia::cli;
  core::keep_freed_memory_in_heap();
  if (argc < 2) {
    print_usage(stderr);
    return kUserErrorExit;
  }
  std::string verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    print_usage(stdout);
    return 0;
  }
  if (verb == "--version") {
    std::printf("principia 0.1.0\n");
    return 0;
  }
  const Verb* found = nullptr;
  for (const auto& v : kVerbs)
    if (verb == v.name) found = &v;
  if (!found) {
    std::fprintf(stderr, "principia: unknown verb '%s'\n\n", verb.c_str());
    print_usage(stderr);
    return kUserErrorExit;
  }
  Argv rest(argv + 2, argv + argc);
  try {
    return found->run(rest);
  } catch (const HelpRequested& h) {
    std::fputs(h.text.c_str(), stdout);
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "principia %s: %s\n\n%s", verb.c_str(), printable_message(e.what()).c_str(), e.usage.c_str());
    return kUserErrorExit;
  } catch (const Error& e) {
    std::fprintf(stderr, "principia %s: error: %s\n", verb.c_str(), printable_message(e.what()).c_str());
    return kUserErrorExit;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "principia %s: out of memory\n", verb.c_str());
    return 1;
  } catch (const std::exception& e) {
    // Not a user error: a bug or an environment failure. Still one line, never an abort.
    std::fprintf(stderr, "principia %s: internal error: %s\n", verb.c_str(), printable_message(e.what()).c_str());
    return 1;
  }
}
