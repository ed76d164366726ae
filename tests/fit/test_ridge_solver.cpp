// The solver against a direct reference: (X^T X + Lambda)^-1 X^T y by Gaussian elimination, for the
// primal and the kernel form, plain and banded; hat and factored predictors agree.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fit/ridge_solver.h"

namespace deepvox::fit {
namespace {

Mat<double> random_mat(std::int64_t r, std::int64_t c, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  Mat<double> m(r, c);
  for (auto& v : m.v) v = n(rng);
  return m;
}

// Solves (X^T X + diag(pen)) w = X^T y for one column y, by Gaussian elimination with pivoting.
std::vector<double> direct_ridge(const Mat<double>& x, const std::vector<double>& y,
                                 const std::vector<double>& pen) {
  const std::int64_t n = x.rows, p = x.cols;
  std::vector<double> a(static_cast<size_t>(p * (p + 1)), 0.0);
  for (std::int64_t i = 0; i < p; ++i) {
    for (std::int64_t j = 0; j < p; ++j)
      for (std::int64_t k = 0; k < n; ++k) a[i * (p + 1) + j] += x(k, i) * x(k, j);
    a[i * (p + 1) + i] += pen[i];
    for (std::int64_t k = 0; k < n; ++k) a[i * (p + 1) + p] += x(k, i) * y[k];
  }
  for (std::int64_t c = 0; c < p; ++c) {
    std::int64_t piv = c;
    for (std::int64_t r = c + 1; r < p; ++r)
      if (std::abs(a[r * (p + 1) + c]) > std::abs(a[piv * (p + 1) + c])) piv = r;
    for (std::int64_t j = 0; j <= p; ++j) std::swap(a[c * (p + 1) + j], a[piv * (p + 1) + j]);
    for (std::int64_t r = 0; r < p; ++r) {
      if (r == c) continue;
      const double f = a[r * (p + 1) + c] / a[c * (p + 1) + c];
      for (std::int64_t j = c; j <= p; ++j) a[r * (p + 1) + j] -= f * a[c * (p + 1) + j];
    }
  }
  std::vector<double> w(static_cast<size_t>(p));
  for (std::int64_t i = 0; i < p; ++i) w[i] = a[i * (p + 1) + p] / a[i * (p + 1) + i];
  return w;
}

std::vector<std::int64_t> range(std::int64_t a, std::int64_t b) {
  std::vector<std::int64_t> v;
  for (auto i = a; i < b; ++i) v.push_back(i);
  return v;
}

// Weights of the solver vs the direct solve, for n training rows and p features in two bands.
void check_against_direct(std::int64_t n, std::int64_t p, const std::vector<double>& gamma) {
  std::mt19937_64 rng(n * 1000 + p);
  const std::int64_t n_eval = 7, b = 5;
  Mat<double> x = random_mat(n + n_eval, p, rng), y = random_mat(n, b, rng);
  const std::vector<std::int64_t> bands = {0, p / 3, p};
  const auto split = make_split(x, range(0, n), range(n, n + n_eval), true, false);
  const bool banded = gamma.size() > 1;
  const auto gram = compute_gram(split, bands, banded);
  EXPECT_EQ(gram.kernel, p >= n);
  const auto basis = decompose(gram, split, bands, gamma, true);
  // Centred y (the solver expects it, as fit does).
  for (std::int64_t j = 0; j < b; ++j) {
    double m = 0;
    for (std::int64_t i = 0; i < n; ++i) m += y(i, j);
    for (std::int64_t i = 0; i < n; ++i) y(i, j) -= m / n;
  }
  const std::vector<double> lambda = {0.3, 2.0, 17.0, 150.0, 1e4};
  Mat<double> w(p, b), pred(n_eval, b);
  refit_block(basis, y.data(), b, b, lambda.data(), w.data(), pred.data());
  for (std::int64_t j = 0; j < b; ++j) {
    std::vector<double> pen(static_cast<size_t>(p)), col(static_cast<size_t>(n));
    for (std::int64_t i = 0; i < p; ++i) pen[i] = lambda[j] / (banded ? gamma[i < bands[1] ? 0 : 1] : 1.0);
    for (std::int64_t i = 0; i < n; ++i) col[i] = y(i, j);
    const auto ref = direct_ridge(split.train, col, pen);
    double maxref = 0, maxdiff = 0;
    for (std::int64_t i = 0; i < p; ++i) {
      maxref = std::max(maxref, std::abs(ref[i]));
      maxdiff = std::max(maxdiff, std::abs(ref[i] - w(i, j)));
    }
    EXPECT_LT(maxdiff / maxref, 1e-9) << "n " << n << " p " << p << " lambda " << lambda[j];
    // Eval predictions are the eval rows times the weights.
    for (std::int64_t e = 0; e < n_eval; ++e) {
      double s = 0;
      for (std::int64_t i = 0; i < p; ++i) s += split.eval(e, i) * ref[i];
      EXPECT_NEAR(pred(e, j), s, 1e-9 * (1 + std::abs(s)));
    }
  }
}

TEST(RidgeSolver, PrimalMatchesDirectSolve) { check_against_direct(40, 12, {1.0}); }
TEST(RidgeSolver, KernelMatchesDirectSolve) { check_against_direct(15, 30, {1.0}); }
TEST(RidgeSolver, BandedPrimalMatchesDirectSolve) { check_against_direct(40, 12, {0.2, 0.8}); }
TEST(RidgeSolver, BandedKernelMatchesDirectSolve) { check_against_direct(15, 30, {0.7, 0.3}); }

TEST(RidgeSolver, HatAndFactoredPredictorsAgree) {
  std::mt19937_64 rng(11);
  for (std::int64_t p : {6, 50}) {  // primal with few features (factored) and kernel (hat)
    Mat<double> x = random_mat(30, p, rng), y = random_mat(24, 9, rng);
    const auto split = make_split(x, range(0, 24), range(24, 30), true, false);
    const auto basis = decompose(compute_gram(split, {0, p}, false), split, {0, p}, {1.0}, false);
    const std::vector<double> lambdas = {0.1, 1, 10};
    LambdaPredictor<double> pred(basis, lambdas);
    Mat<double> all;
    pred.predict(y.data(), 9, 9, all);
    ASSERT_EQ(all.rows, 3 * 6);
    for (size_t l = 0; l < lambdas.size(); ++l) {
      Mat<double> w(p, 9), direct(6, 9);
      std::vector<double> lam(9, lambdas[l]);
      refit_block(basis, y.data(), 9, 9, lam.data(), w.data(), direct.data());
      for (std::int64_t i = 0; i < 6; ++i)
        for (std::int64_t j = 0; j < 9; ++j) EXPECT_NEAR(all(l * 6 + i, j), direct(i, j), 1e-10);
    }
  }
}

TEST(RidgeSolver, RankDeficientFeaturesDropNullDirections) {
  std::mt19937_64 rng(12);
  Mat<double> base = random_mat(40, 5, rng), x(40, 10);
  for (std::int64_t i = 0; i < 40; ++i)
    for (std::int64_t j = 0; j < 10; ++j) x(i, j) = base(i, j % 5);  // every column twice
  const auto split = make_split(x, range(0, 30), range(30, 40), true, false);
  const auto basis = decompose(compute_gram(split, {0, 10}, false), split, {0, 10}, {1.0}, true);
  EXPECT_EQ(basis.rank(), 5);
  EXPECT_EQ(basis.dropped, 5);
}

TEST(RidgeSolver, FloatAgreesWithDouble) {
  std::mt19937_64 rng(13);
  Mat<double> x = random_mat(60, 20, rng), y = random_mat(50, 4, rng);
  Mat<float> xf(60, 20), yf(50, 4);
  for (size_t i = 0; i < x.v.size(); ++i) xf.v[i] = static_cast<float>(x.v[i]);
  for (size_t i = 0; i < y.v.size(); ++i) yf.v[i] = static_cast<float>(y.v[i]);
  auto run = [](const auto& xx, const auto& yy, auto* w, auto* pred) {
    const auto split = make_split(xx, range(0, 50), range(50, 60), true, false);
    const auto basis = decompose(compute_gram(split, {0, 20}, false), split, {0, 20}, {1.0}, true);
    const std::vector<double> lam(4, 5.0);
    refit_block(basis, yy.data(), 4, 4, lam.data(), w, pred);
  };
  std::vector<double> wd(80), pd(40);
  std::vector<float> wf(80), pf(40);
  run(x, y, wd.data(), pd.data());
  run(xf, yf, wf.data(), pf.data());
  double maxref = 0, maxdiff = 0;
  for (size_t i = 0; i < wd.size(); ++i) {
    maxref = std::max(maxref, std::abs(wd[i]));
    maxdiff = std::max(maxdiff, std::abs(wd[i] - wf[i]));
  }
  EXPECT_LT(maxdiff / maxref, 1e-5);
}

}  // namespace
}  // namespace deepvox::fit
