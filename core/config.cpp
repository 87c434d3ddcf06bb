// YAML tree -> typed structs (Binder), typed structs -> YAML tree (Emitter), validation.
#include "core/config.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/config_tree.h"
#include "core/log.h"
#include "core/text.h"

namespace principia::config {
namespace {

// Detects the struct sections (anything with a visit template).
template <class T, class V>
concept HasVisit = requires(T& t, V& v) { t.visit(v); };

template <class E>
concept NamedEnum = requires { EnumNames<E>::kNames; };

std::string format_double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  // Keep it visibly a float in YAML ("1" would read back as an integer; fine either way,
  // but "1.0" documents the type).
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return true;
  // Accept integral floats written like 1e3 or 2.0.
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
    out = int64_t(d);
    return true;
  }
  return false;
}

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  std::string t = s;
  if (t == ".inf" || t == "inf") { out = INFINITY; return true; }
  if (t == "-.inf" || t == "-inf") { out = -INFINITY; return true; }
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  return end && *end == '\0' && !std::isnan(out);
}

bool parse_bool(const std::string& s, bool& out) {
  static const std::set<std::string> yes{"true", "True", "TRUE", "yes", "on"};
  static const std::set<std::string> no{"false", "False", "FALSE", "no", "off"};
  if (yes.count(s)) { out = true; return true; }
  if (no.count(s)) { out = false; return true; }
  return false;
}

nlohmann::json node_to_json(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull: return nullptr;
    case Node::Kind::kMap: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& c : n.map) j[c.key] = node_to_json(c);
      return j;
    }
    case Node::Kind::kList: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& v : n.list) j.push_back(node_to_json(v));
      return j;
    }
    case Node::Kind::kScalar: {
      if (n.quoted) return n.scalar;
      bool b;
      int64_t i;
      double d;
      if (parse_bool(n.scalar, b)) return b;
      if (n.scalar.find_first_of(".eE") == std::string::npos && parse_int(n.scalar, i)) return i;
      if (parse_double(n.scalar, d)) return d;
      if (n.scalar == "null" || n.scalar == "~") return nullptr;
      return n.scalar;
    }
  }
  return nullptr;
}

Node scalar_node(std::string s, bool quoted) {
  Node n;
  n.kind = Node::Kind::kScalar;
  n.scalar = std::move(s);
  n.quoted = quoted;
  return n;
}

Node json_to_node(const nlohmann::json& j) {
  Node n;
  if (j.is_object()) {
    n.kind = Node::Kind::kMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      n.map.push_back(json_to_node(*it));
      n.map.back().key = it.key();
    }
  } else if (j.is_array()) {
    n.kind = Node::Kind::kList;
    for (const auto& v : j) n.list.push_back(json_to_node(v));
  } else if (j.is_string()) {
    n = scalar_node(j.get<std::string>(), true);
  } else if (j.is_boolean()) {
    n = scalar_node(j.get<bool>() ? "true" : "false", false);
  } else if (j.is_number_integer()) {
    n = scalar_node(std::to_string(j.get<int64_t>()), false);
  } else if (j.is_number()) {
    n = scalar_node(format_double(j.get<double>()), false);
  }
  return n;
}

// ---- Binder: walks a struct's visit() list against a mapping node ----
class Binder {
 public:
  Binder(const Node& node, std::string path, std::map<std::string, SourceLocation>& origins)
      : node_(node), path_(std::move(path)), origins_(origins) {}

  template <class T>
  void operator()(const char* key, T& field, Range range = {}) {
    bind(key, field, range, false);
  }
  template <class T>
  void required(const char* key, T& field) {
    bind(key, field, Range{}, true);
  }

  // Reports keys the struct did not ask for, with a did-you-mean hint.
  void finish() {
    for (const auto& v : node_.map) {
      const std::string& k = v.key;
      if (known_.count(k)) continue;
      std::vector<std::string> keys(order_.begin(), order_.end());
      std::string hint = closest_match(k, keys);
      std::string msg = "unknown key";
      if (!hint.empty()) msg += " (did you mean '" + join_path(hint) + "'?)";
      else msg += " (known keys: " + join(keys, ", ") + ")";
      throw Error(v.where, join_path(k), msg);
    }
  }

