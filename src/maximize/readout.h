// The encoding model folded into one linear readout per target over the network's pooled features.
//
// fit predicts pred = ((f - mean) / scale) @ W + intercept (run-files.md, model.h5). Every target is a
// fixed voxel weighting c (targets.h), so its objective is linear in the features:
//   objective_t(f) = f . A[:, t] + bias_t,   A = (W c_t) / scale,   bias_t = intercept . c_t - mean . A[:, t]
// Folding once turns a [P, V] product per step into a [P, T] one (T targets instead of V voxels).
// All sums run in double, row by row, in a fixed order: results never depend on the rank count.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "maximize/targets.h"

namespace deepvox::maximize {

struct LinearReadout {
  std::vector<std::string> layers;                 // feature columns, layer by layer in this order
  std::vector<std::int64_t> dims;                  // columns of each layer
  std::int64_t dim = 0;                            // P, the sum of dims
  std::int64_t n_targets = 0;                      // T
  std::vector<float> weights;                      // A, [P, T] row-major
  std::vector<double> bias;                        // [T]
  std::vector<float> feature_mean, feature_scale;  // [P] z-scoring of model.h5 (diversity); may be empty
};

// responses.h5 ROIs and valid flags; model.h5's voxel count and /voxels/test_r. Checks V agrees.
VoxelInfo read_voxel_info(const std::string& responses_path, const std::string& model_path);

// Collective: model.h5 /weights rows are read in fixed blocks spread over ranks, then shared.
LinearReadout fold_model(const std::string& model_path, const std::vector<Target>& targets, MPI_Comm comm);

// objective [rows, T] of feature rows [rows, P] (double accumulation, fixed order).
std::vector<double> apply_readout(const LinearReadout& r, const float* features, std::int64_t rows);

// Collective: the objective of every target for every stimulus of features.h5 ([N, T], row-major),
// from its stored features of r.layers; rows in fixed chunks over ranks.
std::vector<double> natural_objectives(const std::string& features_path, const LinearReadout& r,
                                       MPI_Comm comm);

// Sums equal-sized buffers over ranks where each element is nonzero on at most one rank: exact whatever
// the rank count (-0.0 is normalized first, so 1 and N ranks agree bit for bit). Every rank gets the sum.
void share_disjoint(std::vector<double>& values, MPI_Comm comm);
void share_disjoint(std::vector<float>& values, MPI_Comm comm);
void share_disjoint(std::vector<std::uint8_t>& values, MPI_Comm comm);

}  // namespace deepvox::maximize
