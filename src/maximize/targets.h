// Optimization targets: what "the predicted response" to maximize means, as a sparse voxel weighting.
//
// Every objective is linear in the predicted voxel responses, objective = sum_v c_v * pred_v, so the
// whole readout folds into one feature-space vector per target (readout.h). The specs:
//   roi:NAME       mean over the ROI's valid voxels
//   weighted:NAME  ROI voxels weighted in proportion to their prediction accuracy (max(test_r, 0))
//   voxel:INDEX    one voxel (0-based column of responses.h5 / model.h5)
//   top:NAME:N     N targets: the N best-predicted voxels of the ROI (by model.h5 /voxels/test_r)
//   contrast:A:B   mean(A) - contrast_weight * mean(B): raise A while holding B down
//   rois           roi:NAME for every ROI of responses.h5, in file order
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepvox::maximize {

// What the target specs are resolved against.
struct VoxelInfo {
  std::int64_t n_voxels = 0;
  std::vector<std::string> roi_names;                // file order
  std::vector<std::vector<std::uint8_t>> roi_masks;  // [rois][V]
  std::vector<std::uint8_t> valid;                   // [V]; empty = every voxel valid
  std::vector<float> test_r;                         // [V]; empty = unknown (weighted and top need it)
};

struct Target {
  std::string label;  // shown on the PNG grid and stored in /targets
  std::string kind;   // roi | weighted | voxel | contrast
  std::string roi;    // the ROI whose grid shows it ("voxels" for a voxel in no ROI)
  std::int64_t voxel = -1;
  std::vector<std::pair<std::int64_t, double>> coefficients;  // (voxel, weight), sorted by voxel
};

// Throws ConfigError naming the spec and the bad part (unknown ROI listing the valid ones, voxel index
// out of range with the valid range, an ROI without valid voxels, ...).
std::vector<Target> expand_targets(const std::vector<std::string>& specs, const VoxelInfo& info,
                                   double contrast_weight);

// Dense [T, V] coefficients, row-major (stored in maximize.h5).
std::vector<float> dense_coefficients(const std::vector<Target>& targets, std::int64_t n_voxels);

}  // namespace deepvox::maximize
