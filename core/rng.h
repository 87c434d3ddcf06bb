// Deterministic, serialisable RNG (xoshiro256**, seeded through splitmix64). Used for candidate
// permutations, data shuffles and anything else whose state a checkpoint must restore exactly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace principia {

class Rng {
 public:
  using result_type = uint64_t;
  explicit Rng(uint64_t seed = 0);
  // An independent stream for (seed, a, b, ...): same inputs, same stream.
  static Rng derive(uint64_t seed, std::initializer_list<uint64_t> keys);

  uint64_t next();
  uint64_t operator()() { return next(); }
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return ~uint64_t(0); }
  uint64_t below(uint64_t n);  // uniform in [0, n), unbiased
  double uniform();            // [0, 1)
  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  std::vector<int> permutation(int n);

  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
};

uint64_t splitmix64(uint64_t& x);

}  // namespace principia
