#include "maximize/grid.h"

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace deepvox::maximize {
namespace {

constexpr int kGap = 6;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk(20, 20, 20), kPaper(255, 255, 255);

void text(cv::Mat& img, const std::string& s, int x, int y, double scale) {
  cv::putText(img, s, {x, y}, kFont, scale, kInk, 1, cv::LINE_AA);
}

}  // namespace

void write_grid(const std::string& path, const std::string& title, const std::vector<GridRow>& rows,
                int size) {
  // Cells are shown at least 128 px wide so labels stay readable next to small images.
  const int cell = std::max(size, 128);
  const double label_scale = 0.45, caption_scale = 0.38;
  int label_width = 0, baseline = 0;
  for (const auto& r : rows)
    label_width = std::max(label_width, cv::getTextSize(r.label, kFont, label_scale, 1, &baseline).width);
  label_width += 2 * kGap;
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.images.size());
  const int header = 28, caption = 16;
  const int title_width = cv::getTextSize(title, kFont, 0.55, 1, &baseline).width + 2 * kGap;
  const int width = std::max(label_width + static_cast<int>(cols) * (cell + kGap) + kGap, title_width);
  const int height = header + static_cast<int>(rows.size()) * (cell + caption + kGap) + kGap;
  cv::Mat sheet(height, width, CV_8UC3, kPaper);
  text(sheet, title, kGap, 19, 0.55);
  for (size_t i = 0; i < rows.size(); ++i) {
    const int y = header + static_cast<int>(i) * (cell + caption + kGap);
    text(sheet, rows[i].label, kGap, y + cell / 2, label_scale);
    for (size_t j = 0; j < rows[i].images.size(); ++j) {
      const int x = label_width + static_cast<int>(j) * (cell + kGap);
      cv::Mat rgb(size, size, CV_8UC3, const_cast<std::uint8_t*>(rows[i].images[j]));
      cv::Mat bgr, shown;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      cv::resize(bgr, shown, {cell, cell}, 0, 0, size < cell ? cv::INTER_NEAREST : cv::INTER_AREA);
      shown.copyTo(sheet(cv::Rect(x, y, cell, cell)));
      if (j < rows[i].captions.size())
        text(sheet, rows[i].captions[j], x, y + cell + caption - 4, caption_scale);
    }
  }
  if (!cv::imwrite(path, sheet)) throw std::runtime_error("cannot write PNG grid " + path);
}

}  // namespace deepvox::maximize
