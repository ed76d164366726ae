// Evaluation statistics shared by reconstruct and its tests: Pearson correlation matrices, pairwise
// identification (Horikawa & Kamitani 2017; Shen et al. 2019) and its one-sided binomial p-value.
// Plain C++ (no LibTorch), sums in double in a fixed order.
#pragma once

#include <cstdint>
#include <vector>

namespace deepvox::reconstruct {

// Pearson r of two length-n vectors (0 when either is constant).
double pearson(const float* a, const float* b, std::int64_t n);

// r[i * n + j] = Pearson(pred row i, truth row j) for row-major n x d matrices.
std::vector<double> correlation_matrix(const float* pred, const float* truth, std::int64_t n, std::int64_t d);

struct Identification {
  double accuracy = 0;           // correct / comparisons (0.5 = chance)
  double correct = 0;            // ties count one half
  std::int64_t comparisons = 0;  // n (n - 1)
  double p_value = 1;            // one-sided binomial P(X >= floor(correct)) with success rate 1/2
  double permutation_p = 1;  // one-sided, truths reassigned to predictions at random (valid under dependence)
  std::vector<double> per_item;  // accuracy of each prediction against the n - 1 others
};

// From a similarity matrix s (n x n, row i = prediction i against every true item): prediction i is
// identified against item j != i when s[i][i] > s[i][j]. The comparisons are not independent (they
// share items), so the binomial p-value is the conventional, optimistic one. permutation_p is the valid
// one: the accuracy when the true items are randomly reassigned to the predictions (kPermutations seeded
// shuffles; (count(>= observed) + 1) / (kPermutations + 1)).
Identification pairwise_identification(const std::vector<double>& s, std::int64_t n);

// Pairwise decoding as VanRullen & Reddy (2019) scored it: over unordered pairs i < j, correct when
// s[i][i] + s[j][j] > s[i][j] + s[j][i] (ties 1/2); n (n - 1) / 2 comparisons. per_item: each item's share.
Identification pairwise_decoding(const std::vector<double>& s, std::int64_t n);

constexpr int kPermutations = 1000;

// P(X >= k) for X ~ Binomial(n, p), summed in log space (exact for any n).
double binomial_tail(std::int64_t k, std::int64_t n, double p);

}  // namespace deepvox::reconstruct
