// libFuzzer: any bytes as a judge output. The parser must not crash, hang or trip a sanitizer,
// and every reward component must stay in [0,1] on what it returns.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rewards/components/components.h"
#include "rewards/judgment_parser.h"
#include "rewards/metrics.h"
#include "rewards/registry.h"

using namespace principia::rewards;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Judgment j = parse_judgment(text);

  // Internal consistency of the diagnostics.
  if (j.used_bracket_extraction != (j.stage == ParseStage::kBracketExtraction)) std::abort();
  if (j.json_parsed != (j.stage != ParseStage::kNone)) std::abort();
  if (!j.json_parsed && (!j.scores.empty() || !j.ranking.empty())) std::abort();
  if (j.scores.size() > kMaxJudgedNames || j.ranking.size() > kMaxJudgedNames) std::abort();
  for (const auto& s : j.scores)
    if (!(s.value >= 1.0 && s.value <= 5.0)) std::abort();

  static const Gold gold = [] {
    Gold g;
    g.names = {"model-1", "model-2", "model-3", "model-4"};
    g.scores = {5, 3, 3, 1};
    g.domain = "d";
    return g;
  }();
  remap_names(j, {{"model-4", "model-1"}, {"model-1", "model-4"}});
  RewardInput in;
  align(j, gold, &in);
  for (const auto& name : component_names()) {
    double r = make_component(name, nlohmann::json::object(), "fuzz", {})(in);
    if (!(r >= 0.0 && r <= 1.0)) std::abort();
  }
  EvalMetrics metrics;
  metrics.add(j, gold);
  (void)metrics.to_json();
  return 0;
}
