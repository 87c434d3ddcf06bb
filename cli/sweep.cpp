#include "cli/sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "cli/svg_chart.h"
#include "core/error.h"
#include "core/files.h"
#include "core/text.h"

namespace principia::cli::sweep {
namespace fs = std::filesystem;

Axis parse_axis(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--grid: '" + arg + "' is not key.path=value1,value2,...");
  Axis axis;
  axis.key = trim(arg.substr(0, eq));
  if (axis.key.empty() || axis.key.back() == '+')
    throw Error("--grid: '" + arg + "': a grid sets a key (key.path=v1,v2), it cannot append");
  // Split at top-level commas only, so a list value such as [0.9,0.95] stays one value.
  std::string cur;
  int depth = 0;
  bool any = false;
  auto flush = [&] {
    std::string v = trim(cur);
    if (v.empty())
      throw Error("--grid: " + axis.key + ": an empty value in '" + arg.substr(eq + 1) + "'");
    axis.values.push_back(v);
    cur.clear();
  };
  for (char c : arg.substr(eq + 1)) {
    any = true;
    if (c == '[' || c == '{') ++depth;
    if ((c == ']' || c == '}') && depth > 0) --depth;
    if (c == ',' && depth == 0) {
      flush();
      continue;
    }
    cur += c;
  }
  if (!any) throw Error("--grid: " + axis.key + ": no values (write " + axis.key + "=v1,v2)");
  flush();
  std::set<std::string> seen;
  for (const auto& v : axis.values)
    if (!seen.insert(v).second)
      throw Error("--grid: " + axis.key + ": the value '" + v + "' is listed twice");
  return axis;
}

bool is_value_list(const std::string& arg) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos) return false;
  if (trim(arg.substr(eq + 1)).empty()) return true;  // `key=`: an axis without values, an error
  int depth = 0;
  for (size_t i = eq + 1; i < arg.size(); ++i) {
    const char c = arg[i];
    if (c == '[' || c == '{') ++depth;
    if ((c == ']' || c == '}') && depth > 0) --depth;
    if (c == ',' && depth == 0) return true;
  }
  return false;
}

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '+' || c == '-';
    // Brackets, quotes and spaces only frame a value: [0.9, 0.95] reads as 0.9-0.95.
    const bool frame =
        c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == '\'' || c == ' ';
    if (ok)
      out += c;
    else if (!frame)
      out += '-';
  }
  if (out.empty() || out == "." || out == "..") out = "variant";
  return out;
}

std::vector<Variant> grid_variants(const std::vector<Axis>& axes) {
  if (axes.empty()) throw Error("--grid: no axes (write --grid key.path=v1,v2)");
  std::set<std::string> keys;
  std::map<std::string, int> last_segment_count;
  for (const auto& a : axes) {
    if (!keys.insert(a.key).second) throw Error("--grid: the key " + a.key + " is given twice");
    ++last_segment_count[a.key.substr(a.key.rfind('.') + 1)];
  }
  auto label = [&](const std::string& key) {
    const std::string last = key.substr(key.rfind('.') + 1);
    return last_segment_count[last] > 1 ? key : last;
  };
  std::vector<Variant> out{Variant{}};
  for (const auto& a : axes) {
    std::vector<Variant> next;
    for (const auto& v : out)
      for (const auto& value : a.values) {
        Variant n = v;
        n.overrides.push_back(a.key + "=" + value);
        if (a.values.size() > 1)
          n.name += (n.name.empty() ? "" : "_") + safe_name(label(a.key) + "-" + value);
        next.push_back(std::move(n));
      }
    out = std::move(next);
  }
  std::map<std::string, const Variant*> by_name;
  for (auto& v : out) {
    if (v.name.empty()) v.name = "single";  // every axis had one value
    auto [it, fresh] = by_name.emplace(v.name, &v);
    if (!fresh)
      throw Error("--grid: the variants " + join(it->second->overrides, " ") + " and " +
                  join(v.overrides, " ") + " would share the directory name '" + v.name + "'");
  }
  return out;
}

