#include "cli/args.h"

#include <cctype>
#include <cstdint>
#include <sstream>

namespace principia::cli {

std::string CommandSpec::help_text() const {
  std::ostringstream os;
  os << "usage: " << usage << "\n";
  if (!description.empty()) os << "\n" << description << "\n";
  if (!flags.empty()) {
    os << "\noptions:\n";
    for (const auto& f : flags) {
      std::string left = "  " + f.name + (f.value_name.empty() ? "" : " " + f.value_name);
      if (left.size() < 28) left += std::string(28 - left.size(), ' ');
      else left += "  ";
      // A multi-line help continues under its first line.
      const std::string indent = "\n" + std::string(left.size(), ' ');
      std::string help;
      for (char c : f.help) help += c == '\n' ? indent : std::string(1, c);
      os << left << help << "\n";
    }
  }
  os << "  --help                    show this help\n";
  return os.str();
}

Args parse_args_impl(const CommandSpec& spec, const std::vector<std::string>& argv) {
  Args out;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!flags_done && a == "--") {
      flags_done = true;
      continue;
    }
    if (!flags_done && (a == "--help" || a == "-h")) {
      throw HelpRequested{spec.help_text()};
    }
    if (!flags_done && a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string name = a, value;
      bool has_inline = false;
      if (auto eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_inline = true;
      }
      const FlagSpec* flag = nullptr;
      for (const auto& f : spec.flags)
        if (f.name == name) flag = &f;
      if (!flag) throw UsageError("unknown option '" + name + "'");
      if (flag->value_name.empty()) {
        if (has_inline) throw UsageError("option '" + name + "' takes no value");
        value = "1";
      } else if (!has_inline) {
        if (i + 1 >= argv.size()) throw UsageError("option '" + name + "' needs a value " + flag->value_name);
        value = argv[++i];
      }
      out.values_[name] = value;
      continue;
    }
    out.positional_.push_back(a);
  }
  if (out.positional_.size() < spec.min_positional)
    throw UsageError("missing argument(s): expected at least " + std::to_string(spec.min_positional));
  if (out.positional_.size() > spec.max_positional)
    throw UsageError("unexpected argument '" + out.positional_[spec.max_positional] + "'");
  return out;
}

Args parse_args(const CommandSpec& spec, const std::vector<std::string>& argv) {
  try {
    Args a = parse_args_impl(spec, argv);
    a.usage_ = spec.help_text();
    return a;
  } catch (const UsageError& e) {
    throw UsageError(e.what(), spec.help_text());
  }
}

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

std::optional<std::string> Args::maybe(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::require(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end()) throw UsageError("missing required option " + flag, usage_);
  return it->second;
}

int64_t Args::get_int(const std::string& flag, int64_t fallback) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  try {
    size_t pos = 0;
    long long v = std::stoll(it->second, &pos);
    if (pos != it->second.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    throw UsageError("option " + flag + " needs an integer, got '" + it->second + "'", usage_);
  }
}

double Args::get_double(const std::string& flag, double fallback) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  try {
    size_t pos = 0;
    double v = std::stod(it->second, &pos);
    if (pos != it->second.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    throw UsageError("option " + flag + " needs a number, got '" + it->second + "'", usage_);
  }
}

}  // namespace principia::cli
