// Rank statistics shared by the reward components and the evaluation metrics. Predicted
// scores are aligned to gold candidates; a candidate the judgment did not score is NaN.
#pragma once

#include <cstddef>

namespace principia::rewards {

// Kendall's τ-b between x and y (length n). Returns false (and leaves *tau) when it is
// undefined: fewer than two items or either side entirely tied. NaN in x ranks below all
// numbers (tied with other NaNs).
bool kendall_tau_b(const double* x, const double* y, size_t n, double* tau);

enum class NdcgGain { kExponential, kLinear };  // 2^(g-1) - 1  |  g - 1  (g = gold in [1,5])

// NDCG@k of the order given by `predicted` (descending) against `gold`. Ties in the prediction
// and unscored (NaN) candidates are ordered pessimistically (worst gold first; unscored last),
// so a judge cannot gain by declaring everything equal. k = 0 means all. An ideal DCG of 0
// (every gold score is the minimum) gives 1.
double ndcg(const double* predicted, const double* gold, size_t n, size_t k, NdcgGain gain);

}  // namespace principia::rewards
