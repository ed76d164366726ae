#include "decode/logreg.h"

#include <cmath>
#include <deque>
#include <stdexcept>

namespace deepvox::decode {
namespace {

struct Problem {
  const at::Tensor& x;  // [n, P]
  at::Tensor onehot;    // [n, K]
  std::int64_t p, k;
  double inv_n, reg;  // 1/n and 1/(C n)

  // Objective and gradient at theta = [W (P*K, row-major), b (K)].
  double eval(const at::Tensor& theta, at::Tensor& grad) const {
    auto w = theta.narrow(0, 0, p * k).view({p, k});
    auto b = theta.narrow(0, p * k, k);
    auto z = at::addmm(b, x, w);
    auto lse = z.logsumexp(1, true);
    double loss =
        ((lse - z) * onehot).sum().item<double>() * inv_n + 0.5 * reg * (w * w).sum().item<double>();
    auto residual = ((z - lse).exp() - onehot) * inv_n;  // softmax - onehot, scaled
    grad = at::empty_like(theta);
    grad.narrow(0, 0, p * k).view({p, k}).copy_(at::mm(x.t(), residual) + reg * w);
    grad.narrow(0, p * k, k).copy_(residual.sum(0));
    return loss;
  }
};

}  // namespace

LogRegModel fit_logreg(const at::Tensor& x, const std::vector<std::int64_t>& labels, std::int64_t classes,
                       const LogRegOptions& opt, const LogRegModel* warm) {
  const std::int64_t n = x.size(0), p = x.size(1), k = classes;
  if (static_cast<std::int64_t>(labels.size()) != n)
    throw std::invalid_argument("fit_logreg: one label per row");
  if (!(opt.C > 0)) throw std::invalid_argument("fit_logreg: C must be positive");
  auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor onehot = at::zeros({n, k}, opts);
  auto oh = onehot.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (labels[static_cast<size_t>(i)] < 0 || labels[static_cast<size_t>(i)] >= k)
      throw std::invalid_argument("fit_logreg: label out of range");
    oh[i][labels[static_cast<size_t>(i)]] = 1.0;
  }
  Problem prob{x, onehot, p, k, 1.0 / static_cast<double>(n), 1.0 / (opt.C * static_cast<double>(n))};

  at::Tensor theta = at::zeros({p * k + k}, opts);
  if (warm && warm->weights.defined()) {
    theta.narrow(0, 0, p * k).copy_(warm->weights.reshape({p * k}));
    theta.narrow(0, p * k, k).copy_(warm->intercept);
  }
  at::Tensor g;
  double f = prob.eval(theta, g);
  std::deque<std::pair<at::Tensor, at::Tensor>> history;  // (s, y) pairs, newest last
  constexpr size_t kHistory = 10;
  LogRegModel m;
  std::int64_t it = 0;
  for (; it < opt.max_iter; ++it) {
    if (g.abs().max().item<double>() < opt.tol) break;
    // Two-loop recursion: d = -H g.
    at::Tensor q = g.clone();
    std::vector<double> alpha(history.size()), rho(history.size());
    for (size_t j = history.size(); j-- > 0;) {
      rho[j] = 1.0 / at::dot(history[j].second, history[j].first).item<double>();
      alpha[j] = rho[j] * at::dot(history[j].first, q).item<double>();
      q -= alpha[j] * history[j].second;
    }
    double gamma = 1.0;
    if (!history.empty())
      gamma = at::dot(history.back().first, history.back().second).item<double>() /
              at::dot(history.back().second, history.back().second).item<double>();
    else
      gamma = std::min(1.0, 1.0 / g.abs().sum().item<double>());
    at::Tensor d = q * gamma;
    for (size_t j = 0; j < history.size(); ++j) {
      const double beta = rho[j] * at::dot(history[j].second, d).item<double>();
      d += (alpha[j] - beta) * history[j].first;
    }
    d = -d;
    double slope = at::dot(g, d).item<double>();
    if (slope >= 0) {  // not a descent direction (numerical trouble): restart from steepest descent
      history.clear();
      d = -g * std::min(1.0, 1.0 / g.abs().sum().item<double>());
      slope = at::dot(g, d).item<double>();
    }
    // Armijo backtracking from the unit step (L-BFGS steps are well scaled). Near the optimum the
    // decrease falls below the rounding of f, so a step within that rounding is accepted too: the
    // gradient test above, not f, decides convergence.
    const double f_noise = 1e-14 * (1.0 + std::fabs(f));
    double step = 1.0, f_new = 0;
    at::Tensor theta_new, g_new;
    bool accepted = false;
    for (int ls = 0; ls < 50; ++ls) {
      theta_new = theta + step * d;
      f_new = prob.eval(theta_new, g_new);
      if (std::isfinite(f_new) && f_new <= f + 1e-4 * step * slope + f_noise) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;  // no decrease possible at double precision
    at::Tensor s = theta_new - theta, y = g_new - g;
    const double sy = at::dot(s, y).item<double>();
    if (sy > 1e-12 * at::dot(y, y).item<double>() && sy > 0) {
      history.emplace_back(s, y);
      if (history.size() > kHistory) history.pop_front();
    }
    theta = theta_new;
    g = g_new;
    f = f_new;
    if (s.abs().max().item<double>() <= 1e-15 * (1.0 + theta.abs().max().item<double>())) {
      ++it;
      break;  // the step no longer moves theta
    }
  }
  m.converged = g.abs().max().item<double>() < opt.tol;
  m.weights = theta.narrow(0, 0, p * k).view({p, k}).clone();
  m.intercept = theta.narrow(0, p * k, k).clone();
  m.iterations = it;
  m.loss = f;
  return m;
}

at::Tensor decision_function(const LogRegModel& m, const at::Tensor& x) {
  return at::addmm(m.intercept, x, m.weights);
}

std::vector<std::int64_t> predict(const LogRegModel& m, const at::Tensor& x) {
  auto idx = decision_function(m, x).argmax(1).contiguous();
  return std::vector<std::int64_t>(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + idx.numel());
}

TemplateModel fit_templates(const at::Tensor& x, const std::vector<std::int64_t>& labels,
                            std::int64_t classes) {
  TemplateModel t;
  t.templates = at::zeros({classes, x.size(1)}, x.options());
  t.present.assign(static_cast<size_t>(classes), false);
  std::vector<std::int64_t> count(static_cast<size_t>(classes), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    t.templates[labels[i]] += x[static_cast<std::int64_t>(i)];
    ++count[static_cast<size_t>(labels[i])];
  }
  for (std::int64_t c = 0; c < classes; ++c) {
    if (!count[static_cast<size_t>(c)]) continue;
    t.present[static_cast<size_t>(c)] = true;
    auto row = t.templates[c] / static_cast<double>(count[static_cast<size_t>(c)]);
    row = row - row.mean();
    const double norm = row.norm().item<double>();
    t.templates[c] = norm > 0 ? row / norm : row;
  }
  return t;
}

std::vector<std::int64_t> predict(const TemplateModel& m, const at::Tensor& x) {
  auto xc = x - x.mean(1, true);
  auto norm = xc.norm(2, 1, true);
  xc = at::where(norm > 0, xc / norm, xc);
  auto r = at::mm(xc, m.templates.t());
  for (size_t c = 0; c < m.present.size(); ++c)
    if (!m.present[c]) r.select(1, static_cast<std::int64_t>(c)).fill_(-INFINITY);
  auto idx = r.argmax(1).contiguous();
  return std::vector<std::int64_t>(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + idx.numel());
}

}  // namespace deepvox::decode
