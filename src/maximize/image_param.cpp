#include "maximize/image_param.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace deepvox::maximize {
namespace {

// Lucid's color_correlation_svd_sqrt: square root of ImageNet's RGB covariance.
const float kColourSqrt[3][3] = {{0.26f, 0.09f, 0.02f}, {0.27f, 0.00f, -0.05f}, {0.27f, -0.09f, 0.03f}};
// Lucid divides its Fourier image by this so the initial images have a sensible contrast.
constexpr double kFourierDivisor = 4.0;

// numpy.fft.fftfreq(n) in cycles per sample.
std::vector<double> fftfreq(std::int64_t n) {
  std::vector<double> f(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    f[static_cast<size_t>(i)] = static_cast<double>(i < (n + 1) / 2 ? i : i - n) / n;
  return f;
}

}  // namespace

ImageParam::ImageParam(Parameterization kind, bool decorrelate, double decay_power, std::int64_t size,
                       at::Device device)
    : kind_(kind), decorrelate_(decorrelate), size_(size), device_(device) {
  const std::int64_t half = size / 2 + 1;
  auto fy = fftfreq(size), fx = fftfreq(size);
  std::vector<float> scale(static_cast<size_t>(size * half));
  for (std::int64_t y = 0; y < size; ++y)
    for (std::int64_t x = 0; x < half; ++x) {
      // rfft keeps the non-negative x frequencies; the Nyquist one of an even size is +0.5.
      const double fxv = x == size / 2 && size % 2 == 0 ? 0.5 : fx[static_cast<size_t>(x)];
      const double f = std::sqrt(fxv * fxv + fy[static_cast<size_t>(y)] * fy[static_cast<size_t>(y)]);
      scale[static_cast<size_t>(y * half + x)] =
          static_cast<float>(1.0 / std::pow(std::max(f, 1.0 / static_cast<double>(size)), decay_power));
    }
  spectrum_scale_ = at::tensor(scale).view({size, half, 1}).to(device);

  // Columns normalized by the largest column norm, as Lucid does.
  double max_norm = 0;
  for (int j = 0; j < 3; ++j) {
    double n = 0;
    for (int i = 0; i < 3; ++i) n += kColourSqrt[i][j] * kColourSqrt[i][j];
    max_norm = std::max(max_norm, std::sqrt(n));
  }
  std::vector<float> m(9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      m[static_cast<size_t>(i * 3 + j)] = static_cast<float>(kColourSqrt[i][j] / max_norm);
  colour_ = at::tensor(m).view({3, 3}).to(device);
  colour_inverse_ = at::linalg_inv(at::tensor(m, at::kDouble).view({3, 3})).to(at::kFloat).to(device);
}

std::vector<std::int64_t> ImageParam::shape(std::int64_t n) const {
  if (kind_ == Parameterization::Fourier) return {n, 3, size_, size_ / 2 + 1, 2};
  return {n, 3, size_, size_};
}

at::Tensor ImageParam::noise(const std::vector<std::uint64_t>& seeds, double sd) const {
  auto one = shape(1);
  std::vector<at::Tensor> parts;
  for (auto seed : seeds) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    parts.push_back(at::randn(one, gen, at::TensorOptions().dtype(at::kFloat)) * sd);
  }
  return at::cat(parts, 0).to(device_);
}

at::Tensor ImageParam::colour_mix(const at::Tensor& x, const at::Tensor& matrix) const {
  // out[b,i,h,w] = sum_j matrix[i,j] * x[b,j,h,w]
  return at::einsum("ij,bjhw->bihw", {matrix, x});
}

at::Tensor ImageParam::to_rgb(const at::Tensor& params) const {
  at::Tensor t;
  if (kind_ == Parameterization::Fourier) {
    auto spectrum = at::view_as_complex(params * spectrum_scale_);
    t = at::fft_irfft2(spectrum, at::IntArrayRef{size_, size_}, {-2, -1}, "ortho") / kFourierDivisor;
  } else {
    t = params;
  }
  if (decorrelate_) t = colour_mix(t, colour_);
  return at::sigmoid(t);
}

at::Tensor ImageParam::from_rgb(const at::Tensor& rgb01) const {
  at::Tensor t = at::logit(rgb01.to(device_).to(at::kFloat).clamp(1e-3, 1.0 - 1e-3));
  if (decorrelate_) t = colour_mix(t, colour_inverse_);
  if (kind_ == Parameterization::Pixel) return t.contiguous();
  auto spectrum = at::fft_rfft2(t * kFourierDivisor, c10::nullopt, {-2, -1}, "ortho");
  return (at::view_as_real(spectrum) / spectrum_scale_).contiguous();
}

}  // namespace deepvox::maximize
