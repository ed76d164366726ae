#include "extract/pooling.h"

#include <cmath>
#include <random>
#include <stdexcept>

namespace deepvox::extract {

LayerPlan plan_layer(const std::string& layer, const std::vector<std::int64_t>& source_shape,
                     std::int64_t max_features, const std::string& method, std::int64_t projection_seed) {
  if (max_features <= 0) throw std::invalid_argument("extract.max_features must be positive");
  if (method != "avg" && method != "max")
    throw std::invalid_argument("extract.pooling must be avg or max, got '" + method + "'");
  LayerPlan p;
  p.layer = layer;
  p.source_shape = source_shape;
  p.projection_seed = projection_seed;
  std::int64_t in_dim = 1;
  if (source_shape.size() == 3) {
    const std::int64_t c = source_shape[0], h = source_shape[1], w = source_shape[2];
    if (c * h * w <= max_features) {
      p.pooled_shape = source_shape;
      p.pooling = "none";
    } else {
      // Largest grid with the map's aspect ratio: scan heights downwards, width follows the ratio.
      std::int64_t ph = 1, pw = 1;
      for (std::int64_t hh = h; hh >= 1; --hh) {
        std::int64_t ww = std::max<std::int64_t>(1, std::llround(static_cast<double>(hh) * w / h));
        ww = std::min(ww, w);
        if (c * hh * ww <= max_features) {
          ph = hh;
          pw = ww;
          break;
        }
      }
      p.pooled_shape = {c, ph, pw};
      p.pooling = method == "avg" ? "adaptive_avg" : "adaptive_max";
    }
    in_dim = p.pooled_shape[0] * p.pooled_shape[1] * p.pooled_shape[2];
  } else if (source_shape.size() == 1) {
    p.pooled_shape = source_shape;
    p.pooling = "none";
    in_dim = source_shape[0];
  } else {
    throw std::invalid_argument("layer " + layer + ": cannot pool an activation of rank " +
                                std::to_string(source_shape.size()) + " (expected C,H,W or D)");
  }
  p.out_dim = in_dim;
  if (in_dim > max_features) {
    p.projection = random_projection(in_dim, max_features, projection_seed);
    p.pooling += "+projection";
    p.out_dim = max_features;
  }
  return p;
}

at::Tensor random_projection(std::int64_t in_dim, std::int64_t out_dim, std::int64_t seed) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(out_dim)));
  at::Tensor m = at::empty({in_dim, out_dim}, at::kFloat);
  float* d = m.data_ptr<float>();
  for (std::int64_t i = 0; i < in_dim * out_dim; ++i) d[i] = normal(rng);
  return m;
}

at::Tensor apply_plan(const LayerPlan& plan, const at::Tensor& a) {
  at::Tensor x = a;
  if (plan.source_shape.size() == 3) {
    if (x.dim() != 4) throw std::runtime_error("layer " + plan.layer + ": expected a 4-D activation");
    if (plan.pooling.rfind("adaptive_avg", 0) == 0) {
      x = at::adaptive_avg_pool2d(x, {plan.pooled_shape[1], plan.pooled_shape[2]});
    } else if (plan.pooling.rfind("adaptive_max", 0) == 0) {
      x = std::get<0>(at::adaptive_max_pool2d(x, {plan.pooled_shape[1], plan.pooled_shape[2]}));
    }
  }
  // C, H, W order, as torch.flatten does (contiguous() undoes a channels_last layout first).
  x = x.contiguous().reshape({x.size(0), -1});
  if (plan.projection.defined()) x = at::matmul(x, plan.projection.to(x.device()));
  return x.to(at::kFloat);
}

}  // namespace deepvox::extract
