// The decoder's classifiers against independent references (make_logreg_reference.py): scikit-learn's
// multinomial LogisticRegression at three C values (and the exact optimum of its objective), a numpy template
// classifier, scipy's binomial tail. Also the stratified folds and the z-scoring rules.
#include <gtest/gtest.h>

#include <cmath>

#include "decode/logreg.h"
#include "decode/runner.h"
#include "io/h5.h"
#include "synth/stats.h"

using namespace deepvox;

namespace {
std::string g_reference = DEEPVOX_LOGREG_REFERENCE;

at::Tensor tensor2(const h5::File& f, const std::string& name) {
  auto d = f.dataset(name);
  auto v = d.read_all<double>();
  return at::from_blob(v.data(), {d.rows(), d.cols()}, at::kDouble).clone();
}
}  // namespace

TEST(LogReg, MatchesScikitLearnMultinomial) {
  auto f = h5::File::open(g_reference, h5::Mode::Read);
  at::Tensor x = tensor2(f, "x"), x_test = tensor2(f, "x_test");
  auto y = f.dataset("y").read_all<std::int64_t>();
  for (int i = 0; i < 3; ++i) {
    const std::string g = "fit" + std::to_string(i);
    const double c = f.dataset(g + "/C").read_all<double>()[0];
    decode::LogRegModel m = decode::fit_logreg(x, y, 3, {c, 10000, 1e-10});
    EXPECT_TRUE(m.converged) << "C = " << c;
    // The optimum of scikit-learn's objective (its lbfgs solution polished, see the script) to 1e-6,
    // scikit-learn's own solution to its stopping accuracy, and the same predicted labels.
    at::Tensor optimum = tensor2(f, g + "/coef_optimum").t(), coef = tensor2(f, g + "/coef").t();  // [P, K]
    auto intercept = f.dataset(g + "/intercept_optimum").read_all<double>();
    const double scale = optimum.abs().max().item<double>();
    EXPECT_LE((m.weights - optimum).abs().max().item<double>(), 1e-6 * scale) << "C = " << c;
    EXPECT_LE((m.weights - coef).abs().max().item<double>(), 1e-3 * scale) << "C = " << c;
    for (int k = 0; k < 3; ++k)
      EXPECT_NEAR(m.intercept[k].item<double>(), intercept[k], 1e-6 * (1 + std::fabs(intercept[k])));
    EXPECT_EQ(decode::predict(m, x_test), f.dataset(g + "/predict").read_all<std::int64_t>()) << "C = " << c;
  }
}

TEST(LogReg, WarmStartReachesTheSameSolution) {
  auto f = h5::File::open(g_reference, h5::Mode::Read);
  at::Tensor x = tensor2(f, "x");
  auto y = f.dataset("y").read_all<std::int64_t>();
  auto cold = decode::fit_logreg(x, y, 3, {0.5, 10000, 1e-10});
  auto from = decode::fit_logreg(x, y, 3, {0.01, 10000, 1e-10});
  auto warm = decode::fit_logreg(x, y, 3, {0.5, 10000, 1e-10}, &from);
  EXPECT_LE((cold.weights - warm.weights).abs().max().item<double>(), 1e-6);
  EXPECT_LT(warm.iterations, cold.iterations + 5);
}

TEST(Templates, MatchNumpy) {
  auto f = h5::File::open(g_reference, h5::Mode::Read);
  at::Tensor x = tensor2(f, "x"), x_test = tensor2(f, "x_test");
  auto y = f.dataset("y").read_all<std::int64_t>();
  auto t = decode::fit_templates(x, y, 3);
  EXPECT_EQ(decode::predict(t, x_test), f.dataset("template_predict").read_all<std::int64_t>());
}

TEST(Stats, BinomialTailMatchesScipy) {
  auto f = h5::File::open(g_reference, h5::Mode::Read);
  auto cases = f.dataset("binom_cases").read_all<double>();
  auto sf = f.dataset("binom_sf").read_all<double>();
  for (size_t i = 0; i < sf.size(); ++i) {
    const double got =
        synth::binomial_upper_tail(static_cast<std::int64_t>(cases[3 * i]),
                                   static_cast<std::int64_t>(cases[3 * i + 1]), cases[3 * i + 2]);
    EXPECT_NEAR(got, sf[i], 1e-10 * sf[i] + 1e-300) << "case " << i;
  }
}

TEST(Folds, StratifiedRoundRobin) {
  std::vector<std::int64_t> labels = {0, 0, 1, 0, 1, 1, 2, 0, 2, 1};
  auto folds = decode::stratified_folds(labels, 3);
  EXPECT_EQ(folds, (std::vector<std::int64_t>{0, 1, 0, 2, 1, 2, 0, 0, 1, 0}));
}

TEST(Standardize, PerSetAndTrainStatistics) {
  at::Tensor a = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble).view({4, 1});
  at::Tensor b = at::tensor({10.0, 14.0}, at::kDouble).view({2, 1});
  at::Tensor a1 = a.clone(), b1 = b.clone();
  decode::standardize(a1, b1, true);
  EXPECT_NEAR(b1[0][0].item<double>(), -1.0, 1e-12);  // its own mean 12, sd 2
  at::Tensor a2 = a.clone(), b2 = b.clone();
  decode::standardize(a2, b2, false);
  EXPECT_NEAR(b2[0][0].item<double>(), (10.0 - 2.5) / std::sqrt(1.25), 1e-12);
  EXPECT_NEAR(a2.mean().item<double>(), 0.0, 1e-12);
}
