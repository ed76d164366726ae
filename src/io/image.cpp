// Image decoding and preprocessing through OpenCV (see image.h for the conventions).
#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace deepvox::image {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw ImageError("image " + name + ": " + what);
}

bool starts_with(const std::vector<std::uint8_t>& b, const char* magic, std::size_t n, std::size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

bool is_jpeg(const std::vector<std::uint8_t>& b) { return starts_with(b, "\xFF\xD8\xFF", 3); }
bool is_png(const std::vector<std::uint8_t>& b) { return starts_with(b, "\x89PNG\r\n\x1a\n", 8); }
bool is_webp(const std::vector<std::uint8_t>& b) {
  return starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8);
}
bool is_tiff(const std::vector<std::uint8_t>& b) {
  return starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4);
}
bool is_bmp(const std::vector<std::uint8_t>& b) { return starts_with(b, "BM", 2); }

// Walks the JPEG marker segments and entropy-coded scans up to EOI (ITU T.81 Annex B).
// libjpeg only warns ("Premature end of JPEG file") on a cut stream and pads it with grey.
void check_jpeg(const std::vector<std::uint8_t>& b, const std::string& name) {
  const std::size_t n = b.size();
  std::size_t pos = 2;  // after SOI
  const std::string cut = "truncated JPEG (no end-of-image marker; the file was cut short)";
  while (pos < n) {
    if (b[pos] != 0xFF) {  // libjpeg skips stray bytes between segments; so do we
      ++pos;
      continue;
    }
    while (pos < n && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= n) fail(name, cut);
    const std::uint8_t marker = b[pos++];
    if (marker == 0xD9) return;                                          // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no payload
    if (pos + 2 > n) fail(name, cut);
    const std::size_t len = (std::size_t(b[pos]) << 8) | b[pos + 1];
    if (len < 2) fail(name, "malformed JPEG (segment length < 2)");
    pos += len;
    if (pos > n) fail(name, cut);
    if (marker != 0xDA) continue;  // not a scan
    // Entropy-coded data: 0xFF is followed by 0x00 (stuffing), RSTn or fill; anything else is a marker.
    while (true) {
      const void* ff = std::memchr(b.data() + pos, 0xFF, n - pos);
      if (!ff) fail(name, cut);
      pos = static_cast<const std::uint8_t*>(ff) - b.data();
      if (pos + 1 >= n) fail(name, cut);
      const std::uint8_t next = b[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        pos += 2;
      } else if (next == 0xFF) {
        pos += 1;
      } else {
        break;  // a marker: the outer loop reads it
      }
    }
  }
  fail(name, cut);
}

// Walks PNG chunks (length, type, data, CRC) up to IEND; libpng may return a partial image otherwise.
void check_png(const std::vector<std::uint8_t>& b, const std::string& name) {
  const std::size_t n = b.size();
  std::size_t pos = 8;
  while (pos + 8 <= n) {
    const std::size_t len = (std::size_t(b[pos]) << 24) | (std::size_t(b[pos + 1]) << 16) |
                            (std::size_t(b[pos + 2]) << 8) | b[pos + 3];
    const bool iend = std::memcmp(b.data() + pos + 4, "IEND", 4) == 0;
    pos += 12 + len;
    if (pos > n) break;
    if (iend) return;
  }
  fail(name, "truncated PNG (no IEND chunk; the file was cut short)");
}

void check_webp(const std::vector<std::uint8_t>& b, const std::string& name) {
  const std::size_t riff =
      std::size_t(b[4]) | (std::size_t(b[5]) << 8) | (std::size_t(b[6]) << 16) | (std::size_t(b[7]) << 24);
  if (riff + 8 > b.size()) fail(name, "truncated WebP (shorter than its RIFF size)");
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::ifstream probe(path);
    fail(path, probe ? "cannot be read" : "file not found");
  }
  const std::streamsize size = in.tellg();
  if (size < 0) fail(path, "cannot be read (is it a folder?)");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(path, "read error");
  return bytes;
}