 private:
  std::string join_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  template <class T>
  void bind(const char* key, T& field, Range range, bool required) {
    known_.insert(key);
    order_.push_back(key);
    const std::string path = join_path(key);
    const Node* n = node_.find(key);
    if (!n || n->is_null()) {
      if (required) throw Error(node_.where, path, "missing required key");
      return;
    }
    origins_[path] = n->where;
    set(*n, path, field, range);
  }

  [[noreturn]] static void type_error(const Node& n, const std::string& path, const std::string& want) {
    std::string got = n.is_scalar() ? "'" + n.scalar + "'" : std::string(n.kind_name());
    throw Error(n.where, path, "expected " + want + ", got " + got);
  }

  static void check_range(const Node& n, const std::string& path, double v, const Range& r) {
    bool low = r.min_exclusive ? v <= r.min : v < r.min;
    if (low || v > r.max) {
      std::string bound;
      if (r.max < 1e299)
        bound = "in [" + format_double(r.min) + ", " + format_double(r.max) + "]";
      else
        bound = std::string(r.min_exclusive ? "> " : ">= ") + format_double(r.min);
      throw Error(n.where, path, "value " + n.scalar + " is out of range: must be " + bound);
    }
  }

  void set(const Node& n, const std::string& path, std::string& f, Range) {
    if (!n.is_scalar()) type_error(n, path, "a string");
    f = n.scalar;
  }
  void set(const Node& n, const std::string& path, int64_t& f, Range r) {
    if (!n.is_scalar() || n.quoted || !parse_int(n.scalar, f)) type_error(n, path, "an integer");
    check_range(n, path, double(f), r);
  }
  void set(const Node& n, const std::string& path, double& f, Range r) {
    if (!n.is_scalar() || n.quoted || !parse_double(n.scalar, f)) type_error(n, path, "a number");
    check_range(n, path, f, r);
  }
  void set(const Node& n, const std::string& path, bool& f, Range) {
    if (!n.is_scalar() || n.quoted || !parse_bool(n.scalar, f)) type_error(n, path, "true or false");
  }
  void set(const Node& n, const std::string& path, std::vector<double>& f, Range r) {
    if (!n.is_list()) type_error(n, path, "a list of numbers");
    f.clear();
    for (size_t i = 0; i < n.list.size(); ++i) {
      double v;
      std::string p = path + "[" + std::to_string(i) + "]";
      if (!n.list[i].is_scalar() || !parse_double(n.list[i].scalar, v)) type_error(n.list[i], p, "a number");
      check_range(n.list[i], p, v, r);
      f.push_back(v);
    }
  }
  void set(const Node& n, const std::string&, nlohmann::json& f, Range) { f = node_to_json(n); }

