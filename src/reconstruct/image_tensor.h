// Images as tensors and back, resizing inside the autograd graph, blur, and PNG panels: the small image
// toolkit reconstruct and explain share. Tensors hold RGB in 0..255 as float [N,3,H,W] unless noted.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace deepvox {
class StimulusSet;
}

namespace deepvox::reconstruct {

// Shorter side to `size` and centre crop (extract's preprocessing), as float [3,size,size] in 0..255.
at::Tensor image_tensor(const image::RgbImage& img, int size);
// Stimuli `rows` of a set, each through image_tensor: float [rows, 3, size, size] in 0..255.
at::Tensor load_images(const StimulusSet& set, const std::vector<std::int64_t>& rows, int size);
// float [3,H,W] (any range; clamped to 0..255 and rounded) -> 8-bit RGB.
image::RgbImage tensor_image(const at::Tensor& chw);
// float [N,3,H,W] -> uint8 [N,H,W,3] bytes (the layout of /images in reconstruct.h5 and maximize.h5).
std::vector<std::uint8_t> tensor_bytes(const at::Tensor& nchw);

// Differentiable resize of [N,C,H,W] to size x size: bilinear when enlarging, area averaging when shrinking
// (so thin details are not aliased away).
at::Tensor resize_square(const at::Tensor& x, int size);

// Separable Gaussian blur of [N,C,H,W] with reflected borders; sigma <= 0 returns x.
at::Tensor gaussian_blur(const at::Tensor& x, double sigma);

// Circular shift of [N,C,H,W] by (dy, dx) pixels (differentiable, so gradients come back unshifted).
at::Tensor roll2d(const at::Tensor& x, std::int64_t dy, std::int64_t dx);

// A heatmap [H,W] shown over an image: the image in grey, the map's positive part in a hot colour scale
// (normalized by its maximum). Both must have the same size.
image::RgbImage heat_overlay(const image::RgbImage& img, const at::Tensor& heat);

// Pastes images (all the same size) into a grid of `rows` rows separated by a white gap, and writes it as
// PNG. Missing cells (shorter rows) stay white.
void write_grid(const std::string& path, const std::vector<std::vector<image::RgbImage>>& rows, int gap = 4);

}  // namespace deepvox::reconstruct
