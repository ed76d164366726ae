// Image decoding and network preprocessing, without LibTorch (io/ stays torch-free).
//
// decode_image_file() turns JPEG, PNG, WebP, TIFF or BMP bytes into 8-bit RGB through OpenCV's
// codecs (libjpeg-turbo, libpng, libwebp, libtiff):
//   - grayscale is replicated to three channels; palette PNGs are expanded by libpng;
//   - alpha is composited over mid-grey (128, 128, 128), the colour that biases a network least
//     after mean subtraction (PIL's convert('RGB') would instead keep whatever colour hides under
//     transparent pixels, often black);
//   - CMYK/YCCK JPEGs are converted by libjpeg/OpenCV (Adobe-inverted CMYK, as Photoshop and PIL
//     write it);
//   - 16-bit images are scaled to 8 bits by round(v * 255 / 65535);
//   - EXIF orientation is ignored, as PIL's Image.open and torchvision's read_image do.
// Every error names the file: missing, unreadable, zero bytes, not an image, truncated (a JPEG
// without its end-of-image marker, a PNG without IEND: OpenCV would silently return a partial
// image), or a decoder failure.
//
// preprocess() does what decisions.md fixes for extract: resize the shorter side to `size`
// (torchvision's Resize(size) output size), centre-crop to size x size (torchvision's CenterCrop
// offsets), and normalize into a float CHW buffer. The resize is torchvision's default on PIL
// images, re-implemented: an antialiased bilinear (triangle) filter widened by the scale factor
// when shrinking, in Pillow's 22-bit fixed point, horizontal pass then vertical pass, so the
// result equals torchvision's pixel for pixel (tested). OpenCV's INTER_AREA would differ from it by
// 1-3 grey levels on average. An image already size x size is used as it is.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace deepvox::image {

// Bad or unreadable image input; the message names the file.
struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// 8-bit RGB, row-major H x W x 3 (interleaved), the layout of NSD's imgBrick rows.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // height * width * 3
  std::uint8_t* row(int y) { return pixels.data() + static_cast<std::size_t>(y) * width * 3; }
  const std::uint8_t* row(int y) const { return pixels.data() + static_cast<std::size_t>(y) * width * 3; }
};

// The grey that transparent pixels become.
constexpr int kAlphaBackground = 128;

// Reads and decodes one image file.
RgbImage decode_image_file(const std::string& path);
// Decodes an in-memory file; `name` is only used in error messages.
RgbImage decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Checks the container structure (JPEG markers through EOI, PNG chunks through IEND).
// Throws ImageError naming `name` for a truncated or malformed stream; other formats pass.
void check_complete(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Output size of torchvision's Resize(size) for a w x h image: shorter side = size, the longer
// side int(size * long / short) (truncated, as torchvision computes it).
void resized_shape(int width, int height, int size, int* out_width, int* out_height);
// Shorter side to `size`, then centre crop to size x size (see the header comment).
RgbImage resize_center_crop(const RgbImage& img, int size);

enum class Normalization {
  Imagenet,  // (x/255 - mean) / std, torchvision's mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
  Keras,     // x/127.5 - 1 (Keras' "tf" mode, the ImageNet scaling of the nsfwjs models)
  Raw        // x/255
};
// "imagenet" | "keras" | "raw"; anything else throws ImageError listing the valid names.
Normalization parse_normalization(const std::string& name);
std::string normalization_name(Normalization n);

// Writes a size x size RGB image as float CHW (3 * H * W values) into out, normalized.
void to_chw(const RgbImage& img, Normalization norm, float* out);

// decode -> resize_center_crop -> to_chw, into out (3 * size * size floats).
void preprocess_file(const std::string& path, int size, Normalization norm, float* out);
void preprocess(const RgbImage& img, int size, Normalization norm, float* out);

// Writes an RGB image as PNG or JPEG (by extension; JPEG quality 0-100). Throws ImageError.
void write_image_file(const std::string& path, const RgbImage& img, int jpeg_quality = 95);

}  // namespace deepvox::image
