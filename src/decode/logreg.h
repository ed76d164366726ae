// Multinomial logistic regression with an L2 penalty, scikit-learn's LogisticRegression(multinomial,
// lbfgs) objective: minimize 0.5 |W|^2 + C * sum_i log-loss_i, intercept unpenalized. Solved with
// L-BFGS (10 pairs, Armijo backtracking) in float64 from a given start: deterministic for a given
// thread count. The loss is divided by C n internally so the tolerance is scale-free.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace deepvox::decode {

struct LogRegOptions {
  double C = 1.0;
  std::int64_t max_iter = 500;
  double tol = 1e-6;  // stop when max |gradient of the mean loss| < tol
};

struct LogRegModel {
  at::Tensor weights;    // [P, K] float64
  at::Tensor intercept;  // [K] float64
  std::int64_t iterations = 0;
  bool converged = false;
  double loss = 0;  // the scaled objective at the solution
};

// x: [n, P] float64; labels in [0, K). warm: optional start (same P, K).
LogRegModel fit_logreg(const at::Tensor& x, const std::vector<std::int64_t>& labels, std::int64_t classes,
                       const LogRegOptions& opt, const LogRegModel* warm = nullptr);
at::Tensor decision_function(const LogRegModel& m, const at::Tensor& x);  // [n, K]
std::vector<std::int64_t> predict(const LogRegModel& m, const at::Tensor& x);

// Correlation-to-template classifier (the simple baseline): templates are the class means of the
// training patterns; a pattern goes to the class whose template it correlates with most (Pearson r
// over voxels). Classes without training samples are never predicted.
struct TemplateModel {
  at::Tensor templates;  // [K, P] float64, centred and unit-norm per row
  std::vector<bool> present;
};
TemplateModel fit_templates(const at::Tensor& x, const std::vector<std::int64_t>& labels,
                            std::int64_t classes);
std::vector<std::int64_t> predict(const TemplateModel& m, const at::Tensor& x);

}  // namespace deepvox::decode