std::vector<Variant> config_variants(const std::vector<std::string>& files) {
  if (files.empty()) throw Error("--configs: no config files given");
  std::vector<Variant> out;
  std::map<std::string, std::string> by_name;
  for (const auto& f : files) {
    Variant v;
    v.name = safe_name(fs::path(f).stem().string());
    v.config = f;
    auto [it, fresh] = by_name.emplace(v.name, f);
    if (!fresh)
      throw Error("--configs: " + it->second + " and " + f + " have the same name '" + v.name +
                  "'");
    out.push_back(std::move(v));
  }
  return out;
}

EvalPoint eval_point(const ordered_json& eval, const std::string& file, int64_t step) {
  auto num = [](const ordered_json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN;
  };
  const ordered_json none = ordered_json::object();
  const ordered_json& overall = eval.contains("metrics") && eval["metrics"].contains("overall")
                                    ? eval["metrics"]["overall"]
                                    : none;
  const ordered_json& reward = eval.contains("reward") ? eval["reward"] : none;
  EvalPoint p;
  p.file = file;
  p.step = step;
  p.weighted_pair = num(reward, "weighted_pair");
  p.reward = num(reward, "total");
  p.format_valid_rate = num(overall, "format_valid_rate");
  p.pairwise_accuracy = num(overall, "pairwise_accuracy");
  p.kendall_tau_b = num(overall, "kendall_tau_b");
  p.ndcg = num(overall, "ndcg");
  return p;
}

