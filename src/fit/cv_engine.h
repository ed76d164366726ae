// The voxelwise ridge search and refit over a rank's voxel blocks: for every fold, one Gram matrix and
// one eigendecomposition per band-weight candidate, then every lambda for every voxel of a block by
// batched GEMMs (ridge_solver.h). Fold decompositions are computed redundantly on every rank: they
// depend on the features only, which are small next to the voxels.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fit/inputs.h"
#include "fit/matrix.h"
#include "fit/petsc_voxels.h"
#include "fit/scores.h"

namespace deepvox::fit {

template <typename T>
struct Problem {
  const Mat<T>* x = nullptr;  // (n_train + n_test) x p: training rows then test rows, z-scored
  std::int64_t n_train = 0, n_test = 0;
  std::vector<std::int64_t> band_offset;        // B+1 column offsets of the bands
  bool banded = false;                          // one lambda per band
  std::vector<std::vector<double>> candidates;  // band weights; {{1}} for plain ridge
  std::vector<double> lambdas;                  // ascending
  std::vector<std::int64_t> folds;              // fold of each training stimulus
  std::int64_t n_folds = 0;
  Score score = Score::R2;
  bool intercept = true, zscore_fold = false;
  bool share_decompositions = true;  // one rank per (fold, candidate) computes it, then broadcasts
  std::string label;                 // for logs: "all layers", "layer conv1"
};

// Per local voxel: the chosen lambda (index; -1 = excluded voxel), band-weight candidate and CV score.
struct Choice {
  std::vector<std::int32_t> lambda_index, candidate;
  std::vector<double> cv_score;
  std::vector<std::uint8_t> valid;
  std::int64_t at_lower_edge = 0, at_upper_edge = 0;  // local counts, valid voxels only
};

class CvCheckpoint;

// checkpoint (optional): resume record of fit number fit_index in the output file (cv_checkpoint.h).
template <typename T>
Choice cross_validate(const Problem<T>& prob, ResponseSource<T>& src, const VoxelLayout& layout,
                      CvCheckpoint* checkpoint = nullptr, std::int64_t fit_index = 0);

// Per local voxel results of the refit on all training stimuli.
struct RefitResult {
  std::vector<double> intercept, test_r, test_r2;
};

// Receives one block of weights (p x cols, row-major, float) per round; every rank calls it the same
// number of times (layout.rounds()), with cols = 0 when it has no block left, so it may be collective.
using WeightWriter = std::function<void(std::int64_t col0, std::int64_t cols, const float* data)>;

// Refits every voxel with its chosen lambda (and band weights). writer == nullptr: no weights (the
// per-layer fits only need test scores).
template <typename T>
RefitResult refit(const Problem<T>& prob, const Choice& choice, ResponseSource<T>& src,
                  const VoxelLayout& layout, const WeightWriter* writer);

}  // namespace deepvox::fit
