#include "core/jsonl.h"

#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace principia {

JsonlReader::JsonlReader(const std::string& path, size_t max_line_bytes)
    : path_(path), in_(path, std::ios::binary), max_line_bytes_(max_line_bytes) {
  if (!in_) throw Error(path + ": cannot open for reading");
}

std::optional<JsonlLine> JsonlReader::next() {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_no_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    JsonlLine out;
    out.line_no = line_no_;
    if (line.size() > max_line_bytes_) {
      out.error = "line is " + std::to_string(line.size()) + " bytes, over the limit of " +
                  std::to_string(max_line_bytes_);
      return out;
    }
    out.value = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (out.value.is_discarded()) {
      // Re-parse with exceptions only to get nlohmann's position message.
      try {
        auto discard = ordered_json::parse(line);
        (void)discard;
      } catch (const std::exception& e) {
        out.error = "not valid JSON: " + json_error_message(e.what());
        if (line.size() > 200) out.error += " (line of " + std::to_string(line.size()) + " bytes)";
      }
      if (out.error.empty()) out.error = "not valid JSON";
    }
    out.text = std::move(line);
    return out;
  }
  if (in_.bad()) throw Error(path_ + ": read error after line " + std::to_string(line_no_));
  return std::nullopt;
}

void BadLineReport::add(const std::string& file, int64_t line, const std::string& kind,
                        const std::string& why) {
  ++count_;
  if (first_.size() < keep_first_) first_.push_back(file + ":" + std::to_string(line) + ": " + why);
  for (auto& [k, n] : by_kind_)
    if (k == kind) {
      ++n;
      return;
    }
  by_kind_.emplace_back(kind, 1);
}

std::string BadLineReport::summary() const {
  std::ostringstream os;
  for (const auto& s : first_) os << s << "\n";
  if (count_ > first_.size()) os << "... and " << (count_ - first_.size()) << " more\n";
  os << count_ << " bad record(s):";
  for (const auto& [k, n] : by_kind_) os << " " << k << "=" << n;
  return os.str();
}

ordered_json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  ordered_json j = ordered_json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) {
    try {
      auto discard = ordered_json::parse(ss.str());
      (void)discard;
    } catch (const std::exception& e) {
      throw Error(path + ": not valid JSON: " + json_error_message(e.what()));
    }
    throw Error(path + ": not valid JSON");
  }
  return j;
}

}  // namespace principia
