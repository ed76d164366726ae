// Small exact statistics shared by synth and decode.
#pragma once

#include <cstdint>

namespace deepvox::synth {

// P(X >= k) for X ~ Binomial(n, p), summed exactly in log space (n up to millions).
double binomial_upper_tail(std::int64_t k, std::int64_t n, double p);
// Two-sided exact sign test: k successes out of n non-tied pairs, p-value of H0 "P(success) = 1/2".
double sign_test(std::int64_t k, std::int64_t n);

}  // namespace deepvox::synth
