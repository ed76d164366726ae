#include "synth/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace deepvox::synth::plot {

cv::Scalar color(int i) {
  // Tableau 10 in BGR.
  static const cv::Scalar p[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                                 {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                                 {34, 189, 188},  {207, 190, 23}};
  return p[((i % 10) + 10) % 10];
}

void put_text(cv::Mat& img, const std::string& s, cv::Point p, double scale, cv::Scalar c, bool centred) {
  int base = 0;
  cv::Size sz = cv::getTextSize(s, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
  if (centred) p.x -= sz.width / 2;
  cv::putText(img, s, p, cv::FONT_HERSHEY_SIMPLEX, scale, c, 1, cv::LINE_AA);
}

namespace {
std::vector<double> nice_ticks(double lo, double hi, int target) {
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step)
    t.push_back(std::fabs(v) < 1e-12 ? 0 : v);
  return t;
}
std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

Axes::Axes(cv::Mat& img, cv::Rect area, double x0, double x1, double y0, double y1)
    : img_(img), area_(area), x0_(x0), x1_(x1 > x0 ? x1 : x0 + 1), y0_(y0), y1_(y1 > y0 ? y1 : y0 + 1) {}

cv::Point Axes::at(double x, double y) const {
  const double fx = (x - x0_) / (x1_ - x0_), fy = (y - y0_) / (y1_ - y0_);
  return {area_.x + static_cast<int>(std::lround(fx * area_.width)),
          area_.y + area_.height - static_cast<int>(std::lround(fy * area_.height))};
}

void Axes::frame(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                 bool xticks) {
  for (double t : nice_ticks(y0_, y1_, 5)) {
    cv::Point p = at(x0_, t);
    cv::line(img_, p, {area_.x + area_.width, p.y}, kLightGrey, 1);
    put_text(img_, fmt(t), {area_.x - 8 - 7 * static_cast<int>(fmt(t).size()), p.y + 4}, 0.4, kBlack);
  }
  if (xticks)
    for (double t : nice_ticks(x0_, x1_, 5)) {
      cv::Point p = at(t, y0_);
      cv::line(img_, p, {p.x, p.y + 4}, kBlack, 1);
      put_text(img_, fmt(t), {p.x, p.y + 18}, 0.4, kBlack, true);
    }
  cv::rectangle(img_, area_, kBlack, 1);
  put_text(img_, title, {area_.x + area_.width / 2, area_.y - 10}, 0.5, kBlack, true);
  put_text(img_, xlabel, {area_.x + area_.width / 2, area_.y + area_.height + 38}, 0.45, kBlack, true);
  // Vertical label: draw on a small image, rotate, paste.
  int base = 0;
  cv::Size sz = cv::getTextSize(ylabel, cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &base);
  cv::Mat label(sz.height + base + 4, sz.width + 4, img_.type(), cv::Scalar(255, 255, 255));
  cv::putText(label, ylabel, {2, sz.height + 2}, cv::FONT_HERSHEY_SIMPLEX, 0.45, kBlack, 1, cv::LINE_AA);
  cv::Mat rotated;
  cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  int x = std::max(0, area_.x - 62), y = std::max(0, area_.y + area_.height / 2 - rotated.rows / 2);
  if (x + rotated.cols <= img_.cols && y + rotated.rows <= img_.rows)
    rotated.copyTo(img_(cv::Rect(x, y, rotated.cols, rotated.rows)));
}

void Axes::xtick_labels(const std::vector<std::pair<double, std::string>>& ticks) {
  for (const auto& [x, s] : ticks) {
    cv::Point p = at(x, y0_);
    cv::line(img_, p, {p.x, p.y + 4}, kBlack, 1);
    put_text(img_, s, {p.x, p.y + 18}, 0.4, kBlack, true);
  }
}

void Axes::line(double xa, double ya, double xb, double yb, cv::Scalar c, int thickness, bool dashed) {
  cv::Point a = at(xa, ya), b = at(xb, yb);
  if (!dashed) {
    cv::line(img_, a, b, c, thickness, cv::LINE_AA);
    return;
  }
  const double len = std::hypot(b.x - a.x, b.y - a.y);
  const int pieces = std::max(1, static_cast<int>(len / 6));
  for (int i = 0; i < pieces; i += 2) {
    const double f0 = static_cast<double>(i) / pieces,
                 f1 = std::min(1.0, static_cast<double>(i + 1) / pieces);
    cv::line(img_, {a.x + static_cast<int>(f0 * (b.x - a.x)), a.y + static_cast<int>(f0 * (b.y - a.y))},
             {a.x + static_cast<int>(f1 * (b.x - a.x)), a.y + static_cast<int>(f1 * (b.y - a.y))}, c,
             thickness, cv::LINE_AA);
  }
}

void Axes::polyline(const std::vector<double>& x, const std::vector<double>& y, cv::Scalar c, int thickness,
                    bool markers) {
  for (size_t i = 0; i + 1 < x.size(); ++i)
    if (std::isfinite(y[i]) && std::isfinite(y[i + 1]))
      cv::line(img_, at(x[i], y[i]), at(x[i + 1], y[i + 1]), c, thickness, cv::LINE_AA);
  if (markers) points(x, y, c, thickness + 2);
}

void Axes::points(const std::vector<double>& x, const std::vector<double>& y, cv::Scalar c, int radius) {
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i]))
      cv::circle(img_, at(x[i], y[i]), radius, c, cv::FILLED, cv::LINE_AA);
}

