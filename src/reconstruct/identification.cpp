#include "reconstruct/identification.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace deepvox::reconstruct {
namespace {

// Correct comparisons when prediction i's true item is perm[i] (identification: against every other item).
double identification_correct(const std::vector<double>& s, std::int64_t n,
                              const std::vector<std::int64_t>& perm) {
  double c = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double own = s[static_cast<size_t>(i * n + perm[i])];
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == perm[i]) continue;
      const double other = s[static_cast<size_t>(i * n + j)];
      c += own > other ? 1.0 : (own == other ? 0.5 : 0.0);
    }
  }
  return c;
}

// The same for pairwise decoding: pair (i, j) correct when s[i][pi] + s[j][pj] > s[i][pj] + s[j][pi].
double decoding_correct(const std::vector<double>& s, std::int64_t n, const std::vector<std::int64_t>& perm) {
  double c = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double matched =
          s[static_cast<size_t>(i * n + perm[i])] + s[static_cast<size_t>(j * n + perm[j])];
      const double swapped =
          s[static_cast<size_t>(i * n + perm[j])] + s[static_cast<size_t>(j * n + perm[i])];
      c += matched > swapped ? 1.0 : (matched == swapped ? 0.5 : 0.0);
    }
  return c;
}

// (count of shuffles scoring >= observed, + 1) / (kPermutations + 1), with a fixed seed (reproducible).
template <typename F>
double permutation_p(double observed, std::int64_t n, F&& correct) {
  std::vector<std::int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(20240601);
  int at_least = 0;
  for (int k = 0; k < kPermutations; ++k) {
    for (std::int64_t i = n - 1; i > 0; --i)
      std::swap(perm[i], perm[rng() % static_cast<std::uint64_t>(i + 1)]);
    if (correct(perm) >= observed - 1e-9) ++at_least;
  }
  return (at_least + 1.0) / (kPermutations + 1.0);
}

}  // namespace

double pearson(const float* a, const float* b, std::int64_t n) {
  if (n < 2) return 0;
  double ma = 0, mb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (!(saa > 0) || !(sbb > 0)) return 0;
  return sab / std::sqrt(saa * sbb);
}

std::vector<double> correlation_matrix(const float* pred, const float* truth, std::int64_t n,
                                       std::int64_t d) {
  std::vector<double> r(static_cast<size_t>(n * n));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      r[static_cast<size_t>(i * n + j)] = pearson(pred + i * d, truth + j * d, d);
  return r;
}

Identification pairwise_identification(const std::vector<double>& s, std::int64_t n) {
  if (static_cast<std::int64_t>(s.size()) != n * n)
    throw std::invalid_argument("identification: s must be n x n");
  Identification id;
  id.per_item.assign(static_cast<size_t>(n), 0.0);
  if (n < 2) return id;
  for (std::int64_t i = 0; i < n; ++i) {
    double c = 0;
    const double own = s[static_cast<size_t>(i * n + i)];
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double other = s[static_cast<size_t>(i * n + j)];
      c += own > other ? 1.0 : (own == other ? 0.5 : 0.0);
    }
    id.per_item[static_cast<size_t>(i)] = c / static_cast<double>(n - 1);
    id.correct += c;
  }
  id.comparisons = n * (n - 1);
  id.accuracy = id.correct / static_cast<double>(id.comparisons);
  id.p_value = binomial_tail(static_cast<std::int64_t>(std::floor(id.correct)), id.comparisons, 0.5);
  id.permutation_p =
      permutation_p(id.correct, n, [&](const auto& p) { return identification_correct(s, n, p); });
  return id;
}

Identification pairwise_decoding(const std::vector<double>& s, std::int64_t n) {
  if (static_cast<std::int64_t>(s.size()) != n * n)
    throw std::invalid_argument("pairwise decoding: s must be n x n");
  Identification id;
  id.per_item.assign(static_cast<size_t>(n), 0.0);
  if (n < 2) return id;
  auto at = [&](std::int64_t i, std::int64_t j) { return s[static_cast<size_t>(i * n + j)]; };
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      const double matched = at(i, i) + at(j, j), swapped = at(i, j) + at(j, i);
      const double c = matched > swapped ? 1.0 : (matched == swapped ? 0.5 : 0.0);
      id.correct += c;
      id.per_item[static_cast<size_t>(i)] += c;
      id.per_item[static_cast<size_t>(j)] += c;
    }
  for (auto& v : id.per_item) v /= static_cast<double>(n - 1);
  id.comparisons = n * (n - 1) / 2;
  id.accuracy = id.correct / static_cast<double>(id.comparisons);
  id.p_value = binomial_tail(static_cast<std::int64_t>(std::floor(id.correct)), id.comparisons, 0.5);
  id.permutation_p = permutation_p(id.correct, n, [&](const auto& p) { return decoding_correct(s, n, p); });
  return id;
}

double binomial_tail(std::int64_t k, std::int64_t n, double p) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  const double lp = std::log(p), lq = std::log1p(-p);
  auto log_term = [&](std::int64_t x) {
    return std::lgamma(n + 1.0) - std::lgamma(x + 1.0) - std::lgamma(n - x + 1.0) + x * lp + (n - x) * lq;
  };
  double top = -INFINITY;
  for (std::int64_t x = k; x <= n; ++x) top = std::max(top, log_term(x));
  double sum = 0;
  for (std::int64_t x = k; x <= n; ++x) sum += std::exp(log_term(x) - top);
  return std::min(1.0, std::exp(top + std::log(sum)));
}

}  // namespace deepvox::reconstruct
