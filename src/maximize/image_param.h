// How an optimized image is parameterized (Olah, Mordvintsev & Schubert 2017, "Feature Visualization",
// Distill, doi:10.23915/distill.00007; the recipe of Lucid's param/spatial.py and param/color.py):
//   fourier  an rfft2 spectrum [B,3,S,S/2+1] (real and imaginary parts), amplitudes scaled by
//            1/max(f, 1/S)^decay_power so every frequency band learns at a similar rate, inverted with an
//            orthonormal irfft2 and divided by 4 (Lucid's constant);
//   pixel    the image itself [B,3,S,S] in the same pre-sigmoid units;
// then, optionally, a decorrelated colour basis (the square root of ImageNet's colour covariance,
// columns normalized to the largest norm), and a sigmoid into (0, 1).
// Zero parameters are mid-grey. Every map is differentiable; from_rgb() inverts to_rgb().
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "maximize/options.h"

namespace deepvox::maximize {

class ImageParam {
 public:
  ImageParam(Parameterization kind, bool decorrelate, double decay_power, std::int64_t size,
             at::Device device);

  // Parameter shape of a batch of n images.
  std::vector<std::int64_t> shape(std::int64_t n) const;
  // Seeded Gaussian parameters (sd each), one torch CPU generator per image, as torch.Generator would.
  at::Tensor noise(const std::vector<std::uint64_t>& seeds, double sd) const;
  // Parameters that reproduce images in [0, 1] ([B,3,S,S]; clamped away from 0 and 1 first).
  at::Tensor from_rgb(const at::Tensor& rgb01) const;
  // Parameters -> images [B,3,S,S] in (0, 1).
  at::Tensor to_rgb(const at::Tensor& params) const;
  std::int64_t size() const { return size_; }

 private:
  at::Tensor colour_mix(const at::Tensor& x, const at::Tensor& matrix) const;
  Parameterization kind_;
  bool decorrelate_;
  std::int64_t size_;
  at::Device device_;
  at::Tensor spectrum_scale_;  // [S, S/2+1, 1]
  at::Tensor colour_, colour_inverse_;
};

}  // namespace deepvox::maximize
