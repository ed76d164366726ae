// Noise for synthetic repetitions (seeded): i.i.d. per voxel at the residual variance, or correlated
// within each ROI with the ROI's residual covariance (shrunk toward its diagonal, then Cholesky).
// Residuals are the training-set single trials minus the model's predictions (in-sample, so they
// slightly understate the noise of a new image; docs/synth_decode.md).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepvox::synth {

class NoiseModel {
 public:
  NoiseModel() = default;
  // residual_var [V]; valid voxels only get noise.
  static NoiseModel iid(const std::vector<double>& residual_var, const std::vector<std::uint8_t>& valid);
  // residuals [samples, V]; each valid voxel belongs to the first ROI (name order) that holds it.
  static NoiseModel roi(const at::Tensor& residuals, const std::vector<double>& residual_var,
                        const std::vector<std::uint8_t>& valid,
                        const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois,
                        double shrinkage);

  // Noise for each (row, repetition), row-major over rows then repetitions: [rows.size() * reps, V].
  // Row m, repetition r always gets the same draw from `seed`, whichever rank computes it.
  at::Tensor sample(const std::vector<std::int64_t>& rows, std::int64_t reps, std::uint64_t seed) const;

 private:
  std::int64_t n_voxels_ = 0;
  at::Tensor sigma_;  // [V] float: iid scale (0 for invalid voxels and voxels covered by an ROI factor)
  std::vector<std::pair<at::Tensor, at::Tensor>> factors_;  // (voxel indices, lower Cholesky factor) per ROI
};

}  // namespace deepvox::synth
