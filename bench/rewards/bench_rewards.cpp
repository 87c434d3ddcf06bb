// Parse + full default reward (format 0.15 + weighted_pair 0.85) for N judgments of 8
// candidates on one thread: judgments per second per core. The outputs mimic a judge's:
// a think block of 200–1000 characters, then the JSON verdict (mostly clean; some fenced,
// repaired, wrapped in prose, or truncated), shown names mapped back to real ones.
//
//   bench_rewards [N=100000] [candidates=8] [repeats=3]    prints one JSON line
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"
#include "rewards/judgment_parser.h"
#include "rewards/registry.h"

using namespace principia;
using namespace principia::rewards;

namespace {

// CPU time of this thread: the machine may be shared, and per-core throughput is what we want.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Sample {
  std::string output;
  NameMapping mapping;
  size_t gold_index;
};

std::string make_output(std::mt19937_64& rng, int k) {
  static const char* kWords[] = {"the", "response", "principle", "concise", "follows",
                                 "ignores", "tone", "structure", "better", "worse", "model"};
  std::string out = "<think>";
  size_t target = 200 + rng() % 800;
  while (out.size() < target) {
    out += kWords[rng() % 11];
    out += ' ';
  }
  out += "</think>\n";
  std::vector<int> score(k), order(k);
  for (int i = 0; i < k; ++i) {
    score[i] = 1 + static_cast<int>(rng() % 5);
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
  int style = static_cast<int>(rng() % 20);  // 0: fenced, 1: single quotes, 2: prose, 3: cut
  char q = style == 1 ? '\'' : '"';
  std::string body = "{";
  body += q + std::string("scores") + q + ": {";
  for (int i = 0; i < k; ++i) {
    if (i) body += ", ";
    body += q + std::string("model-") + std::to_string(i + 1) + q + ": " + std::to_string(score[i]);
  }
  body += "}, " + (q + std::string("best-to-worst") + q) + ": [";
  for (int i = 0; i < k; ++i) {
    if (i) body += ", ";
    body += q + std::string("model-") + std::to_string(order[i] + 1) + q;
  }
  body += "]}";
  if (style == 0) body = "```json\n" + body + "\n```";
  if (style == 2) body = "Here is my verdict: " + body + " I hope this helps.";
  if (style == 3) body.resize(body.size() / 2);
  return out + body;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const int k = argc > 2 ? std::atoi(argv[2]) : 8;
  const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  std::mt19937_64 rng(1234);

  std::vector<Gold> golds(1000);
  for (auto& g : golds)
    for (int i = 0; i < k; ++i) {
      g.names.push_back("cand-" + std::to_string(i));
      g.scores.push_back(1 + static_cast<double>(rng() % 9) / 2.0);
    }
  std::vector<Sample> samples(n);
  size_t bytes = 0;
  for (auto& s : samples) {
    s.output = make_output(rng, k);
    bytes += s.output.size();
    s.gold_index = rng() % golds.size();
    std::vector<int> perm(k);
    for (int i = 0; i < k; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    for (int i = 0; i < k; ++i)
      s.mapping.emplace_back("model-" + std::to_string(i + 1), golds[s.gold_index].names[perm[i]]);
  }

  CompositeReward reward(config::default_reward_components());
  RewardBreakdown b;
  double best_seconds = 1e300, best_wall = 1e300, checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    checksum = 0;
    auto t0 = std::chrono::steady_clock::now();
    double c0 = thread_cpu_seconds();
    for (const auto& s : samples) {
      Judgment j = parse_judgment(s.output);
      remap_names(j, s.mapping);
      reward.score(j, golds[s.gold_index], &b);
      checksum += b.total;
    }
    best_seconds = std::min(best_seconds, thread_cpu_seconds() - c0);
    best_wall = std::min(
        best_wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf(
      "{\"judgments\": %zu, \"candidates\": %d, \"mean_output_bytes\": %.0f, \"repeats\": %d, "
      "\"best_cpu_seconds\": %.4f, \"best_wall_seconds\": %.4f, \"judgments_per_second\": %.0f, "
      "\"mean_reward\": %.4f}\n",
      n, k, static_cast<double>(bytes) / n, repeats, best_seconds, best_wall, n / best_seconds,
      checksum / n);
  return 0;
}
