#include "data/prompt/judge_prompt.h"

#include <algorithm>

#include "core/error.h"
#include "core/files.h"
#include "core/text.h"
#include "data/prompt/python_json.h"

namespace principia::prompt {

namespace {

const std::vector<std::string>& placeholders() {
  static const std::vector<std::string> names = {"principle", "prompt", "responses_json",
                                                 "responses_list"};
  return names;
}

// Python str.format-like substitution over our four names. `values` is parallel to placeholders().
std::string substitute(const std::string& tmpl, const std::vector<std::string>* values,
                       const std::string& origin) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}')
      throw Error(origin + ": user template has an unmatched '}' at offset " + std::to_string(i));
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t end = tmpl.find('}', i);
    if (end == std::string::npos)
      throw Error(origin + ": user template has an unmatched '{' at offset " + std::to_string(i));
    const std::string name = tmpl.substr(i + 1, end - i - 1);
    const auto& names = placeholders();
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      std::string msg = origin + ": unknown placeholder {" + name +
                        "} in the user template (known: " + "{" + join(names, "}, {") + "})";
      const std::string close = closest_match(name, names);
      if (!close.empty()) msg += "; did you mean {" + close + "}?";
      throw Error(msg);
    }
    if (values) out += (*values)[it - names.begin()];
    i = end;
  }
  return out;
}

}  // namespace

std::string shown_name(size_t index) {
  return "model-" + std::to_string(index + 1);
}

JudgeRequest judge_request_from_json(const ordered_json& j, const std::string& origin) {
  const SourceLocation where{origin, 0, 0};
  if (!j.is_object()) throw Error(where, "", "a judge request must be a JSON object");
  JudgeRequest r;
  for (const char* key : {"principle", "prompt"}) {
    if (!j.contains(key)) throw Error(where, key, "missing");
    if (!j[key].is_string()) throw Error(where, key, "must be a string");
  }
  r.principle = j["principle"].get<std::string>();
  r.prompt = j["prompt"].get<std::string>();
  if (!j.contains("responses")) throw Error(where, "responses", "missing");
  const ordered_json& rs = j["responses"];
  if (rs.is_object()) {
    for (const auto& [name, text] : rs.items()) {
      if (!text.is_string()) throw Error(where, "responses." + name, "must be a string");
      r.responses.emplace_back(name, text.get<std::string>());
    }
  } else if (rs.is_array()) {
    for (size_t i = 0; i < rs.size(); ++i) {
      const auto& p = rs[i];
      if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
        throw Error(where, "responses[" + std::to_string(i) + "]", "must be a [name, text] pair");
      r.responses.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
    }
  } else {
    throw Error(where, "responses", "must be an object {name: text}");
  }
  if (r.responses.empty()) throw Error(where, "responses", "needs at least one response");
  return r;
}

PromptTemplate PromptTemplate::named(const std::string& name) {
  if (name == kRewardAnythingV1) {
    PromptTemplate t;
    t.name = name;
    t.system = rewardanything_system_prompt();
    return t;
  }
  if (name == kCompactV1) {
    // Same output format, a fraction of the tokens: for small models and CPU demos whose
    // context cannot hold the full RewardAnything system prompt.
    PromptTemplate t;
    t.name = name;
    t.system =
        "Judge the responses by the principle. Think inside <think></think>, then output JSON: "
        "{\"scores\": {name: 1-5}, \"best-to-worst\": [names]}.";
    t.user_template = "principle: {principle}\nprompt: {prompt}\nresponses:\n{responses_list}";
    return t;
  }
  throw Error("unknown prompt template '" + name + "' (known: " + kRewardAnythingV1 + ", " +
              kCompactV1 + "; or set prompt.user_template)");
}

PromptTemplate PromptTemplate::from_config(const config::PromptConfig& c) {
  PromptTemplate t;
  if (!c.user_template.empty()) {
    validate_user_template(c.user_template, "prompt.user_template");
    t.name = c.template_name.empty() || c.template_name == kRewardAnythingV1 ? "custom"
                                                                             : c.template_name;
    t.system = rewardanything_system_prompt();
    t.user_template = c.user_template;
  } else {
    t = named(c.template_name);
  }
  if (!c.system_prompt_file.empty()) t.system = read_file(c.system_prompt_file);
  t.include_principle = c.include_principle;
  return t;
}

void validate_user_template(const std::string& user_template, const std::string& origin) {
  substitute(user_template, nullptr, origin);
}

RenderedPrompt PromptTemplate::render(const JudgeRequest& request,
                                      const std::vector<size_t>& permutation) const {
  const size_t k = request.responses.size();
  std::vector<size_t> order = permutation;
  if (order.empty())
    for (size_t i = 0; i < k; ++i) order.push_back(i);
  if (order.size() != k)
    throw Error("permutation has " + std::to_string(order.size()) + " entries for " +
                std::to_string(k) + " responses");
  std::vector<bool> used(k, false);
  for (size_t idx : order) {
    if (idx >= k || used[idx])
      throw Error("not a permutation of 0.." + std::to_string(k - 1) + ": index " +
                  std::to_string(idx));
    used[idx] = true;
  }

  RenderedPrompt out;
  out.system = system;
  ordered_json responses = ordered_json::object();
  std::string list;
  for (size_t i = 0; i < k; ++i) {
    const auto& [real, text] = request.responses[order[i]];
    const std::string shown = shown_name(i);
    out.mapping.emplace_back(shown, real);
    responses[shown] = text;
    if (i) list += "\n\n";
    list += "[" + shown + "]\n" + text;
  }
  if (user_template.empty()) {
    ordered_json user = ordered_json::object();
    if (include_principle) user["principle"] = request.principle;
    user["prompt"] = request.prompt;
    user["responses"] = std::move(responses);
    out.user = python_json_dumps(user);
  } else {
    const std::vector<std::string> values = {include_principle ? request.principle : "",
                                             request.prompt, python_json_dumps(responses), list};
    out.user = substitute(user_template, &values, "prompt template '" + name + "'");
  }
  return out;
}

}  // namespace principia::prompt
