#include "core/error.h"

namespace principia {

std::string SourceLocation::str() const {
  std::string s = file.empty() ? std::string("<input>") : file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

static std::string compose(const SourceLocation& where, const std::string& key_path,
                           const std::string& message) {
  std::string s;
  if (where.known()) s += where.str() + ": ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

Error::Error(const SourceLocation& where, const std::string& key_path, const std::string& message)
    : std::runtime_error(compose(where, key_path, message)) {}

}  // namespace principia
