// Image decoding and preprocessing against independent references written by make_image_fixtures.py
// (PIL/numpy decodings, torchvision resize + centre crop).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "io/image.h"

using deepvox::image::ImageError;
using deepvox::image::RgbImage;
namespace img = deepvox::image;

namespace {

std::string fixture(const std::string& name) { return std::string(DEEPVOX_IMAGE_FIXTURES) + "/" + name; }

RgbImage load_expected(const std::string& name) {
  std::ifstream in(fixture(name + ".expected"), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing reference " << name << ".expected (did the fixture script run?)";
  std::int32_t hw[2] = {0, 0};
  in.read(reinterpret_cast<char*>(hw), sizeof hw);
  RgbImage r;
  r.height = hw[0];
  r.width = hw[1];
  r.pixels.resize(static_cast<std::size_t>(hw[0]) * hw[1] * 3);
  in.read(reinterpret_cast<char*>(r.pixels.data()), static_cast<std::streamsize>(r.pixels.size()));
  return r;
}

struct Diff {
  int max = 0;
  double mean = 0;
};

Diff compare(const RgbImage& a, const RgbImage& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  Diff d;
  if (a.pixels.size() != b.pixels.size()) {
    d.max = 255;
    return d;
  }
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) {
    const int e = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, e);
    sum += e;
  }
  d.mean = sum / static_cast<double>(a.pixels.size());
  return d;
}

// Expects decode(name) to throw an ImageError whose message holds the file name and `words`.
void expect_error(const std::string& name, const std::string& words) {
  try {
    img::decode_image_file(fixture(name));
    FAIL() << name << " decoded without error";
  } catch (const ImageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(name), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << "message lacks '" << words << "': " << msg;
  }
}

}  // namespace

// Lossless kinds must match the reference exactly; lossy ones (decoded by PIL's libjpeg) nearly.
struct DecodeCase {
  const char* file;
  int max_error;
};

class Decode : public ::testing::TestWithParam<DecodeCase> {};

TEST_P(Decode, MatchesIndependentDecoder) {
  const DecodeCase c = GetParam();
  const RgbImage got = img::decode_image_file(fixture(c.file));
  const RgbImage want = load_expected(c.file);
  const Diff d = compare(got, want);
  EXPECT_LE(d.max, c.max_error) << c.file << " mean error " << d.mean;
}

INSTANTIATE_TEST_SUITE_P(Kinds, Decode,
                         ::testing::Values(DecodeCase{"rgb.png", 0}, DecodeCase{"rgb.webp", 0},
                                           DecodeCase{"rgb.tif", 0}, DecodeCase{"gray.png", 0},
                                           DecodeCase{"palette.png", 0}, DecodeCase{"palette_trns.png", 0},
                                           DecodeCase{"rgba.png", 0}, DecodeCase{"la.png", 0},
                                           DecodeCase{"rgb16.png", 0}, DecodeCase{"gray16.png", 0},
                                           DecodeCase{"rgb.jpg", 2}, DecodeCase{"gray.jpg", 2},
                                           DecodeCase{"progressive.jpg", 2}, DecodeCase{"cmyk.jpg", 2}),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return n;
                         });

TEST(Decode, CmykBlocksHaveTheirInkColours) {
  // Coarse check independent of PIL's decode: the centre of each flat ink block.
  const RgbImage got = img::decode_image_file(fixture("cmyk.jpg"));
  std::ifstream in(fixture("cmyk.blocks"));
  for (int i = 0; i < 12; ++i) {
    int r, g, b;
    in >> r >> g >> b;
    const int y = (i / 6) * 16 + 8, x = (i % 6) * 16 + 8;
    const std::uint8_t* p = got.row(y) + 3 * x;
    EXPECT_NEAR(p[0], r, 4) << "block " << i;
    EXPECT_NEAR(p[1], g, 4) << "block " << i;
    EXPECT_NEAR(p[2], b, 4) << "block " << i;
  }
}

TEST(DecodeErrors, NameTheFileAndTheProblem) {
  expect_error("truncated.jpg", "truncated JPEG");
  expect_error("truncated.png", "truncated PNG");
  expect_error("empty.jpg", "empty (0 bytes)");
  expect_error("notimage.jpg", "not an image");
  expect_error("garbage.jpg", "corrupt");
  expect_error("does_not_exist.jpg", "not found");
}

TEST(DecodeErrors, RealTruncatedJpegFromSkimage) {
  // scikit-image ships a truncated JPEG; OpenCV alone would hand back a grey-padded image.
  const std::string path = "/usr/lib/python3/dist-packages/skimage/data/truncated.jpg";
  if (!std::ifstream(path)) GTEST_SKIP() << "python3-skimage not installed";
  EXPECT_THROW(img::decode_image_file(path), ImageError);
}

TEST(Resize, ShapeMatchesTorchvision) {
  std::ifstream in(fixture("resize_shapes.txt"));
  int w, h, size, want_w, want_h, n = 0;
  while (in >> w >> h >> size >> want_w >> want_h) {
    int got_w = 0, got_h = 0;
    img::resized_shape(w, h, size, &got_w, &got_h);
    EXPECT_EQ(got_w, want_w) << w << "x" << h << " -> " << size;
    EXPECT_EQ(got_h, want_h) << w << "x" << h << " -> " << size;
    ++n;
  }
  EXPECT_GT(n, 10);
}

TEST(Resize, CloseToTorchvisionResizeCenterCrop) {
  std::ifstream in(fixture("resize_cases.txt"));
  std::string name;
  int size, n = 0;
  while (in >> name >> size) {
    const RgbImage src = img::decode_image_file(fixture(name + ".png"));
    const RgbImage got = img::resize_center_crop(src, size);
    const RgbImage want = load_expected(name + "_" + std::to_string(size));
    const Diff d = compare(got, want);
    // Same filter, same fixed point, same crop: identical to torchvision (a 1-pixel crop or scale
    // error would give tens of grey levels).
    EXPECT_LE(d.max, 0) << name << " -> " << size << " (mean " << d.mean << ")";
    EXPECT_LT(d.mean, 0.01) << name << " -> " << size;
    ++n;
  }
  EXPECT_EQ(n, 9);
}

TEST(Resize, SquareAtSizeIsUsedAsIs) {
  RgbImage a;
  a.width = a.height = 5;
  for (int i = 0; i < 75; ++i) a.pixels.push_back(static_cast<std::uint8_t>(i * 3));
  const RgbImage b = img::resize_center_crop(a, 5);
  EXPECT_EQ(a.pixels, b.pixels);
}

TEST(Normalize, ImagenetKerasRaw) {
  RgbImage a;
  a.width = 2;
  a.height = 1;
  a.pixels = {0, 128, 255, 51, 102, 204};
  float out[6];
  img::to_chw(a, img::parse_normalization("imagenet"), out);
  // CHW: out[c*2 + x]
  EXPECT_FLOAT_EQ(out[0], (0.f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(out[1], (51.f / 255.f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(out[2], (128.f / 255.f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(out[5], (204.f / 255.f - 0.406f) / 0.225f);
  img::to_chw(a, img::parse_normalization("keras"), out);
  EXPECT_FLOAT_EQ(out[0], -1.f);
  EXPECT_FLOAT_EQ(out[4], 1.f);
  img::to_chw(a, img::parse_normalization("raw"), out);
  EXPECT_FLOAT_EQ(out[4], 1.f);
  EXPECT_FLOAT_EQ(out[1], 0.2f);
  EXPECT_THROW(img::parse_normalization("caffe"), ImageError);
}
