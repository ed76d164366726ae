// Augmented copies of stimulus images, the "augmented images" of the learning curve (seed 001 grows
// its synthetic sets with new images; the demo has a fixed photo set, so copies are made here).
// Copy k of image i is a pure function of (seed, i, k): a crop keeping the aspect ratio, covering
// 75-95% of each side at a random position, mirrored left-right for odd k. The copy then goes
// through the same resize + centre crop as every stimulus.
#pragma once

#include <cstdint>
#include <string>

#include "io/image.h"

namespace deepvox::synth {

struct Augmentation {
  bool flip = false;
  int x0 = 0, y0 = 0, width = 0, height = 0;  // crop window in the source image
  std::string describe() const;               // "flip+crop(x,y,w,h)"
};

Augmentation plan_augmentation(std::uint64_t seed, std::int64_t image, std::int64_t copy, int width,
                               int height);
image::RgbImage apply_augmentation(const image::RgbImage& img, const Augmentation& a);

}  // namespace deepvox::synth