// Any decoded cv::Mat (1-4 channels, 8/16-bit or float) -> 8-bit RGB.
RgbImage to_rgb8(cv::Mat m, const std::string& name) {
  if (m.depth() == CV_16U) {
    m.convertTo(m, CV_8U, 255.0 / 65535.0);  // rounds; v/257 never lands on .5
  } else if (m.depth() == CV_32F || m.depth() == CV_64F) {
    m.convertTo(m, CV_8U, 255.0);  // float images are taken as [0, 1]; saturates outside
  } else if (m.depth() != CV_8U) {
    fail(name, "unsupported sample type (only 8-bit, 16-bit unsigned and float images)");
  }
  cv::Mat rgb;
  cv::Mat alpha;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 2: {
      cv::Mat planes[2];
      cv::split(m, planes);
      cv::cvtColor(planes[0], rgb, cv::COLOR_GRAY2RGB);
      alpha = planes[1];
      break;
    }
    case 3:
      cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(m, rgb, cv::COLOR_BGRA2RGB);
      cv::extractChannel(m, alpha, 3);
      break;
    default:
      fail(name, "unsupported channel count " + std::to_string(m.channels()));
  }
  RgbImage out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  for (int y = 0; y < rgb.rows; ++y) {
    const std::uint8_t* src = rgb.ptr<std::uint8_t>(y);
    std::uint8_t* dst = out.row(y);
    if (alpha.empty()) {
      std::memcpy(dst, src, static_cast<std::size_t>(rgb.cols) * 3);
      continue;
    }
    const std::uint8_t* a = alpha.ptr<std::uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      const int w = a[x];
      for (int c = 0; c < 3; ++c) {
        dst[3 * x + c] =
            static_cast<std::uint8_t>((src[3 * x + c] * w + kAlphaBackground * (255 - w) + 127) / 255);
      }
    }
  }
  return out;
}

cv::Mat as_mat(const RgbImage& img) {
  return cv::Mat(img.height, img.width, CV_8UC3, const_cast<std::uint8_t*>(img.pixels.data()));
}

// One axis of an antialiased bilinear (triangle) resample, as Pillow computes it (Resample.c,
// precompute_coeffs + normalize_coeffs_8bpc): the triangle is widened by the scale when shrinking, the
// taps are renormalized at the borders, and weights are fixed point with 22 fractional bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct AxisTaps {
  int ksize = 0;
  std::vector<int> first, count;      // per output pixel: first input index, number of taps
  std::vector<std::int32_t> weights;  // [out * ksize]
};

AxisTaps triangle_taps(int in_size, int out_size) {
  AxisTaps t;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // bilinear support is 1
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<std::size_t>(out_size) * t.ksize, 0);
  std::vector<double> w(t.ksize);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(center - support + 0.5));
    const int hi = std::min(in_size, static_cast<int>(center + support + 0.5));
    double total = 0;
    for (int i = 0; i < hi - lo; ++i) {
      const double x = std::fabs((i + lo - center + 0.5) / filterscale);
      w[i] = x < 1.0 ? 1.0 - x : 0.0;
      total += w[i];
    }
    for (int i = 0; i < hi - lo; ++i) {
      const double v = total != 0.0 ? w[i] / total : w[i];
      t.weights[static_cast<std::size_t>(o) * t.ksize + i] = static_cast<std::int32_t>(
          v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    t.first[o] = lo;
    t.count[o] = hi - lo;
  }
  return t;
}

inline std::uint8_t clip_fixed(std::int32_t acc) {
  const std::int32_t v = acc >> kPrecisionBits;
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass then vertical pass, each rounding to 8 bits, as Pillow does for RGB images.
RgbImage resample_triangle(const RgbImage& in, int out_w, int out_h) {
  RgbImage mid = in;
  if (out_w != in.width) {
    const AxisTaps t = triangle_taps(in.width, out_w);
    mid.width = out_w;
    mid.pixels.assign(static_cast<std::size_t>(out_w) * in.height * 3, 0);
    for (int y = 0; y < in.height; ++y) {
      const std::uint8_t* src = in.row(y);
      std::uint8_t* dst = mid.row(y);
      for (int o = 0; o < out_w; ++o) {
        const std::int32_t* k = &t.weights[static_cast<std::size_t>(o) * t.ksize];
        std::int32_t acc[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1),
                               1 << (kPrecisionBits - 1)};
        const std::uint8_t* p = src + 3 * t.first[o];
        for (int i = 0; i < t.count[o]; ++i) {
          acc[0] += p[3 * i] * k[i];
          acc[1] += p[3 * i + 1] * k[i];
          acc[2] += p[3 * i + 2] * k[i];
        }
        for (int c = 0; c < 3; ++c) dst[3 * o + c] = clip_fixed(acc[c]);
      }
    }
  }
  if (out_h == mid.height) return mid;
  const AxisTaps t = triangle_taps(mid.height, out_h);
  RgbImage out;
  out.width = mid.width;
  out.height = out_h;
  out.pixels.assign(static_cast<std::size_t>(out.width) * out_h * 3, 0);
  const std::size_t stride = static_cast<std::size_t>(mid.width) * 3;
  std::vector<std::int32_t> acc(stride);
  for (int o = 0; o < out_h; ++o) {
    const std::int32_t* k = &t.weights[static_cast<std::size_t>(o) * t.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int i = 0; i < t.count[o]; ++i) {
      const std::uint8_t* src = mid.row(t.first[o] + i);
      for (std::size_t j = 0; j < stride; ++j) acc[j] += src[j] * k[i];
    }
    std::uint8_t* dst = out.row(o);
    for (std::size_t j = 0; j < stride; ++j) dst[j] = clip_fixed(acc[j]);
  }
  return out;
}

}  // namespace

