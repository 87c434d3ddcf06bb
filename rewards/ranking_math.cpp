#include "rewards/ranking_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace principia::rewards {
namespace {

// -1, 0, +1 comparing a to b, NaN lowest.
int compare(double a, double b) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return na == nb ? 0 : (na ? -1 : 1);
  return a < b ? -1 : (a > b ? 1 : 0);
}

double gain_of(double g, NdcgGain gain) {
  double rel = std::max(0.0, g - 1.0);
  return gain == NdcgGain::kExponential ? std::exp2(rel) - 1.0 : rel;
}

}  // namespace

bool kendall_tau_b(const double* x, const double* y, size_t n, double* tau) {
  // O(n^2): candidate lists are at most 16 long.
  double concordant_minus_discordant = 0;
  double pairs_untied_x = 0, pairs_untied_y = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      int cx = compare(x[i], x[j]);
      int cy = compare(y[i], y[j]);
      if (cx != 0) pairs_untied_x += 1;
      if (cy != 0) pairs_untied_y += 1;
      concordant_minus_discordant += cx * cy;
    }
  if (pairs_untied_x == 0 || pairs_untied_y == 0) return false;
  *tau = concordant_minus_discordant / std::sqrt(pairs_untied_x * pairs_untied_y);
  return true;
}

double ndcg(const double* predicted, const double* gold, size_t n, size_t k, NdcgGain gain) {
  if (n == 0) return 1.0;
  if (k == 0 || k > n) k = n;
  size_t order_buf[64];
  std::vector<size_t> heap_order;
  size_t* order = order_buf;
  if (n > 64) {
    heap_order.resize(n);
    order = heap_order.data();
  }
  for (size_t i = 0; i < n; ++i) order[i] = i;
  auto discount = [](size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 2.0); };
  // Predicted order: higher score first; ties (and NaN groups) worst gold first.
  std::sort(order, order + n, [&](size_t a, size_t b) {
    int c = compare(predicted[a], predicted[b]);
    if (c != 0) return c > 0;
    if (gold[a] != gold[b]) return gold[a] < gold[b];
    return a < b;
  });
  double dcg = 0;
  for (size_t r = 0; r < k; ++r) dcg += gain_of(gold[order[r]], gain) * discount(r);
  std::sort(order, order + n, [&](size_t a, size_t b) {
    if (gold[a] != gold[b]) return gold[a] > gold[b];
    return a < b;
  });
  double ideal = 0;
  for (size_t r = 0; r < k; ++r) ideal += gain_of(gold[order[r]], gain) * discount(r);
  if (ideal <= 0) return 1.0;
  return std::clamp(dcg / ideal, 0.0, 1.0);
}

}  // namespace principia::rewards
