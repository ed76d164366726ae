#include "synth/augment.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "synth/random.h"

namespace deepvox::synth {

std::string Augmentation::describe() const {
  return std::string(flip ? "flip+" : "") + "crop(" + std::to_string(x0) + "," + std::to_string(y0) + "," +
         std::to_string(width) + "," + std::to_string(height) + ")";
}

Augmentation plan_augmentation(std::uint64_t seed, std::int64_t image, std::int64_t copy, int width,
                               int height) {
  Rng rng(seed, {0xa06dULL, static_cast<std::uint64_t>(image), static_cast<std::uint64_t>(copy)});
  const double fraction = 0.75 + 0.2 * rng.uniform();
  Augmentation a;
  a.flip = copy % 2 == 1;
  a.width = std::max(1, static_cast<int>(fraction * width + 0.5));
  a.height = std::max(1, static_cast<int>(fraction * height + 0.5));
  a.x0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(width - a.width + 1)));
  a.y0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(height - a.height + 1)));
  return a;
}

image::RgbImage apply_augmentation(const image::RgbImage& img, const Augmentation& a) {
  if (a.x0 < 0 || a.y0 < 0 || a.x0 + a.width > img.width || a.y0 + a.height > img.height)
    throw std::invalid_argument("augmentation window " + a.describe() + " is outside a " +
                                std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  image::RgbImage out;
  out.width = a.width;
  out.height = a.height;
  out.pixels.resize(static_cast<size_t>(a.width) * a.height * 3);
  for (int y = 0; y < a.height; ++y) {
    const std::uint8_t* src = img.row(a.y0 + y) + static_cast<size_t>(a.x0) * 3;
    std::uint8_t* dst = out.row(y);
    if (!a.flip) {
      std::memcpy(dst, src, static_cast<size_t>(a.width) * 3);
    } else {
      for (int x = 0; x < a.width; ++x) std::memcpy(dst + 3 * x, src + 3 * (a.width - 1 - x), 3);
    }
  }
  return out;
}

}  // namespace deepvox::synth
