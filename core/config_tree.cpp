#include "core/config_tree.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "core/text.h"

namespace principia::config {
namespace fs = std::filesystem;

const Node* Node::find(const std::string& k) const {
  for (const auto& c : map)
    if (c.key == k) return &c;
  return nullptr;
}
Node* Node::find(const std::string& k) {
  for (auto& c : map)
    if (c.key == k) return &c;
  return nullptr;
}
Node& Node::get_or_add(const std::string& k, const SourceLocation& w) {
  if (Node* n = find(k)) return *n;
  Node n;
  n.where = w;
  n.key = k;
  map.push_back(std::move(n));
  return map.back();
}
const char* Node::kind_name() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kScalar: return "a scalar";
    case Kind::kMap: return "a mapping";
    case Kind::kList: return "a list";
  }
  return "?";
}

namespace {

Node from_yaml(const YAML::Node& y, const std::string& file) {
  Node n;
  n.where = {file, y.Mark().line + 1, y.Mark().column + 1};
  if (y.Mark().line < 0) n.where.line = 0, n.where.column = 0;
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      n.kind = Node::Kind::kNull;
      break;
    case YAML::NodeType::Scalar:
      n.kind = Node::Kind::kScalar;
      n.scalar = y.Scalar();
      n.quoted = y.Tag() == "!";  // yaml-cpp tags quoted scalars "!"
      break;
    case YAML::NodeType::Sequence:
      n.kind = Node::Kind::kList;
      for (const auto& item : y) n.list.push_back(from_yaml(item, file));
      break;
    case YAML::NodeType::Map:
      n.kind = Node::Kind::kMap;
      for (const auto& kv : y) {
        std::string key = kv.first.Scalar();
        Node child = from_yaml(kv.second, file);
        if (child.where.line == 0) child.where = {file, kv.first.Mark().line + 1, kv.first.Mark().column + 1};
        for (const auto& c : n.map)
          if (c.key == key)
            throw Error(SourceLocation{file, kv.first.Mark().line + 1, kv.first.Mark().column + 1},
                        key, "duplicate key");
        child.key = key;
        n.map.push_back(std::move(child));
      }
      break;
  }
  return n;
}

Node parse_yaml(const std::string& text, const SourceLocation& where) {
  try {
    YAML::Node y = YAML::Load(text);
    return from_yaml(y, where.file);
  } catch (const YAML::Exception& e) {
    SourceLocation at = where;
    if (e.mark.line >= 0 && !e.mark.is_null()) {
      at.line = where.line > 0 ? where.line : e.mark.line + 1;
      at.column = e.mark.column + 1;
    }
    throw Error(at, "", "invalid YAML: " + e.msg);
  }
}

Node load_recursive(const fs::path& path, std::vector<std::string>& stack,
                    const SourceLocation& included_from) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) abs = fs::absolute(path);
  for (const auto& s : stack)
    if (s == abs.string()) {
      std::string chain;
      for (const auto& f : stack) chain += f + " -> ";
      throw Error(included_from, "include", "include cycle: " + chain + abs.string());
    }
  if (!fs::exists(abs)) {
    if (included_from.known())
      throw Error(included_from, "include", "included file not found: " + path.string());
    throw Error(path.string() + ": config file not found");
  }
  if (fs::is_directory(abs)) throw Error(path.string() + ": is a directory, not a config file");
  std::ifstream in(abs);
  if (!in) throw Error(path.string() + ": cannot read config file");
  std::stringstream ss;
  ss << in.rdbuf();
  Node root = parse_yaml(ss.str(), SourceLocation{path.string(), 0, 0});
  if (root.is_null()) {
    root.kind = Node::Kind::kMap;
    root.where = {path.string(), 1, 1};
  }
  if (!root.is_map())
    throw Error(root.where, "", "a config file must be a mapping of sections, found " +
                                    std::string(root.kind_name()));

  const Node* inc = root.find("include");
  if (!inc) return root;
  std::vector<const Node*> includes;
  if (inc->is_scalar()) includes.push_back(inc);
  else if (inc->is_list()) {
    for (const auto& item : inc->list) {
      if (!item.is_scalar()) throw Error(item.where, "include", "each include must be a file path");
      includes.push_back(&item);
    }
  } else {
    throw Error(inc->where, "include", "include must be a file path or a list of paths");
  }
  stack.push_back(abs.string());
  Node merged;
  merged.kind = Node::Kind::kMap;
  merged.where = root.where;
  for (const Node* item : includes) {
    fs::path p = item->scalar;
    if (p.is_relative()) p = path.parent_path() / p;
    merge_into(merged, load_recursive(p, stack, item->where));
  }
  stack.pop_back();
  Node self = root;
  std::erase_if(self.map, [](const Node& c) { return c.key == "include"; });
  merge_into(merged, self);
  return merged;
}

}  // namespace

