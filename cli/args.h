// Command-line parsing for the verbs: declared flags, positionals, `--help`.
// A usage mistake throws UsageError; main prints the verb's usage and exits 2.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace principia::cli {

// A usage mistake; `usage` is the verb's help text, printed after the message.
struct UsageError : std::runtime_error {
  explicit UsageError(const std::string& what, std::string usage_text = "")
      : std::runtime_error(what), usage(std::move(usage_text)) {}
  std::string usage;
};

// `--help` was given; `text` goes to stdout and the verb exits 0.
struct HelpRequested {
  std::string text;
};

struct FlagSpec {
  std::string name;       // "--resume"
  std::string value_name; // "" for a boolean switch, else e.g. "PATH"
  std::string help;
};

struct CommandSpec;
class Args;
Args parse_args_impl(const CommandSpec& spec, const std::vector<std::string>& argv);

struct CommandSpec {
  std::string usage;        // "principia score --gold DATA.jsonl --judgments OUT.jsonl [...]"
  std::string description;  // a paragraph
  std::vector<FlagSpec> flags;
  size_t min_positional = 0;
  size_t max_positional = 0;  // SIZE_MAX for any number
  std::string help_text() const;
};

class Args {
 public:
  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string get(const std::string& flag, const std::string& fallback = "") const;
  std::optional<std::string> maybe(const std::string& flag) const;
  std::string require(const std::string& flag) const;  // UsageError when absent
  int64_t get_int(const std::string& flag, int64_t fallback) const;
  double get_double(const std::string& flag, double fallback) const;
 private:
  std::string usage_;  // attached to UsageErrors raised after parsing (require, get_int)
  friend Args parse_args(const CommandSpec&, const std::vector<std::string>&);
  friend Args parse_args_impl(const CommandSpec&, const std::vector<std::string>&);
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
};

// Accepts "--flag value" and "--flag=value"; "--" ends flags. Throws HelpRequested on --help
// and UsageError (carrying spec.help_text()) on a mistake.
Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv);

}  // namespace principia::cli
