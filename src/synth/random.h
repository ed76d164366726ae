// Counter-based seeded randomness: every random draw is a pure function of (seed, stream ids), so
// the result does not depend on which rank draws it, in what order, or with which standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace deepvox::synth {

// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed 64-bit generator.
class Rng {
 public:
  // The stream for (seed, ids...): each id is mixed in, so (s, 1, 2) and (s, 2, 1) differ.
  Rng(std::uint64_t seed, std::initializer_list<std::uint64_t> ids) : state_(seed ^ 0x6a09e667f3bcc909ULL) {
    for (auto id : ids) state_ = mix(state_ + 0x9e3779b97f4a7c15ULL * (id + 1));
  }
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
  }
  // Standard normal (Box-Muller; both values used).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = uniform();
    const double u2 = uniform(), r = std::sqrt(-2.0 * std::log(u1)), a = 6.283185307179586 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

 private:
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Fisher-Yates shuffle driven by an Rng.
template <typename Vec>
void shuffle(Vec& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    std::size_t j = static_cast<std::size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace deepvox::synth
