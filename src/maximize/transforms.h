// What the network sees of an optimized image, and the image penalties.
//
// Robustness transforms (Olah et al. 2017, "Feature Visualization", Distill, "transformation robustness";
// Lucid's standard_transforms: pad, jitter, random scale, random rotation) are drawn per image and per
// step from the image's own seeded stream, so an image sees the same views whatever chunk or rank
// optimizes it. All four act in one differentiable affine resampling (affine_grid + grid_sample), which
// also resizes to the network input ("image size independent of the network input"): the view spans the
// image plus a grey border of `pad` pixels, zoomed by s, rotated by a, shifted by (dx, dy) pixels.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "maximize/options.h"

namespace deepvox::maximize {

struct View {
  double scale = 1, angle = 0, dx = 0, dy = 0;  // zoom, radians, image pixels
};

// One image's view at one step, from its stream (options.h stream_seed).
View draw_view(const Options& o, std::uint64_t stream);

// Images [B,3,S,S] in 0..1 seen through per-image views, at out_size x out_size (grey outside).
at::Tensor apply_views(const at::Tensor& rgb01, const std::vector<View>& views, std::int64_t pad,
                       std::int64_t out_size);
// Plain resize to out_size (bilinear; antialiased when shrinking): the clean view used for scoring.
at::Tensor resize_to(const at::Tensor& rgb01, std::int64_t out_size);

// Per-image penalties [B] of images in 0..1.
at::Tensor total_variation(const at::Tensor& x);  // mean |horizontal| + mean |vertical| neighbour difference
at::Tensor l2_from_grey(const at::Tensor& x);     // mean (x - 0.5)^2
at::Tensor blur_distance(const at::Tensor& x);    // mean (x - stop_gradient(3x3 box blur of x))^2

}  // namespace deepvox::maximize
