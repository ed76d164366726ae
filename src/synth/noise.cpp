#include "synth/noise.h"

#include <cmath>
#include <stdexcept>

#include "core/log.h"
#include "synth/random.h"

namespace deepvox::synth {

NoiseModel NoiseModel::iid(const std::vector<double>& residual_var, const std::vector<std::uint8_t>& valid) {
  NoiseModel m;
  m.n_voxels_ = static_cast<std::int64_t>(residual_var.size());
  std::vector<float> sigma(residual_var.size());
  for (size_t v = 0; v < sigma.size(); ++v)
    sigma[v] = valid[v] ? static_cast<float>(std::sqrt(residual_var[v])) : 0.0f;
  m.sigma_ = at::tensor(sigma, at::kFloat);
  return m;
}

NoiseModel NoiseModel::roi(const at::Tensor& residuals, const std::vector<double>& residual_var,
                           const std::vector<std::uint8_t>& valid,
                           const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois,
                           double shrinkage) {
  NoiseModel m = iid(residual_var, valid);
  std::vector<std::uint8_t> taken(valid.size(), 0);
  auto sigma = m.sigma_.accessor<float, 1>();
  for (const auto& [name, mask] : rois) {
    std::vector<std::int64_t> cols;
    for (size_t v = 0; v < mask.size(); ++v)
      if (mask[v] && valid[v] && !taken[v]) cols.push_back(static_cast<std::int64_t>(v));
    if (cols.size() < 2) continue;
    auto idx = at::tensor(cols, at::kLong);
    auto r = residuals.index_select(1, idx).to(at::kDouble);
    r = r - r.mean(0, true);
    auto cov = at::mm(r.t(), r) / static_cast<double>(std::max<std::int64_t>(1, residuals.size(0)));
    auto diag = cov.diagonal();
    cov = (1.0 - shrinkage) * cov + shrinkage * at::diag(diag);
    // A voxel without residual variance would make the factor singular: a tiny floor keeps it defined.
    const double floor = std::max(1e-12, 1e-9 * diag.max().item<double>());
    cov += floor * at::eye(cov.size(0), cov.options());
    auto chol = at::linalg_cholesky_ex(cov);
    if (std::get<1>(chol).item<int>() != 0)
      throw std::runtime_error("synth: the residual covariance of ROI " + name + " is not positive definite");
    m.factors_.emplace_back(idx, std::get<0>(chol).to(at::kFloat));
    for (auto c : cols) {
      taken[static_cast<size_t>(c)] = 1;
      sigma[c] = 0.0f;
    }
    log::info("synth: ROI {}: residual covariance of {} voxels from {} samples (shrinkage {})", name,
              cols.size(), residuals.size(0), shrinkage);
  }
  return m;
}

at::Tensor NoiseModel::sample(const std::vector<std::int64_t>& rows, std::int64_t reps,
                              std::uint64_t seed) const {
  const auto n = static_cast<std::int64_t>(rows.size()) * reps;
  at::Tensor z = at::empty({n, n_voxels_}, at::kFloat);
  auto zp = z.data_ptr<float>();
  for (size_t i = 0; i < rows.size(); ++i)
    for (std::int64_t r = 0; r < reps; ++r) {
      Rng rng(seed, {0x401eULL, static_cast<std::uint64_t>(rows[i]), static_cast<std::uint64_t>(r)});
      float* out = zp + (static_cast<std::int64_t>(i) * reps + r) * n_voxels_;
      for (std::int64_t v = 0; v < n_voxels_; ++v) out[v] = static_cast<float>(rng.normal());
    }
  at::Tensor noise = z * sigma_;
  for (const auto& [idx, factor] : factors_)
    noise.index_copy_(1, idx, at::mm(z.index_select(1, idx), factor.t()));
  return noise;
}

}  // namespace deepvox::synth
