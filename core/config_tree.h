// The untyped stage of configuration: a YAML tree that remembers where every value came from,
// so that after includes, overrides and interpolation an error can still name file:line:col.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace principia::config {

struct Node {
  enum class Kind { kNull, kScalar, kMap, kList };
  Kind kind = Kind::kNull;
  std::string scalar;
  bool quoted = false;  // a quoted YAML scalar is always a string
  std::string key;        // this node's key when it is an entry of a mapping
  std::vector<Node> map;  // mapping entries (each with its key), insertion order kept
  std::vector<Node> list;
  SourceLocation where;

  bool is_map() const { return kind == Kind::kMap; }
  bool is_list() const { return kind == Kind::kList; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_null() const { return kind == Kind::kNull; }
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  Node& get_or_add(const std::string& key, const SourceLocation& where);
  const char* kind_name() const;
};

// Parses a YAML file and resolves its `include:` (a path or a list, relative to the file;
// included files first, the including file merged over them). Cycles are errors.
Node load_yaml_file(const std::string& path);
// Parses YAML text (used for override values); `where` names the source in errors.
Node parse_yaml_text(const std::string& text, const SourceLocation& where);

// Deep merge: maps merge key by key, anything else in `over` replaces `base`.
void merge_into(Node& base, const Node& over);

// Applies one `a.b.c=value` or `a.b.c+=value` override (list append). Numeric segments index
// lists. Throws Error naming the override on a malformed one.
void apply_override(Node& root, const std::string& override_text);

// Replaces ${key.path} and ${env:VAR} in every scalar. A scalar that is exactly one ${key.path}
// reference takes the referenced node whole (maps and lists included).
void interpolate(Node& root);

// YAML text for a tree (block style; strings quoted when needed).
std::string emit_yaml(const Node& root);
// Quote a scalar for YAML output when it would otherwise change meaning.
std::string yaml_scalar(const std::string& s, bool force_string);

}  // namespace principia::config
