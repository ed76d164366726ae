// Stage `explain`: parallel backpropagation (seed 003, Lappe et al.) for voxel and ROI encoding models.
//
//   mpirun -n 2 deepvox explain --config configs/demo.yaml
//
// For each target (an ROI's mean model, or one voxel's model from model.h5):
// 1. the out-of-category images with the highest predicted response (top-k outside the preferred categories);
// 2. for each, the preferred-category image whose readout-weighted feature pattern is most similar;
// 3. both are backpropagated in parallel: the readout weights times the product of the two images' feature
//    contributions (a weighted Hadamard product) boost the dimensions they share and suppress the others,
//    and the result is projected to pixels (gradient x input, or integrated gradients).
// Writes run_dir/explain.h5 (/heatmaps, /pairs, /overlap with the planted object masks) and PNG panels.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::explain {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::explain