Node load_yaml_file(const std::string& path) {
  std::vector<std::string> stack;
  return load_recursive(path, stack, SourceLocation{});
}

Node parse_yaml_text(const std::string& text, const SourceLocation& where) {
  return parse_yaml(text, where);
}

void merge_into(Node& base, const Node& over) {
  if (base.is_map() && over.is_map()) {
    for (const auto& c : over.map) {
      if (Node* existing = base.find(c.key)) merge_into(*existing, c);
      else base.map.push_back(c);
    }
    return;
  }
  std::string key = base.key;  // keep this entry's own key
  base = over;
  base.key = key;
}

void apply_override(Node& root, const std::string& text) {
  SourceLocation where{"command-line override '" + text + "'", 0, 0};
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("malformed override '" + text + "': expected key.path=value or key.path+=value");
  bool append = text[eq - 1] == '+';
  std::string key = text.substr(0, append ? eq - 1 : eq);
  std::string value = text.substr(eq + 1);
  std::vector<std::string> parts = split(key, '.');
  for (const auto& p : parts)
    if (p.empty() || p.find_first_of(" \t[]{}") != std::string::npos)
      throw Error("malformed override '" + text + "': bad key path '" + key + "'");
  Node parsed = value.empty() ? Node{} : parse_yaml(value, where);
  if (value.empty()) parsed.kind = Node::Kind::kScalar, parsed.quoted = true;
  auto stamp = [&](auto&& self, Node& n) -> void {
    n.where = where;
    for (auto& c : n.map) self(self, c);
    for (auto& c : n.list) self(self, c);
  };
  stamp(stamp, parsed);

  Node* cur = &root;
  std::string path_so_far;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = parts[i];
    path_so_far += (i ? "." : "") + seg;
    bool last = i + 1 == parts.size();
    if (cur->is_list()) {
      char* end = nullptr;
      long idx = std::strtol(seg.c_str(), &end, 10);
      if (*end != '\0' || idx < 0 || size_t(idx) >= cur->list.size())
        throw Error(where, path_so_far,
                    "list index out of range (the list has " + std::to_string(cur->list.size()) +
                        " entries)");
      cur = &cur->list[size_t(idx)];
    } else {
      if (cur->is_null()) cur->kind = Node::Kind::kMap;
      if (!cur->is_map())
        throw Error(where, path_so_far, "cannot set a key inside " + std::string(cur->kind_name()));
      cur = &cur->get_or_add(seg, where);
    }
    if (last) {
      if (append) {
        if (cur->is_null()) cur->kind = Node::Kind::kList;
        if (!cur->is_list())
          throw Error(where, key, "'+=' appends to a list, but this key holds " +
                                      std::string(cur->kind_name()));
        cur->list.push_back(parsed);
      } else {
        std::string own_key = cur->key;
        *cur = parsed;
        cur->key = own_key;
      }
    }
  }
}

namespace {

const Node* lookup(const Node& root, const std::string& path) {
  const Node* cur = &root;
  for (const auto& seg : split(path, '.')) {
    if (cur->is_map()) {
      cur = cur->find(seg);
    } else if (cur->is_list()) {
      char* end = nullptr;
      long idx = std::strtol(seg.c_str(), &end, 10);
      if (*end != '\0' || idx < 0 || size_t(idx) >= cur->list.size()) return nullptr;
      cur = &cur->list[size_t(idx)];
    } else {
      return nullptr;
    }
    if (!cur) return nullptr;
  }
  return cur;
}

struct Interpolator {
  Node& root;
  std::vector<std::string> resolving;  // key paths being resolved, for cycle detection

  void resolve(Node& n, const std::string& path) {
    if (n.is_map()) {
      for (auto& c : n.map) resolve(c, path.empty() ? c.key : path + "." + c.key);
    } else if (n.is_list()) {
      for (size_t i = 0; i < n.list.size(); ++i) resolve(n.list[i], path + "." + std::to_string(i));
    } else if (n.is_scalar() && n.scalar.find("${") != std::string::npos) {
      resolve_scalar(n, path);
    }
  }

