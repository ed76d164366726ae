#include "synth/stats.h"

#include <algorithm>
#include <cmath>

namespace deepvox::synth {

double binomial_upper_tail(std::int64_t k, std::int64_t n, double p) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  if (p <= 0) return 0.0;
  if (p >= 1) return 1.0;
  const double lp = std::log(p), lq = std::log1p(-p), lgn = std::lgamma(static_cast<double>(n) + 1);
  // log-sum-exp over i = k..n of log C(n, i) + i log p + (n - i) log q.
  double max_term = -INFINITY;
  auto term = [&](std::int64_t i) {
    return lgn - std::lgamma(static_cast<double>(i) + 1) - std::lgamma(static_cast<double>(n - i) + 1) +
           i * lp + (n - i) * lq;
  };
  for (std::int64_t i = k; i <= n; ++i) max_term = std::max(max_term, term(i));
  double sum = 0;
  for (std::int64_t i = k; i <= n; ++i) sum += std::exp(term(i) - max_term);
  return std::min(1.0, std::exp(max_term) * sum);
}

double sign_test(std::int64_t k, std::int64_t n) {
  if (n <= 0) return 1.0;
  const double upper = binomial_upper_tail(k, n, 0.5), lower = binomial_upper_tail(n - k, n, 0.5);
  return std::min(1.0, 2.0 * std::min(upper, lower));
}

}  // namespace deepvox::synth
