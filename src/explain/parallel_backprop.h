// Parallel backpropagation (Lappe et al., seed 003). For an out-of-category image x and its
// preferred-category reference y, with readout weights w and standardized features z(.):
//   contributions  c_x = w * z(x),  c_y = w * z(y)                      (per feature dimension)
//   shared weight  m = relu(c_x) * relu(c_y) / max(relu(c_x) * relu(c_y))   (the weighted Hadamard product)
//   heatmap of x   = projection of d( sum_d m_d w_d z_d(x) ) / dx,  and the same vector for y,
// so dimensions that drive the response in both images are boosted and the others suppressed. The plain
// single-image map (the baseline) backpropagates the response itself, d(w . z(x)) / dx.
// Projection to pixels: gradient x (input - grey), or integrated gradients from a grey image (midpoint
// Riemann sum with `steps` points; Sundararajan et al. 2017). Both sum over colour channels.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "extract/feature_model.h"

namespace deepvox::explain {

struct PixelProjection {
  bool integrated_gradients = false;
  std::int64_t steps = 16;
  double baseline_grey = 128;  // the reference image of the projection, in 0..255
};

struct PairMaps {
  at::Tensor image, reference;              // [S, S] parallel maps at the network's input size
  at::Tensor plain_image, plain_reference;  // [S, S] single-image maps (undefined when not asked)
  std::int64_t shared_dims = 0;             // dimensions with m > 0
};

// image, reference: float [3, S, S] in 0..255 at the model's input size. mean/scale/w: the model's P-vectors.
PairMaps parallel_backprop(const extract::FeatureModel& model, const at::Tensor& image,
                           const at::Tensor& reference, const at::Tensor& w, const at::Tensor& mean,
                           const at::Tensor& scale, const PixelProjection& projection, bool plain);

}  // namespace deepvox::explain