void Axes::bar(double x_left, double x_right, double y, cv::Scalar c) {
  if (!std::isfinite(y)) return;
  const double base = std::clamp(0.0, y0_, y1_);
  cv::rectangle(img_, at(x_left, base), at(x_right, y), c, cv::FILLED);
}

void Axes::text(double x, double y, const std::string& s, cv::Scalar c, double scale) {
  put_text(img_, s, at(x, y), scale, c);
}

void Axes::legend(const std::vector<std::pair<std::string, cv::Scalar>>& entries, bool right) {
  int y = area_.y + 16;
  for (const auto& [label, c] : entries) {
    int base = 0;
    const int w = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, 0.4, 1, &base).width;
    const int x = right ? area_.x + area_.width - w - 26 : area_.x + 8;
    cv::rectangle(img_, {x, y - 9}, {x + 12, y + 1}, c, cv::FILLED);
    put_text(img_, label, {x + 16, y}, 0.4, kBlack);
    y += 16;
  }
}

void heatmap(cv::Mat& img, cv::Rect area, const std::vector<double>& values, int rows, int cols, double vmax,
             const std::string& title, const std::vector<std::string>& row_labels,
             const std::vector<std::string>& col_labels) {
  const double cw = static_cast<double>(area.width) / cols, ch = static_cast<double>(area.height) / rows;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const double v = values[static_cast<size_t>(r * cols + c)];
      const double f = vmax > 0 ? std::clamp(v / vmax, 0.0, 1.0) : 0.0;
      cv::Scalar fill(255 - 75 * f, 255 - 200 * f, 255 - 245 * f);
      cv::Point a(area.x + static_cast<int>(c * cw), area.y + static_cast<int>(r * ch));
      cv::Point b(area.x + static_cast<int>((c + 1) * cw), area.y + static_cast<int>((r + 1) * ch));
      cv::rectangle(img, a, b, fill, cv::FILLED);
      if (cw >= 18 && ch >= 12)
        put_text(img, fmt(v), {(a.x + b.x) / 2, (a.y + b.y) / 2 + 4}, 0.33,
                 f > 0.6 ? cv::Scalar(255, 255, 255) : kBlack, true);
    }
  cv::rectangle(img, area, kBlack, 1);
  put_text(img, title, {area.x + area.width / 2, area.y - 8}, 0.45, kBlack, true);
  for (int r = 0; r < rows && r < static_cast<int>(row_labels.size()); ++r)
    put_text(img, row_labels[static_cast<size_t>(r)].substr(0, 10),
             {std::max(0, area.x - 72), area.y + static_cast<int>((r + 0.5) * ch) + 4}, 0.33, kBlack);
  for (int c = 0; c < cols && c < static_cast<int>(col_labels.size()); ++c)
    put_text(img, col_labels[static_cast<size_t>(c)].substr(0, 3),
             {area.x + static_cast<int>((c + 0.5) * cw), area.y + area.height + 12}, 0.33, kBlack, true);
}

void save_png(const std::string& path, const cv::Mat& img) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    throw std::runtime_error("cannot write " + path + ": " + e.what());
  }
  if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace deepvox::synth::plot
