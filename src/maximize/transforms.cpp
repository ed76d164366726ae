#include "maximize/transforms.h"

#include <cmath>

namespace deepvox::maximize {
namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kGrey = 0.5;
}  // namespace

View draw_view(const Options& o, std::uint64_t stream) {
  View v;
  if (!o.transforms) return v;
  v.scale = o.scale_low + (o.scale_high - o.scale_low) * uniform01(stream, 0);
  v.angle = (2 * uniform01(stream, 1) - 1) * o.rotate_degrees * kPi / 180.0;
  v.dx = (2 * uniform01(stream, 2) - 1) * static_cast<double>(o.jitter);
  v.dy = (2 * uniform01(stream, 3) - 1) * static_cast<double>(o.jitter);
  return v;
}

at::Tensor resize_to(const at::Tensor& rgb01, std::int64_t out_size) {
  const std::int64_t s = rgb01.size(-1);
  if (s == out_size && rgb01.size(-2) == out_size) return rgb01;
  if (s < out_size) return at::upsample_bilinear2d(rgb01, {out_size, out_size}, false);
  return at::_upsample_bilinear2d_aa(rgb01, {out_size, out_size}, false);
}

at::Tensor apply_views(const at::Tensor& rgb01, const std::vector<View>& views, std::int64_t pad,
                       std::int64_t out_size) {
  const std::int64_t b = rgb01.size(0), s = rgb01.size(-1);
  // theta maps output coordinates (-1..1) to input coordinates: x_in = k R(a) x_out + t.
  std::vector<float> theta;
  theta.reserve(static_cast<size_t>(b * 6));
  const double span = static_cast<double>(s + 2 * pad) / static_cast<double>(s);
  for (const auto& v : views) {
    const double k = span / v.scale, c = std::cos(v.angle) * k, sn = std::sin(v.angle) * k;
    const double tx = 2 * v.dx / static_cast<double>(s), ty = 2 * v.dy / static_cast<double>(s);
    for (double e : {c, -sn, tx, sn, c, ty}) theta.push_back(static_cast<float>(e));
  }
  auto t = at::tensor(theta).view({b, 2, 3}).to(rgb01.device());
  // Sample at the network size directly when that does not shrink the image (no aliasing), else at S.
  const std::int64_t sample = s <= out_size ? out_size : s;
  auto grid = at::affine_grid_generator(t, {b, 3, sample, sample}, false);
  // Zero padding of (x - grey) is a grey border.
  auto seen = at::grid_sampler(rgb01 - kGrey, grid, /*bilinear*/ 0, /*zeros*/ 0, false) + kGrey;
  return resize_to(seen, out_size);
}

at::Tensor total_variation(const at::Tensor& x) {
  const std::int64_t h = x.size(2), w = x.size(3);
  auto dh = (x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1)).abs();
  auto dw = (x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1)).abs();
  return dh.mean({1, 2, 3}) + dw.mean({1, 2, 3});
}

at::Tensor l2_from_grey(const at::Tensor& x) { return (x - kGrey).pow(2).mean({1, 2, 3}); }

at::Tensor blur_distance(const at::Tensor& x) {
  at::Tensor blurred;
  {
    at::NoGradGuard no_grad;
    blurred = at::avg_pool2d(at::replication_pad2d(x, {1, 1, 1, 1}), {3, 3}, {1, 1});
  }
  return (x - blurred).pow(2).mean({1, 2, 3});
}

}  // namespace deepvox::maximize