  void resolve_scalar(Node& n, const std::string& path) {
    for (const auto& r : resolving)
      if (r == path) {
        std::string chain;
        for (const auto& x : resolving) chain += x + " -> ";
        throw Error(n.where, path, "interpolation cycle: " + chain + path);
      }
    resolving.push_back(path);
    const std::string s = n.scalar;
    // A scalar that is exactly one reference takes the referenced node whole.
    if (s.size() > 3 && s.rfind("${", 0) == 0 && s.find('}') == s.size() - 1 &&
        s.find("${", 2) == std::string::npos && s.compare(2, 4, "env:") != 0) {
      std::string ref = s.substr(2, s.size() - 3);
      Node* target = const_cast<Node*>(lookup(root, ref));
      if (!target) throw Error(n.where, path, "interpolation refers to unknown key '" + ref + "'");
      resolve(*target, ref);
      SourceLocation where = n.where;
      std::string own_key = n.key;
      n = *target;
      n.where = where;
      n.key = own_key;
      resolving.pop_back();
      return;
    }
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      size_t start = s.find("${", i);
      if (start == std::string::npos) {
        out += s.substr(i);
        break;
      }
      out += s.substr(i, start - i);
      size_t end = s.find('}', start);
      if (end == std::string::npos) throw Error(n.where, path, "unterminated '${' in '" + s + "'");
      std::string ref = s.substr(start + 2, end - start - 2);
      if (ref.rfind("env:", 0) == 0) {
        std::string var = ref.substr(4);
        std::string fallback;
        bool has_fallback = false;
        if (auto colon = var.find(':'); colon != std::string::npos) {
          fallback = var.substr(colon + 1);
          var = var.substr(0, colon);
          has_fallback = true;
        }
        const char* v = std::getenv(var.c_str());
        if (!v && !has_fallback)
          throw Error(n.where, path, "environment variable '" + var + "' is not set (use ${env:" +
                                         var + ":default} for a default)");
        out += v ? v : fallback;
      } else {
        Node* target = const_cast<Node*>(lookup(root, ref));
        if (!target) throw Error(n.where, path, "interpolation refers to unknown key '" + ref + "'");
        resolve(*target, ref);
        if (!target->is_scalar())
          throw Error(target->where.known() ? target->where : n.where, ref,
                      "is " + std::string(target->kind_name()) + ", but " + path +
                          " uses it inside a string ('" + s + "')");
        out += target->scalar;
      }
      i = end + 1;
    }
    n.scalar = out;  // keeps its quoting: a plain "${env:STEPS}" may read as a number
    resolving.pop_back();
  }
};

}  // namespace

void interpolate(Node& root) {
  Interpolator in{root, {}};
  in.resolve(root, "");
}

std::string yaml_scalar(const std::string& s, bool force_string) {
  bool plain = !s.empty() && s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") == std::string::npos &&
               s.front() != ' ' && s.back() != ' ' && s.front() != '-' && s.front() != '?';
  if (plain && force_string) {
    static const std::set<std::string> special{"true", "false", "yes", "no", "on", "off",
                                               "null", "~", "True", "False", "Null", "NULL"};
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    if (special.count(s) || (end && *end == '\0')) plain = false;
  }
  if (plain) return s;
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

static void emit(const Node& n, int indent, std::ostringstream& os) {
  std::string pad(size_t(indent), ' ');
  if (n.is_map()) {
    for (const auto& v : n.map) {
      os << pad << yaml_scalar(v.key, false) << ":";
      if ((v.is_map() && !v.map.empty()) || (v.is_list() && !v.list.empty())) {
        os << "\n";
        emit(v, indent + 2, os);
      } else if (v.is_map()) os << " {}\n";
      else if (v.is_list()) os << " []\n";
      else if (v.is_null()) os << " null\n";
      else os << " " << yaml_scalar(v.scalar, v.quoted) << "\n";
    }
  } else if (n.is_list()) {
    for (const auto& item : n.list) {
      if (item.is_map() && !item.map.empty()) {
        std::ostringstream inner;
        emit(item, indent + 2, inner);
        std::string s = inner.str();
        os << pad << "- " << s.substr(size_t(indent) + 2);
      } else if (item.is_list() && !item.list.empty()) {
        os << pad << "-\n";
        emit(item, indent + 2, os);
      } else if (item.is_null()) os << pad << "- null\n";
      else if (item.is_map()) os << pad << "- {}\n";
      else if (item.is_list()) os << pad << "- []\n";
      else os << pad << "- " << yaml_scalar(item.scalar, item.quoted) << "\n";
    }
  }
}

std::string emit_yaml(const Node& root) {
  std::ostringstream os;
  emit(root, 0, os);
  return os.str();
}

}  // namespace principia::config
