#include "reconstruct/image_tensor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "io/manifest.h"

namespace deepvox::reconstruct {

at::Tensor image_tensor(const image::RgbImage& img, int size) {
  image::RgbImage sq = (img.width == size && img.height == size) ? img : image::resize_center_crop(img, size);
  at::Tensor hwc = at::from_blob(sq.pixels.data(), {size, size, 3}, at::kByte);
  return hwc.permute({2, 0, 1}).to(at::kFloat).contiguous();
}

at::Tensor load_images(const StimulusSet& set, const std::vector<std::int64_t>& rows, int size) {
  at::Tensor out = at::empty({static_cast<std::int64_t>(rows.size()), 3, size, size}, at::kFloat);
  for (size_t i = 0; i < rows.size(); ++i)
    out[static_cast<std::int64_t>(i)].copy_(image_tensor(set.load(rows[i]), size));
  return out;
}

image::RgbImage tensor_image(const at::Tensor& chw) {
  if (chw.dim() != 3 || chw.size(0) != 3) throw std::invalid_argument("tensor_image: expected [3,H,W]");
  at::Tensor hwc =
      chw.detach().to(at::kCPU).clamp(0, 255).round().to(at::kByte).permute({1, 2, 0}).contiguous();
  image::RgbImage img;
  img.height = static_cast<int>(chw.size(1));
  img.width = static_cast<int>(chw.size(2));
  img.pixels.assign(hwc.data_ptr<std::uint8_t>(), hwc.data_ptr<std::uint8_t>() + hwc.numel());
  return img;
}

std::vector<std::uint8_t> tensor_bytes(const at::Tensor& nchw) {
  at::Tensor nhwc =
      nchw.detach().to(at::kCPU).clamp(0, 255).round().to(at::kByte).permute({0, 2, 3, 1}).contiguous();
  return std::vector<std::uint8_t>(nhwc.data_ptr<std::uint8_t>(),
                                   nhwc.data_ptr<std::uint8_t>() + nhwc.numel());
}

at::Tensor resize_square(const at::Tensor& x, int size) {
  if (x.size(2) == size && x.size(3) == size) return x;
  if (x.size(2) > size || x.size(3) > size) return at::adaptive_avg_pool2d(x, {size, size});
  return at::upsample_bilinear2d(x, {size, size}, /*align_corners=*/false);
}

at::Tensor gaussian_blur(const at::Tensor& x, double sigma) {
  if (sigma <= 0) return x;
  const std::int64_t max_radius = std::min(x.size(2), x.size(3)) - 1;
  const std::int64_t radius = std::min<std::int64_t>(std::max(1.0, std::ceil(3 * sigma)), max_radius);
  if (radius < 1) return x;
  std::vector<float> k(static_cast<size_t>(2 * radius + 1));
  double sum = 0;
  for (std::int64_t i = -radius; i <= radius; ++i)
    sum += k[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (auto& v : k) v = static_cast<float>(v / sum);
  const std::int64_t c = x.size(1), n = 2 * radius + 1;
  at::Tensor kernel = at::tensor(k, x.options());
  at::Tensor kx = kernel.view({1, 1, 1, n}).expand({c, 1, 1, n}).contiguous();
  at::Tensor ky = kernel.view({1, 1, n, 1}).expand({c, 1, n, 1}).contiguous();
  at::Tensor padded = at::reflection_pad2d(x, {radius, radius, radius, radius});
  const std::vector<std::int64_t> one{1, 1}, zero{0, 0};
  at::Tensor h = at::conv2d(padded, kx, c10::nullopt, one, zero, one, c);
  return at::conv2d(h, ky, c10::nullopt, one, zero, one, c);
}

at::Tensor roll2d(const at::Tensor& x, std::int64_t dy, std::int64_t dx) {
  if (dy == 0 && dx == 0) return x;
  return at::roll(x, {dy, dx}, {2, 3});
}

image::RgbImage heat_overlay(const image::RgbImage& img, const at::Tensor& heat) {
  at::Tensor h = heat.detach().to(at::kCPU).to(at::kFloat).contiguous();
  if (h.dim() != 2 || h.size(0) != img.height || h.size(1) != img.width)
    throw std::invalid_argument("heat_overlay: heatmap and image sizes differ");
  h = h.clamp_min(0);
  const float top = h.max().item<float>();
  if (top > 0) h = h / top;
  const float* hv = h.data_ptr<float>();
  image::RgbImage out = img;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(img.width) * img.height; ++i) {
    const std::uint8_t* p = img.pixels.data() + 3 * i;
    const float grey = 0.6f * (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]);
    const float v = hv[i];
    // "Hot" scale: black -> red -> yellow -> white as the map rises; blended in by its strength.
    const float col[3] = {std::clamp(3 * v, 0.f, 1.f), std::clamp(3 * v - 1, 0.f, 1.f),
                          std::clamp(3 * v - 2, 0.f, 1.f)};
    const float a = std::min(1.f, 1.5f * v);
    for (int c = 0; c < 3; ++c)
      out.pixels[3 * i + c] = static_cast<std::uint8_t>(std::lround((1 - a) * grey + a * 255.f * col[c]));
  }
  return out;
}

void write_grid(const std::string& path, const std::vector<std::vector<image::RgbImage>>& rows, int gap) {
  int cell_w = 0, cell_h = 0, cols = 0;
  for (const auto& r : rows) {
    cols = std::max(cols, static_cast<int>(r.size()));
    for (const auto& im : r) {
      cell_w = std::max(cell_w, im.width);
      cell_h = std::max(cell_h, im.height);
    }
  }
  if (cols == 0 || cell_w == 0) throw std::invalid_argument("write_grid: nothing to draw for " + path);
  image::RgbImage grid;
  grid.width = cols * cell_w + (cols + 1) * gap;
  grid.height = static_cast<int>(rows.size()) * cell_h + (static_cast<int>(rows.size()) + 1) * gap;
  grid.pixels.assign(static_cast<size_t>(grid.width) * grid.height * 3, 255);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const auto& im = rows[r][c];
      const int x0 = gap + static_cast<int>(c) * (cell_w + gap),
                y0 = gap + static_cast<int>(r) * (cell_h + gap);
      for (int y = 0; y < im.height; ++y) std::copy_n(im.row(y), im.width * 3, grid.row(y0 + y) + 3 * x0);
    }
  image::write_image_file(path, grid);
}

}  // namespace deepvox::reconstruct