  template <NamedEnum E>
  void set(const Node& n, const std::string& path, E& f, Range) {
    const auto& names = EnumNames<E>::kNames;
    std::vector<std::string> all(names.begin(), names.end());
    if (!n.is_scalar()) type_error(n, path, "one of " + join(all, ", "));
    for (size_t i = 0; i < names.size(); ++i)
      if (n.scalar == names[i]) {
        f = static_cast<E>(i);
        return;
      }
    std::string hint = closest_match(n.scalar, all);
    throw Error(n.where, path, "unknown value '" + n.scalar + "': expected one of " + join(all, ", ") +
                                   (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }

  template <class T>
    requires HasVisit<T, Binder>
  void set(const Node& n, const std::string& path, T& f, Range) {
    if (!n.is_map()) type_error(n, path, "a mapping");
    Binder sub(n, path, origins_);
    f.visit(sub);
    sub.finish();
  }

  void set(const Node& n, const std::string& path, std::vector<RewardComponentConfig>& f, Range) {
    if (!n.is_list()) type_error(n, path, "a list of {name, weight, params}");
    f.clear();
    for (size_t i = 0; i < n.list.size(); ++i) {
      const Node& item = n.list[i];
      std::string p = path + "[" + std::to_string(i) + "]";
      if (!item.is_map()) type_error(item, p, "a mapping {name, weight, params}");
      RewardComponentConfig c;
      c.where = item.where;
      Binder sub(item, p, origins_);
      c.visit(sub);
      sub.finish();
      if (!c.params.is_object()) throw Error(item.where, p + ".params", "params must be a mapping");
      f.push_back(std::move(c));
    }
  }

  const Node& node_;
  std::string path_;
  std::map<std::string, SourceLocation>& origins_;
  std::set<std::string> known_;
  std::vector<std::string> order_;
};

// ---- Emitter: typed structs -> Node tree (defaults included) ----
class Emitter {
 public:
  explicit Emitter(Node& out) : out_(out) { out_.kind = Node::Kind::kMap; }
  template <class T>
  void operator()(const char* key, const T& field, Range = {}) {
    out_.map.push_back(to_node(field));
    out_.map.back().key = key;
  }
  template <class T>
  void required(const char* key, const T& field) {
    (*this)(key, field);
  }

 private:
  static Node to_node(const std::string& s) { return scalar_node(s, true); }
  static Node to_node(int64_t v) { return scalar_node(std::to_string(v), false); }
  static Node to_node(double v) { return scalar_node(format_double(v), false); }
  static Node to_node(bool v) { return scalar_node(v ? "true" : "false", false); }
  static Node to_node(const std::vector<double>& v) {
    Node n;
    n.kind = Node::Kind::kList;
    for (double d : v) n.list.push_back(to_node(d));
    return n;
  }
  static Node to_node(const nlohmann::json& j) { return json_to_node(j); }
  template <NamedEnum E>
  static Node to_node(E e) {
    return scalar_node(enum_name(e), false);
  }
  template <class T>
    requires HasVisit<T, Emitter>
  static Node to_node(const T& f) {
    Node n;
    Emitter e(n);
    const_cast<T&>(f).visit(e);
    return n;
  }
  static Node to_node(const std::vector<RewardComponentConfig>& v) {
    Node n;
    n.kind = Node::Kind::kList;
    for (const auto& c : v) n.list.push_back(to_node(c));
    return n;
  }
  Node& out_;
};

Node to_tree(const Config& cfg) {
  Node root;
  Emitter e(root);
  const_cast<Config&>(cfg).visit(e);
  return root;
}

void bind_root(const Node& root, Config& cfg) {
  if (!root.is_map()) throw Error(root.where, "", "a config must be a mapping of sections");
  Binder b(root, "", cfg.origins);
  cfg.visit(b);
  b.finish();
}

// Checks that hold for every use of a config (train, eval, plan, ...).
void validate_common(const Config& c) {
  auto fail = [&](const std::string& key, const std::string& msg) {
    throw Error(c.where(key), key, msg);
  };
  if (c.optim.betas.size() != 2) fail("optim.betas", "must be a list of two numbers [beta1, beta2]");
  for (double b : c.optim.betas)
    if (b < 0 || b >= 1) fail("optim.betas", "each beta must be in [0, 1)");
  if (c.model.num_heads % c.model.num_kv_heads != 0)
    fail("model.num_kv_heads", "must divide model.num_heads (" + std::to_string(c.model.num_heads) + ")");
  if (c.model.arch != "qwen3" && c.model.arch != "llama")
    fail("model.arch", "unknown architecture '" + c.model.arch + "': expected qwen3 or llama");
  if (c.prompt.chat_template != "qwen3" && c.prompt.chat_template != "llama3" &&
      c.prompt.chat_template != "plain")
    fail("prompt.chat_template", "unknown chat template '" + c.prompt.chat_template +
                                     "': expected qwen3, llama3 or plain");
  if (c.tokenizer.train_model_type != "bpe" && c.tokenizer.train_model_type != "unigram")
    fail("tokenizer.train_model_type", "expected bpe or unigram");
  if (c.algorithm.dual_clip != 0 && c.algorithm.dual_clip <= 1)
    fail("algorithm.dual_clip", "must be 0 (off) or greater than 1");
  if (c.algorithm.mini_batch > c.rollout.batch_size)
    fail("algorithm.mini_batch", "cannot exceed rollout.batch_size (" +
                                     std::to_string(c.rollout.batch_size) + ")");
  try {
    (void)log::parse_level(c.log.level);
  } catch (const Error& e) {
    fail("log.level", e.what());
  }
  if (c.reward.components.empty()) fail("reward.components", "needs at least one component");
  double total = 0;
  for (const auto& comp : c.reward.components) total += comp.weight;
  if (total <= 0) fail("reward.components", "the weights must not all be zero");
}

}  // namespace

SourceLocation Config::where(const std::string& key_path) const {
  auto it = origins.find(key_path);
  if (it != origins.end()) return it->second;
  return SourceLocation{source_file, 0, 0};
}

std::vector<RewardComponentConfig> default_reward_components() {
  RewardComponentConfig format;
  format.name = "format";
  format.weight = 0.15;
  RewardComponentConfig pair;
  pair.name = "weighted_pair";
  pair.weight = 0.85;
  return {format, pair};
}

Config load(const std::string& path, const std::vector<std::string>& overrides) {
  // Defaults under the user's tree, so ${run.name} resolves even when only the default exists
  // and `reward.components+=...` appends to the default list. Overrides come last.
  Config defaults;
  defaults.reward.components = default_reward_components();
  Node tree = to_tree(defaults);
  merge_into(tree, load_yaml_file(path));  // a list the user gives replaces the default list
  for (const auto& o : overrides) apply_override(tree, o);
  interpolate(tree);

  Config cfg;
  cfg.source_file = path;
  bind_root(tree, cfg);
  // Keys the user did not write have no location; point those at the file itself.
  for (auto it = cfg.origins.begin(); it != cfg.origins.end();)
    it = it->second.known() ? std::next(it) : cfg.origins.erase(it);
  validate_common(cfg);
  return cfg;
}

void validate_for_training(const Config& c) {
  auto fail = [&](const std::string& key, const std::string& msg) {
    throw Error(c.where(key), key, msg);
  };
  namespace fs = std::filesystem;
  if (c.rollout.group_size < 2)
    fail("rollout.group_size", "GRPO needs at least 2 samples per item to compare (got " +
                                   std::to_string(c.rollout.group_size) + ")");
  if (c.data.train.empty() && !c.data.synth)
    fail("data.train", "missing: set data.train to a .jsonl/.h5 file (or data.synth: true)");
  if (!c.data.train.empty() && !c.data.synth && !fs::exists(c.data.train))
    fail("data.train", "file not found: " + c.data.train);
  std::string eval_data = c.eval.data.empty() ? c.data.eval : c.eval.data;
  if (c.eval.every > 0 && eval_data.empty() && !c.data.synth)
    fail("eval.every", "eval.every is set but there is no eval data (eval.data or data.eval)");
  if (!eval_data.empty() && !c.data.synth && !fs::exists(eval_data))
    fail(c.eval.data.empty() ? "data.eval" : "eval.data", "file not found: " + eval_data);
  int64_t one_sequence = c.data.max_prompt_tokens + c.rollout.max_new_tokens;
  if (c.algorithm.micro_batch_tokens < one_sequence)
    fail("algorithm.micro_batch_tokens",
         "budget " + std::to_string(c.algorithm.micro_batch_tokens) +
             " is smaller than one sequence (data.max_prompt_tokens + rollout.max_new_tokens = " +
             std::to_string(one_sequence) + ")");
  if (c.model.path.empty() && c.tokenizer.path.empty() && !c.tokenizer.train)
    fail("tokenizer.path", "no tokenizer: set tokenizer.path, model.path, or tokenizer.train: true");
  if (!c.model.path.empty() && !fs::is_directory(c.model.path))
    fail("model.path", "not a directory: " + c.model.path);
  if (c.model.dtype == DType::kFloat16)
    fail("model.dtype", "float16 training needs loss scaling, which principia does not have: use bfloat16 "
                        "(the same memory, float32's exponent range) or float32; float16 is for eval only");
}

std::string to_yaml(const Config& cfg) { return emit_yaml(to_tree(cfg)); }

RewardConfig load_reward_config(const std::string& path) {
  Node root = load_yaml_file(path);
  Node section;
  std::string prefix;
  if (const Node* reward = root.find("reward")) {
    section = *reward;
    prefix = "reward";
  } else {
    section = root;
  }
  interpolate(section);
  RewardConfig rc;
  std::map<std::string, SourceLocation> origins;
  Binder b(section, prefix, origins);
  rc.visit(b);
  // Other sections of a full config are not ours to check here; a bare reward file is.
  if (prefix.empty()) b.finish();
  if (rc.components.empty())
    throw Error(SourceLocation{path, 0, 0}, prefix.empty() ? "components" : "reward.components",
                "no reward components listed");
  return rc;
}

}  // namespace principia::config
