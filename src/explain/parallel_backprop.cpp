#include "explain/parallel_backprop.h"

#include <ATen/ATen.h>

namespace deepvox::explain {
namespace {

// Standardized features z(x) of a batch in 0..255: [B, P].
at::Tensor standardized(const extract::FeatureModel& model, const at::Tensor& x, const at::Tensor& mean,
                        const at::Tensor& scale) {
  return (model.features(model.normalize(x)) - mean) / scale;
}

// For each image b of the batch, the pixel projection of d(v_b . z(x_b)) / dx_b, summed over channels: [B, S,
// S].
at::Tensor project(const extract::FeatureModel& model, const at::Tensor& x, const at::Tensor& v,
                   const at::Tensor& mean, const at::Tensor& scale, const PixelProjection& p) {
  const at::Tensor base = at::full_like(x, p.baseline_grey);
  const at::Tensor delta = x - base;
  auto gradient_at = [&](const at::Tensor& point) {
    at::Tensor leaf = point.detach().requires_grad_(true);
    (standardized(model, leaf, mean, scale) * v).sum().backward();
    return leaf.grad();
  };
  if (!p.integrated_gradients) return (gradient_at(x) * delta).sum(1).detach();
  at::Tensor total = at::zeros_like(x);
  for (std::int64_t k = 0; k < p.steps; ++k) {
    const double alpha = (static_cast<double>(k) + 0.5) / static_cast<double>(p.steps);
    total += gradient_at(base + alpha * delta);
  }
  return (total / static_cast<double>(p.steps) * delta).sum(1).detach();
}

}  // namespace

PairMaps parallel_backprop(const extract::FeatureModel& model, const at::Tensor& image,
                           const at::Tensor& reference, const at::Tensor& w, const at::Tensor& mean,
                           const at::Tensor& scale, const PixelProjection& projection, bool plain) {
  at::Tensor pair = at::stack({image, reference});
  at::Tensor z;
  {
    at::NoGradGuard no_grad;
    z = standardized(model, pair, mean, scale);
  }
  // The weighted Hadamard product of the two images' contributions.
  const at::Tensor c = z * w;
  at::Tensor shared = c[0].clamp_min(0) * c[1].clamp_min(0);
  const double top = shared.max().item<double>();
  if (top > 0) shared = shared / top;
  PairMaps out;
  out.shared_dims = (shared > 0).sum().item<std::int64_t>();
  const at::Tensor v_parallel = (shared * w).expand({2, w.size(0)});
  at::Tensor batch = pair, v = v_parallel;
  if (plain) {
    batch = at::cat({pair, pair});
    v = at::cat({v_parallel, w.expand({2, w.size(0)})});
  }
  const at::Tensor maps = project(model, batch, v.contiguous(), mean, scale, projection).to(at::kCPU);
  out.image = maps[0];
  out.reference = maps[1];
  if (plain) {
    out.plain_image = maps[2];
    out.plain_reference = maps[3];
  }
  return out;
}

}  // namespace deepvox::explain
