// Ridge regression for many voxels and many lambdas at once, on local blocks (no MPI here).
//
// The decomposition trick (e.g. himalaya; Dupré la Tour et al. 2022): per split (a CV fold, or all
// training rows against the test rows) one Gram matrix and one symmetric eigendecomposition, then
// every lambda and every voxel by batched GEMMs. With Xt the centred training features (n_t x p):
//   primal (p < n_t):  Xt^T Xt = V S V^T,  w(l) = V (S + l)^-1 V^T Xt^T y
//   kernel (p >= n_t): Xt Xt^T = U S U^T,  w(l) = Xt^T U (S + l)^-1 U^T y
// Both are  w(l) = W (S + l)^-1 M^T y  and  eval predictions  A (S + l)^-1 M^T y  with
//   primal: M = Xt V, A = Xe V, W = V;     kernel: M = U, A = Xe Xt^T U, W = Xt^T U.
// Banded ridge scales band b of the features by sqrt(gamma_b) (lambda_b = lambda / gamma_b): the
// band-independent Gram parts are computed once per split and recombined per candidate gamma.
// Eigenvalues below 4 sqrt(dim) eps max are dropped (numerically null directions, as a pseudo-inverse
// does); this also shrinks the products for rank-deficient features.
#pragma once

#include <cstdint>
#include <vector>

#include "fit/matrix.h"

namespace deepvox::fit {

// Features of one split, ready for the solver.
template <typename T>
struct SplitDesign {
  Mat<T> train;          // n_t x p, centred by the training mean when fitting an intercept
  Mat<T> eval;           // n_e x p, with the same centring and scaling
  std::vector<T> shift;  // p: the training mean subtracted (zeros without intercept)
  std::vector<T> scale;  // p: the extra per-split scale divided out (ones unless z-scoring per fold)
};

// Builds a split from X (rows = stimuli) and the row lists of its training and evaluation sets.
// zscore_split divides by the split's training standard deviation (ddof 0; 1 where it is 0).
template <typename T>
SplitDesign<T> make_split(const Mat<T>& x, const std::vector<std::int64_t>& train_rows,
                          const std::vector<std::int64_t>& eval_rows, bool center, bool zscore_split);

// Band-independent Gram products of one split.
template <typename T>
struct SplitGram {
  bool kernel = false;          // true: n_t x n_t kernel form, false: p x p primal form
  Mat<T> primal;                // p x p  Xt^T Xt
  std::vector<Mat<T>> kernels;  // per band: n_t x n_t  Xt_b Xt_b^T
  std::vector<Mat<T>> cross;    // per band: n_e x n_t  Xe_b Xt_b^T
};

// kernel form exactly when p >= n_t (the rule); band_offset has B+1 column offsets.
bool use_kernel_form(std::int64_t n_train, std::int64_t p);

template <typename T>
SplitGram<T> compute_gram(const SplitDesign<T>& d, const std::vector<std::int64_t>& band_offset, bool banded);

// The eigenbasis of one split for one vector of band weights gamma (size B; {1} for plain ridge).
template <typename T>
struct Basis {
  std::vector<T> s;          // r kept eigenvalues
  Mat<T> M;                  // n_t x r
  Mat<T> A;                  // n_e x r
  Mat<T> W;                  // p x r (only when weights are wanted)
  std::int64_t dropped = 0;  // eigenvalues dropped as numerically zero
  std::int64_t rank() const { return static_cast<std::int64_t>(s.size()); }
};

template <typename T>
Basis<T> decompose(const SplitGram<T>& g, const SplitDesign<T>& d,
                   const std::vector<std::int64_t>& band_offset, const std::vector<double>& gamma,
                   bool want_weights);

// Evaluation-row predictions for every lambda of a grid, for blocks of voxels.
//   hat form:      P = H Yc, H = [A (S + l)^-1 M^T]_l stacked    (L n_e x n_t): 2 L n_e n_t per voxel
//   factored form: P = A_all (M^T Yc), A_all = [A (S + l)^-1]_l  (L n_e x r):   2 r (n_t + L n_e)
// The cheaper one is chosen from the shapes. It owns its matrices, so one rank can compute it and
// broadcast its parts to the others.
template <typename T>
class LambdaPredictor {
 public:
  struct Parts {
    bool hat = false;
    std::int64_t n_e = 0, n_t = 0;
    Mat<T> stacked;  // H (hat) or A_all (factored)
    Mat<T> m;        // factored: M (n_t x r); empty for the hat form
  };
  LambdaPredictor() = default;
  LambdaPredictor(const Basis<T>& basis, const std::vector<double>& lambdas);
  explicit LambdaPredictor(Parts parts) : p_(std::move(parts)) {}
  // Yc: n_t x b (row stride ldy), centred training responses. P: (L * n_e) x b, lambda-major rows.
  void predict(const T* yc, std::int64_t ldy, std::int64_t b, Mat<T>& p) const;
  bool hat_form() const { return p_.hat; }
  const Parts& parts() const { return p_; }
  Parts& parts() { return p_; }

 private:
  Parts p_;
  mutable Mat<T> projected_;  // factored: M^T Yc (scratch)
};

// Refit of a block of voxels, each with its own lambda: c = (S + l_j)^-1 M^T y_j, then
// weights = W c (p x b, skipped when weights is null) and eval predictions = A c (n_e x b).
template <typename T>
void refit_block(const Basis<T>& basis, const T* yc, std::int64_t ldy, std::int64_t b, const double* lambda,
                 T* weights, T* eval_pred);

}  // namespace deepvox::fit
