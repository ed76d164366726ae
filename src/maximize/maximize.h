// Stage `maximize` (issue 7, seed 000): activation maximization through the encoding model.
//
// An image is optimized so that the predicted response of a target (a voxel, an ROI's mean, an
// accuracy-weighted ROI, or a contrast between two ROIs) is maximal, with the gradient flowing through
// the ridge readout of model.h5 -> the pooled features of features.h5 (extract::FeatureModel) -> the CNN
// -> the image. Images are parameterized in a 1/f-scaled Fourier basis with decorrelated colour
// (Olah et al. 2017, "Feature Visualization", Distill) or as plain pixels, and are seen through seeded
// robustness transforms. Targets are cut into fixed global chunks (maximize.targets_per_pass targets,
// all their restarts in one batch), so results do not depend on the rank count.
//
// Reads run_dir/{features,model,responses}.h5 (and truth.h5 when present); writes run_dir/maximize.h5
// and one PNG grid per ROI in run_dir/maximize/. docs/maximize.md describes every option and output.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::maximize {

// Collective over comm.
void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::maximize
