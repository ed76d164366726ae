#include "fit/ridge_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fit/blas.h"

namespace deepvox::fit {
namespace {

// Band index of every feature column.
std::vector<std::int64_t> band_of_column(const std::vector<std::int64_t>& band_offset) {
  std::vector<std::int64_t> band(static_cast<size_t>(band_offset.back()));
  for (size_t b = 0; b + 1 < band_offset.size(); ++b)
    for (std::int64_t j = band_offset[b]; j < band_offset[b + 1]; ++j) band[static_cast<size_t>(j)] = b;
  return band;
}

bool is_plain(const std::vector<double>& gamma) { return gamma.size() == 1 && gamma[0] == 1.0; }

// Index of the first eigenvalue kept (ascending order): those above 4 sqrt(dim) eps * largest. The
// rounding of the Gram matrix and the eigensolver leave exactly-null directions (the centring, duplicate
// features) at about eps * largest; genuine small eigenvalues are computed to that absolute accuracy,
// so this keeps them (scipy's pinvh default, dim * eps, drops real components in float32).
template <typename T>
std::int64_t first_kept(const std::vector<T>& w) {
  if (w.empty()) return 0;
  const double largest = static_cast<double>(w.back());
  if (!(largest > 0)) return static_cast<std::int64_t>(w.size());
  const double tol =
      largest * 4.0 * std::sqrt(static_cast<double>(w.size())) * std::numeric_limits<T>::epsilon();
  std::int64_t k = 0;
  while (k < static_cast<std::int64_t>(w.size()) && !(static_cast<double>(w[static_cast<size_t>(k)]) > tol))
    ++k;
  return k;
}

}  // namespace

bool use_kernel_form(std::int64_t n_train, std::int64_t p) { return p >= n_train; }

template <typename T>
SplitDesign<T> make_split(const Mat<T>& x, const std::vector<std::int64_t>& train_rows,
                          const std::vector<std::int64_t>& eval_rows, bool center, bool zscore_split) {
  const std::int64_t p = x.cols;
  SplitDesign<T> d;
  d.train.resize(static_cast<std::int64_t>(train_rows.size()), p);
  d.eval.resize(static_cast<std::int64_t>(eval_rows.size()), p);
  for (size_t i = 0; i < train_rows.size(); ++i) std::copy_n(x.row(train_rows[i]), p, d.train.row(i));
  for (size_t i = 0; i < eval_rows.size(); ++i) std::copy_n(x.row(eval_rows[i]), p, d.eval.row(i));

  d.shift.assign(static_cast<size_t>(p), T(0));
  d.scale.assign(static_cast<size_t>(p), T(1));
  if (!center && !zscore_split) return d;
  std::vector<double> sum(static_cast<size_t>(p), 0.0), sq(static_cast<size_t>(p), 0.0);
  const double n = static_cast<double>(std::max<std::int64_t>(d.train.rows, 1));
  for (std::int64_t i = 0; i < d.train.rows; ++i) {
    const T* r = d.train.row(i);
    for (std::int64_t j = 0; j < p; ++j) sum[j] += r[j];
  }
  for (std::int64_t j = 0; j < p; ++j) sum[j] /= n;
  if (zscore_split) {
    for (std::int64_t i = 0; i < d.train.rows; ++i) {
      const T* r = d.train.row(i);
      for (std::int64_t j = 0; j < p; ++j) sq[j] += (r[j] - sum[j]) * (r[j] - sum[j]);
    }
    for (std::int64_t j = 0; j < p; ++j) {
      double sd = std::sqrt(sq[j] / n);
      d.scale[j] = static_cast<T>(sd > 0 ? sd : 1.0);
    }
  }
  // Z-scoring per fold implies centring with the fold's mean (as scikit-learn's StandardScaler does).
  if (center || zscore_split)
    for (std::int64_t j = 0; j < p; ++j) d.shift[j] = static_cast<T>(sum[j]);
  for (Mat<T>* m : {&d.train, &d.eval})
    for (std::int64_t i = 0; i < m->rows; ++i) {
      T* r = m->row(i);
      for (std::int64_t j = 0; j < p; ++j) r[j] = (r[j] - d.shift[j]) / d.scale[j];
    }
  return d;
}

template <typename T>
SplitGram<T> compute_gram(const SplitDesign<T>& d, const std::vector<std::int64_t>& band_offset,
                          bool banded) {
  const std::int64_t n_t = d.train.rows, n_e = d.eval.rows, p = d.train.cols;
  SplitGram<T> g;
  g.kernel = use_kernel_form(n_t, p);
  if (!g.kernel) {
    g.primal.resize(p, p);
    blas::gram<T>(true, p, n_t, d.train.data(), p, g.primal.data());
    return g;
  }
  // Kernel form: one kernel per band when banded (recombined per gamma), else one over all columns.
  std::vector<std::int64_t> offsets = banded ? band_offset : std::vector<std::int64_t>{0, p};
  for (size_t b = 0; b + 1 < offsets.size(); ++b) {
    const std::int64_t o = offsets[b], w = offsets[b + 1] - offsets[b];
    Mat<T> k(n_t, n_t), c(n_e, n_t);
    if (w > 0) {
      blas::gram<T>(false, n_t, w, d.train.data() + o, p, k.data());
      blas::gemm<T>(false, true, n_e, n_t, w, T(1), d.eval.data() + o, p, d.train.data() + o, p, T(0),
                    c.data(), n_t);
    }
    g.kernels.push_back(std::move(k));
    g.cross.push_back(std::move(c));
  }
  return g;
}

template <typename T>
Basis<T> decompose(const SplitGram<T>& g, const SplitDesign<T>& d,
                   const std::vector<std::int64_t>& band_offset, const std::vector<double>& gamma,
                   bool want_weights) {
  const std::int64_t n_t = d.train.rows, n_e = d.eval.rows, p = d.train.cols;
  const bool plain = is_plain(gamma);
  if (!plain && gamma.size() + 1 != band_offset.size())
    throw std::logic_error("fit: band weights do not match the bands");
  std::vector<std::int64_t> band = band_of_column(band_offset);
  auto root_gamma = [&](std::int64_t col) {
    return plain ? T(1)
                 : static_cast<T>(std::sqrt(gamma[static_cast<size_t>(band[static_cast<size_t>(col)])]));
  };

  Basis<T> out;
  if (!g.kernel) {
    Mat<T> e = g.primal;  // D G D, then eigenvectors in its rows
    if (!plain)
      for (std::int64_t i = 0; i < p; ++i)
        for (std::int64_t j = 0; j < p; ++j) e(i, j) *= root_gamma(i) * root_gamma(j);
    std::vector<T> w(static_cast<size_t>(p));
    blas::syevd<T>(p, e.data(), w.data());
    const std::int64_t k0 = first_kept(w), r = p - k0;
    out.dropped = k0;
    out.s.assign(w.begin() + k0, w.end());
    Mat<T> dv(p, r);  // D V: the weights basis
    for (std::int64_t k = 0; k < r; ++k) {
      const T* ev = e.row(k0 + k);
      for (std::int64_t i = 0; i < p; ++i) dv(i, k) = root_gamma(i) * ev[i];
    }
    out.M.resize(n_t, r);
    out.A.resize(n_e, r);
    blas::gemm<T>(false, false, n_t, r, p, T(1), d.train.data(), p, dv.data(), r, T(0), out.M.data(), r);
    blas::gemm<T>(false, false, n_e, r, p, T(1), d.eval.data(), p, dv.data(), r, T(0), out.A.data(), r);
    if (want_weights) out.W = std::move(dv);
    return out;
  }

  // Kernel form: K = sum_b gamma_b K_b.
  Mat<T> e(n_t, n_t), c(n_e, n_t);
  for (size_t b = 0; b < g.kernels.size(); ++b) {
    const T gb = plain ? T(1) : static_cast<T>(gamma[b]);
    if (gb == T(0)) continue;
    for (size_t i = 0; i < e.v.size(); ++i) e.v[i] += gb * g.kernels[b].v[i];
    for (size_t i = 0; i < c.v.size(); ++i) c.v[i] += gb * g.cross[b].v[i];
  }
  std::vector<T> w(static_cast<size_t>(n_t));
  blas::syevd<T>(n_t, e.data(), w.data());
  const std::int64_t k0 = first_kept(w), r = n_t - k0;
  out.dropped = k0;
  out.s.assign(w.begin() + k0, w.end());
  out.M.resize(n_t, r);
  for (std::int64_t k = 0; k < r; ++k) {
    const T* ev = e.row(k0 + k);
    for (std::int64_t i = 0; i < n_t; ++i) out.M(i, k) = ev[i];
  }
  out.A.resize(n_e, r);
  blas::gemm<T>(false, false, n_e, r, n_t, T(1), c.data(), n_t, out.M.data(), r, T(0), out.A.data(), r);
  if (want_weights) {
    // W = D^2 Xt^T U: the weights on the (unscaled) features.
    out.W.resize(p, r);
    blas::gemm<T>(true, false, p, r, n_t, T(1), d.train.data(), p, out.M.data(), r, T(0), out.W.data(), r);
    if (!plain)
      for (std::int64_t i = 0; i < p; ++i) {
        const T g2 = root_gamma(i) * root_gamma(i);
        T* row = out.W.row(i);
        for (std::int64_t k = 0; k < r; ++k) row[k] *= g2;
      }
  }
  return out;
}

template <typename T>
LambdaPredictor<T>::LambdaPredictor(const Basis<T>& basis, const std::vector<double>& lambdas) {
  const std::int64_t r = basis.rank(), L = static_cast<std::int64_t>(lambdas.size());
  p_.n_t = basis.M.rows;
  p_.n_e = basis.A.rows;
  const double hat_cost = static_cast<double>(L) * p_.n_e * p_.n_t;
  const double factored_cost = static_cast<double>(r) * p_.n_t + static_cast<double>(L) * p_.n_e * r;
  p_.hat = hat_cost <= factored_cost;
  // A (S + l)^-1 for one lambda at a time, so the hat form never holds all of A_all.
  Mat<T> a_l(p_.n_e, r);
  p_.stacked.resize(L * p_.n_e, p_.hat ? p_.n_t : r);
  for (std::int64_t l = 0; l < L; ++l) {
    T* out = p_.hat ? a_l.data() : p_.stacked.row(l * p_.n_e);
    for (std::int64_t i = 0; i < p_.n_e; ++i) {
      const T* a = basis.A.row(i);
      for (std::int64_t k = 0; k < r; ++k) out[i * r + k] = a[k] / (basis.s[k] + static_cast<T>(lambdas[l]));
    }
    if (p_.hat)
      blas::gemm<T>(false, true, p_.n_e, p_.n_t, r, T(1), a_l.data(), r, basis.M.data(), r, T(0),
                    p_.stacked.row(l * p_.n_e), p_.n_t);
  }
  if (!p_.hat) p_.m = basis.M;
}

template <typename T>
void LambdaPredictor<T>::predict(const T* yc, std::int64_t ldy, std::int64_t b, Mat<T>& p) const {
  if (p.rows != p_.stacked.rows || p.cols != b) p.resize(p_.stacked.rows, b);
  if (p_.hat) {
    blas::gemm<T>(false, false, p_.stacked.rows, b, p_.n_t, T(1), p_.stacked.data(), p_.n_t, yc, ldy, T(0),
                  p.data(), b);
    return;
  }
  const std::int64_t r = p_.m.cols;
  if (projected_.rows != r || projected_.cols != b) projected_.resize(r, b);
  blas::gemm<T>(true, false, r, b, p_.n_t, T(1), p_.m.data(), r, yc, ldy, T(0), projected_.data(), b);
  blas::gemm<T>(false, false, p_.stacked.rows, b, r, T(1), p_.stacked.data(), r, projected_.data(), b, T(0),
                p.data(), b);
}

template <typename T>
void refit_block(const Basis<T>& basis, const T* yc, std::int64_t ldy, std::int64_t b, const double* lambda,
                 T* weights, T* eval_pred) {
  const std::int64_t r = basis.rank(), n_t = basis.M.rows, n_e = basis.A.rows;
  Mat<T> c(r, b);
  blas::gemm<T>(true, false, r, b, n_t, T(1), basis.M.data(), r, yc, ldy, T(0), c.data(), b);
  for (std::int64_t k = 0; k < r; ++k) {
    T* row = c.row(k);
    for (std::int64_t j = 0; j < b; ++j) row[j] /= basis.s[k] + static_cast<T>(lambda[j]);
  }
  if (weights) {
    const std::int64_t p = basis.W.rows;
    if (r == 0) std::fill(weights, weights + p * b, T(0));
    blas::gemm<T>(false, false, p, b, r, T(1), basis.W.data(), r, c.data(), b, T(0), weights, b);
  }
  if (r == 0) std::fill(eval_pred, eval_pred + n_e * b, T(0));
  blas::gemm<T>(false, false, n_e, b, r, T(1), basis.A.data(), r, c.data(), b, T(0), eval_pred, b);
}

#define DEEPVOX_FIT_INSTANTIATE(T)                                                                      \
  template SplitDesign<T> make_split<T>(const Mat<T>&, const std::vector<std::int64_t>&,                \
                                        const std::vector<std::int64_t>&, bool, bool);                  \
  template SplitGram<T> compute_gram<T>(const SplitDesign<T>&, const std::vector<std::int64_t>&, bool); \
  template Basis<T> decompose<T>(const SplitGram<T>&, const SplitDesign<T>&,                            \
                                 const std::vector<std::int64_t>&, const std::vector<double>&, bool);   \
  template class LambdaPredictor<T>;                                                                    \
  template void refit_block<T>(const Basis<T>&, const T*, std::int64_t, std::int64_t, const double*, T*, T*);
DEEPVOX_FIT_INSTANTIATE(float)
DEEPVOX_FIT_INSTANTIATE(double)
#undef DEEPVOX_FIT_INSTANTIATE

}  // namespace deepvox::fit
