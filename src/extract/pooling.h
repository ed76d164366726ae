// Adaptive downsampling of one tapped layer (seed 000; decisions.md "Extract"):
// a C x H x W map is pooled to the largest h x w grid keeping the aspect ratio with C*h*w <= max_features;
// if C alone exceeds it, it is pooled to 1 x 1 and then randomly projected (seeded Gaussian) to
// max_features. Flat [D] layers pass through, or through the projection when D > max_features.
// Pooling is differentiable (maximize and explain backpropagate through it).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deepvox::extract {

struct LayerPlan {
  std::string layer;
  std::vector<std::int64_t> source_shape;  // (C, H, W) or (D)
  std::vector<std::int64_t> pooled_shape;  // (C, h, w) or (D) before any projection
  std::string pooling;                     // "none" | "adaptive_avg" | "adaptive_max", "+projection" when projected
  std::int64_t out_dim = 0;                // features stored per image
  std::int64_t projection_seed = 0;        // used when projected
  at::Tensor projection;                   // [in_dim, out_dim] when projected, else undefined
};

// Plans the pooling of one layer from its per-image activation shape.
LayerPlan plan_layer(const std::string& layer, const std::vector<std::int64_t>& source_shape,
                     std::int64_t max_features, const std::string& method, std::int64_t projection_seed);

// Applies the plan to a batch of activations ([N, C, H, W] or [N, D]); returns [N, out_dim] float32.
at::Tensor apply_plan(const LayerPlan& plan, const at::Tensor& activations);

// The seeded Gaussian projection N(0, 1/out_dim), generated with std::mt19937_64 so any tool can rebuild it.
at::Tensor random_projection(std::int64_t in_dim, std::int64_t out_dim, std::int64_t seed);

}  // namespace deepvox::extract