std::vector<EvalPoint> read_evals(const std::string& run_dir) {
  std::vector<std::pair<std::pair<int64_t, int>, EvalPoint>> found;  // (step, order at that step)
  std::error_code ec;
  const fs::path dir = fs::path(run_dir) / "eval";
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".json" || name.rfind("step-", 0) != 0) continue;
    const std::string tag = e.path().stem().string().substr(5);
    int64_t step = 0;
    int order = 0;
    if (tag == "base")
      order = 0;
    else if (tag == "sft")
      order = 1;
    else if (!tag.empty() &&
             std::all_of(tag.begin(), tag.end(), [](char c) { return c >= '0' && c <= '9'; }))
      step = std::stoll(tag), order = 2;
    else
      continue;
    try {
      found.push_back(
          {{step, order},
           eval_point(read_json_file(e.path().string()), e.path().stem().string(), step)});
    } catch (const std::exception&) {
      continue;  // a torn or foreign file: the summary shows what can be read
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<EvalPoint> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::vector<EvalPoint> training_curve(const std::vector<EvalPoint>& evals) {
  const bool has_sft =
      std::any_of(evals.begin(), evals.end(), [](const auto& e) { return e.file == "step-sft"; });
  std::vector<EvalPoint> out;
  for (const auto& e : evals)
    if (e.file != (has_sft ? "step-base" : "step-sft")) out.push_back(e);
  return out;
}

namespace {

ordered_json number_or_null(double v) {
  return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr);
}

ordered_json point_json(const EvalPoint& p) {
  ordered_json j;
  j["eval"] = p.file;
  j["step"] = p.step;
  j["weighted_pair"] = number_or_null(p.weighted_pair);
  j["pairwise_accuracy"] = number_or_null(p.pairwise_accuracy);
  j["format_valid_rate"] = number_or_null(p.format_valid_rate);
  j["kendall_tau_b"] = number_or_null(p.kendall_tau_b);
  j["ndcg"] = number_or_null(p.ndcg);
  j["reward"] = number_or_null(p.reward);
  return j;
}

// The last eval of a finished run is the one at trainer.max_steps.
const EvalPoint* final_eval(const VariantResult& r) {
  if (r.evals.empty() || r.evals.back().file == "step-base" || r.evals.back().file == "step-sft")
    return nullptr;
  return &r.evals.back();
}

std::string cell(double v, const char* f = "%.3f") {
  if (!std::isfinite(v)) return "–";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string describe(const Variant& v) {
  if (!v.config.empty()) return "`" + md_escape(v.config) + "`";
  if (v.overrides.empty()) return "";
  std::string out;
  for (const auto& o : v.overrides) out += (out.empty() ? "`" : " `") + md_escape(o) + "`";
  return out;
}

}  // namespace

ordered_json summary_json(const std::string& command, const std::vector<VariantResult>& results) {
  ordered_json j;
  j["command"] = command;
  j["variants"] = ordered_json::array();
  for (const auto& r : results) {
    ordered_json v;
    v["name"] = r.variant.name;
    if (r.variant.config.empty())
      v["overrides"] = r.variant.overrides;
    else
      v["config"] = r.variant.config;
    v["run_dir"] = r.run_dir;
    v["state"] = r.state;
    v["exit_code"] = r.exit_code ? ordered_json(*r.exit_code) : ordered_json(nullptr);
    v["seconds"] = r.seconds;
    const EvalPoint* f = final_eval(r);
    v["final"] = f ? point_json(*f) : ordered_json(nullptr);
    v["evals"] = ordered_json::array();
    for (const auto& p : r.evals) v["evals"].push_back(point_json(p));
    j["variants"].push_back(std::move(v));
  }
  return j;
}

std::string summary_markdown(const std::string& command,
                             const std::vector<VariantResult>& results) {
  std::string md = "# Sweep\n\n`" + command + "`\n\n";
  md +=
      "Final held-out eval of each variant (RUN/eval/step-N.json at trainer.max_steps); "
      "Δ is against the first variant.\n\n";
  md +=
      "| variant | settings | state | exit | weighted_pair | Δ weighted_pair | pairwise acc | "
      "format valid | "
      "Δ format valid | kendall tau-b | ndcg | reward | step |\n";
  md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  const EvalPoint* first = results.empty() ? nullptr : final_eval(results.front());
  for (const auto& r : results) {
    const EvalPoint* f = final_eval(r);
    const double nan = NAN;
    auto val = [&](double EvalPoint::*m) { return f ? f->*m : nan; };
    auto delta = [&](double EvalPoint::*m) { return f && first ? f->*m - first->*m : nan; };
    md += "| " + md_escape(r.variant.name) + " | " + describe(r.variant) + " | " + r.state + " | " +
          (r.exit_code ? std::to_string(*r.exit_code) : std::string("–")) + " | " +
          cell(val(&EvalPoint::weighted_pair)) + " | " +
          cell(delta(&EvalPoint::weighted_pair), "%+.3f") + " | " +
          cell(val(&EvalPoint::pairwise_accuracy)) + " | " +
          cell(val(&EvalPoint::format_valid_rate)) + " | " +
          cell(delta(&EvalPoint::format_valid_rate), "%+.3f") + " | " +
          cell(val(&EvalPoint::kendall_tau_b)) + " | " + cell(val(&EvalPoint::ndcg)) + " | " +
          cell(val(&EvalPoint::reward)) + " | " + (f ? std::to_string(f->step) : std::string("–")) +
          " |\n";
  }
  md += "\n![held-out weighted_pair and format-valid rate against step](sweep.svg)\n";
  return md;
}

std::string summary_svg(const std::vector<VariantResult>& results) {
  // Both are shares in [0, 1]: the axis starts at 0, so a small difference does not look large,
  // and ends where the data does, so an early run's small values are not a flat line.
  const double kTop = std::numeric_limits<double>::quiet_NaN();
  ChartPanel wp{"held-out weighted_pair", "GRPO step", "weighted_pair", {}, 0.0, kTop};
  ChartPanel fv{"held-out format-valid rate", "GRPO step", "format-valid rate", {}, 0.0, kTop};
  for (const auto& r : results) {
    ChartSeries a{r.variant.name, {}}, b{r.variant.name, {}};
    for (const auto& p : training_curve(r.evals)) {
      a.points.push_back({double(p.step), p.weighted_pair});
      b.points.push_back({double(p.step), p.format_valid_rate});
    }
    wp.series.push_back(std::move(a));
    fv.series.push_back(std::move(b));
  }
  return line_chart_svg("principia sweep (step 0: the model GRPO starts from)", {wp, fv});
}

void write_summary(const std::string& sweep_dir, const std::string& command,
                   const std::vector<VariantResult>& results) {
  fs::create_directories(sweep_dir);
  write_file_atomic(sweep_dir + "/sweep.json", summary_json(command, results).dump(2) + "\n");
  write_file_atomic(sweep_dir + "/sweep.md", summary_markdown(command, results));
  write_file_atomic(sweep_dir + "/sweep.svg", summary_svg(results));
}

}  // namespace principia::cli::sweep
