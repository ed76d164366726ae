// Random numbers for the demo that do not depend on the rank count or the standard library.
//
// Every independent thing (an image's augmentation, a voxel's parameters, a trial's noise) draws
// from its own stream, keyed by (seed, purpose, index) through SplitMix64, so any rank can make any
// item without drawing the ones before it. Uniforms and normals are computed here rather than with
// <random>'s distributions, whose algorithms the C++ standard leaves to the library.
#pragma once

#include <cmath>
#include <cstdint>

namespace deepvox::import {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Purposes, so streams for different things never coincide.
enum class Stream : std::uint64_t {
  ImagePlan = 1,
  ImageRender = 2,
  Split = 3,
  Voxel = 4,
  Schedule = 5,
  TrialNoise = 6,
  SessionOffset = 7,
  Classifier = 8,
};

// xoshiro256** (Blackman & Vigna), seeded from (seed, stream, index) by SplitMix64.
class Rng {
 public:
  Rng(std::uint64_t seed, Stream stream, std::uint64_t index) {
    std::uint64_t sm = seed * 0x2545F4914F6CDD1Dull ^ (static_cast<std::uint64_t>(stream) << 56) ^ index;
    for (auto& w : s_) w = splitmix64(sm);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1), 53 bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : static_cast<std::uint64_t>(uniform() * n) % n; }
  // Standard normal (Box-Muller; the second value is cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(6.283185307179586 * u2);
    has_spare_ = true;
    return r * std::cos(6.283185307179586 * u2);
  }
  // Log-uniform in [lo, hi].
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  // Fisher-Yates shuffle.
  template <typename Vec>
  void shuffle(Vec& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace deepvox::import
