// Minimal chart drawing on an OpenCV image (axes, ticks, points, lines, bars, heat maps, legends),
// so stage figures are PNGs written by cv::imwrite with no Python at run time.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

namespace deepvox::synth::plot {

cv::Scalar color(int i);  // a qualitative palette (BGR)
const cv::Scalar kBlack(0, 0, 0), kGrey(150, 150, 150), kLightGrey(220, 220, 220);

class Axes {
 public:
  // Data window [x0, x1] x [y0, y1] drawn in `area` of img (margins for labels are outside area).
  Axes(cv::Mat& img, cv::Rect area, double x0, double x1, double y0, double y1);
  cv::Point at(double x, double y) const;
  void frame(const std::string& title, const std::string& xlabel, const std::string& ylabel,
             bool xticks = true);
  void xtick_labels(const std::vector<std::pair<double, std::string>>& ticks);
  void line(double xa, double ya, double xb, double yb, cv::Scalar c, int thickness = 1, bool dashed = false);
  void polyline(const std::vector<double>& x, const std::vector<double>& y, cv::Scalar c, int thickness = 2,
                bool markers = true);
  void points(const std::vector<double>& x, const std::vector<double>& y, cv::Scalar c, int radius = 2);
  void bar(double x_left, double x_right, double y, cv::Scalar c);
  void text(double x, double y, const std::string& s, cv::Scalar c, double scale = 0.4);
  // Legend entries stacked from the top-left (or top-right) corner inside the axes.
  void legend(const std::vector<std::pair<std::string, cv::Scalar>>& entries, bool right = false);

 private:
  cv::Mat& img_;
  cv::Rect area_;
  double x0_, x1_, y0_, y1_;
};

// A rows x cols matrix of values in [0, vmax] as a white-to-blue heat map with the counts printed.
void heatmap(cv::Mat& img, cv::Rect area, const std::vector<double>& values, int rows, int cols, double vmax,
             const std::string& title, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels);

void put_text(cv::Mat& img, const std::string& s, cv::Point p, double scale, cv::Scalar c,
              bool centred = false);
// Writes a PNG; throws std::runtime_error naming the path on failure.
void save_png(const std::string& path, const cv::Mat& img);

}  // namespace deepvox::synth::plot