void check_complete(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (is_jpeg(bytes)) check_jpeg(bytes, name);
  if (is_png(bytes)) check_png(bytes, name);
  if (is_webp(bytes)) check_webp(bytes, name);
}

RgbImage decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) fail(name, "file is empty (0 bytes)");
  if (!(is_jpeg(bytes) || is_png(bytes) || is_webp(bytes) || is_tiff(bytes) || is_bmp(bytes))) {
    fail(name, "not an image (not JPEG, PNG, WebP, TIFF or BMP by its first bytes)");
  }
  check_complete(bytes, name);
  cv::Mat m;
  try {
    m = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::uint8_t*>(bytes.data())),
        cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    fail(name, std::string("decoder error: ") + e.what());
  }
  if (m.empty() || m.cols <= 0 || m.rows <= 0) fail(name, "corrupt image (the decoder could not read it)");
  return to_rgb8(m, name);
}

RgbImage decode_image_file(const std::string& path) { return decode_image_bytes(read_file(path), path); }

void resized_shape(int width, int height, int size, int* out_width, int* out_height) {
  if (width <= height) {
    *out_width = size;
    *out_height = static_cast<int>(static_cast<std::int64_t>(size) * height / width);
  } else {
    *out_height = size;
    *out_width = static_cast<int>(static_cast<std::int64_t>(size) * width / height);
  }
}

RgbImage resize_center_crop(const RgbImage& img, int size) {
  if (size <= 0) throw ImageError("resize: size must be positive, got " + std::to_string(size));
  if (img.width <= 0 || img.height <= 0) throw ImageError("resize: empty image");
  if (img.width == size && img.height == size) return img;
  int rw = 0, rh = 0;
  resized_shape(img.width, img.height, size, &rw, &rh);
  const RgbImage resized = resample_triangle(img, rw, rh);
  // torchvision's CenterCrop: int(round((h - size) / 2)), Python's round = half to even (nearbyint).
  const int top = static_cast<int>(std::nearbyint((rh - size) / 2.0));
  const int left = static_cast<int>(std::nearbyint((rw - size) / 2.0));
  RgbImage out;
  out.width = out.height = size;
  out.pixels.resize(static_cast<std::size_t>(size) * size * 3);
  for (int y = 0; y < size; ++y) {
    std::memcpy(out.row(y), resized.row(top + y) + 3 * left, static_cast<std::size_t>(size) * 3);
  }
  return out;
}

Normalization parse_normalization(const std::string& name) {
  if (name == "imagenet") return Normalization::Imagenet;
  if (name == "keras") return Normalization::Keras;
  if (name == "raw") return Normalization::Raw;
  throw ImageError("unknown normalization '" + name + "' (valid: imagenet, keras, raw)");
}

std::string normalization_name(Normalization n) {
  switch (n) {
    case Normalization::Imagenet:
      return "imagenet";
    case Normalization::Keras:
      return "keras";
    case Normalization::Raw:
      return "raw";
  }
  return "?";
}

void to_chw(const RgbImage& img, Normalization norm, float* out) {
  static const float kMean[3] = {0.485f, 0.456f, 0.406f};
  static const float kStd[3] = {0.229f, 0.224f, 0.225f};
  const std::size_t plane = static_cast<std::size_t>(img.width) * img.height;
  for (int c = 0; c < 3; ++c) {
    float* dst = out + c * plane;
    const std::uint8_t* src = img.pixels.data() + c;
    for (std::size_t i = 0; i < plane; ++i) {
      const float x = static_cast<float>(src[3 * i]);
      switch (norm) {
        case Normalization::Imagenet:
          dst[i] = (x / 255.0f - kMean[c]) / kStd[c];
          break;
        case Normalization::Keras:
          dst[i] = x / 127.5f - 1.0f;
          break;
        case Normalization::Raw:
          dst[i] = x / 255.0f;
          break;
      }
    }
  }
}

void preprocess(const RgbImage& img, int size, Normalization norm, float* out) {
  to_chw(resize_center_crop(img, size), norm, out);
}

void preprocess_file(const std::string& path, int size, Normalization norm, float* out) {
  preprocess(decode_image_file(path), size, norm, out);
}

void write_image_file(const std::string& path, const RgbImage& img, int jpeg_quality) {
  cv::Mat bgr;
  cv::cvtColor(as_mat(img), bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  } catch (const cv::Exception& e) {
    throw ImageError("image " + path + ": cannot write: " + e.what());
  }
  if (!ok) throw ImageError("image " + path + ": cannot write (unknown extension or unwritable folder)");
}

}  // namespace deepvox::image
