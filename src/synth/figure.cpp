#include "synth/figure.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>

#include "synth/plot.h"

namespace deepvox::synth {

void draw_repetition_figure(const RepetitionResult& rep,
                            const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois,
                            const std::string& png_path) {
  cv::Mat img(520, 1180, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto& syn = rep.voxel[0];
  const auto& real = rep.voxel[1];

  // Left: one point per voxel, coloured by its first ROI (grey: no ROI); y = x is "as good as a real
  // repetition".
  double lo = 0, hi = 0;
  for (size_t v = 0; v < syn.size(); ++v)
    if (std::isfinite(syn[v]) && std::isfinite(real[v])) {
      lo = std::min({lo, syn[v], real[v]});
      hi = std::max({hi, syn[v], real[v]});
    }
  lo = std::floor(lo * 10) / 10;
  hi = std::max(lo + 0.1, std::ceil(hi * 10) / 10);
  plot::Axes left(img, cv::Rect(90, 50, 400, 400), lo, hi, lo, hi);
  left.frame("per voxel (" + std::to_string(rep.stimuli.size()) + " test images, " +
                 std::to_string(rep.repetitions) + " repetitions)",
             "r(real repetition, other real repetition)", "r(synthetic, real repetition)");
  left.line(lo, lo, hi, hi, plot::kGrey, 1, true);
  std::vector<int> owner(syn.size(), -1);
  for (size_t r = 0; r < rois.size(); ++r)
    for (size_t v = 0; v < owner.size(); ++v)
      if (owner[v] < 0 && rois[r].second[v]) owner[v] = static_cast<int>(r);
  for (int r = -1; r < static_cast<int>(rois.size()); ++r) {
    std::vector<double> xs, ys;
    for (size_t v = 0; v < owner.size(); ++v)
      if (owner[v] == r) xs.push_back(real[v]), ys.push_back(syn[v]);
    left.points(xs, ys, r < 0 ? plot::kGrey : plot::color(r), 2);
  }
  std::vector<std::pair<std::string, cv::Scalar>> entries;
  for (size_t r = 0; r < rois.size(); ++r)
    entries.emplace_back(rois[r].first, plot::color(static_cast<int>(r)));
  left.legend(entries);

  // Right: per ROI, the mean pattern correlation of synthetic vs real, real vs real, real vs mean of others.
  const auto n = static_cast<double>(rep.rois.size());
  double top = 0.1, bottom = 0;
  for (const auto& roi : rep.rois)
    for (int m = 0; m < 3; ++m)
      if (std::isfinite(roi.pattern_mean[m])) {
        top = std::max(top, roi.pattern_mean[m]);
        bottom = std::min(bottom, roi.pattern_mean[m]);
      }
  top = std::ceil(top * 10 + 0.5) / 10;
  bottom = std::floor(bottom * 10) / 10;
  plot::Axes right(img, cv::Rect(620, 50, 530, 400), 0, n, bottom, top);
  right.frame("per ROI: mean pattern correlation over test images", "ROI", "r", false);
  std::vector<std::pair<double, std::string>> ticks;
  const char* labels[3] = {"synthetic vs real rep", "real rep vs other rep", "real rep vs mean of others"};
  const cv::Scalar colours[3] = {plot::color(3), plot::color(0), plot::color(7)};
  for (size_t i = 0; i < rep.rois.size(); ++i) {
    for (int m = 0; m < 3; ++m) {
      const double x0 = static_cast<double>(i) + 0.12 + 0.25 * m;
      right.bar(x0, x0 + 0.23, rep.rois[i].pattern_mean[m], colours[m]);
    }
    ticks.emplace_back(static_cast<double>(i) + 0.5, rep.rois[i].name);
  }
  right.xtick_labels(ticks);
  right.legend({{labels[0], colours[0]}, {labels[1], colours[1]}, {labels[2], colours[2]}}, true);
  plot::save_png(png_path, img);
}

}  // namespace deepvox::synth
