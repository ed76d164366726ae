// Feature decoding (Horikawa & Kamitani 2017; Shen et al. 2019, seed 002): ridge regression from voxel
// responses to every unit of a DNN layer (or any targets, such as a generator's latents), with a
// cross-validated lambda per target. It reuses fit's solver (fit/ridge_solver.h): one eigendecomposition
// per fold of the voxel design, then every lambda for a block of targets by batched GEMMs.
//
// Targets are cut into global chunks of a fixed size; ranks take whole chunks and the results are
// broadcast chunk by chunk in chunk order, so every rank ends with every decoded target and the numbers
// do not depend on the rank count.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fit/matrix.h"
#include "fit/scores.h"

namespace deepvox::reconstruct {

// Voxel responses of the training then the test stimuli, and how lambda is chosen.
struct DecodeDesign {
  fit::Mat<float> x;  // (n_train + n_test) x V, z-scored with the training statistics
  std::int64_t n_train = 0, n_test = 0;
  std::vector<std::int64_t> folds;  // fold of each training row
  std::int64_t n_folds = 0;
  std::vector<double> lambdas;  // ascending
  fit::Score score = fit::Score::R2;
};

// Builds the design from raw responses (rows: training stimuli then test stimuli): z-scores each voxel
// with the training mean and s.d. (ddof 0; a constant voxel becomes 0) and cuts contiguous folds.
DecodeDesign make_design(fit::Mat<float> responses, std::int64_t n_train, std::int64_t folds,
                         std::vector<double> lambdas, fit::Score score);

// Returns the targets' columns [c0, c0 + b) for the training then the test rows ((n_train + n_test) x b).
using TargetLoader = std::function<fit::Mat<float>(std::int64_t c0, std::int64_t b)>;

struct Decoded {
  fit::Mat<float> test;                               // n_test x D: decoded targets of the test stimuli
  fit::Mat<float> truth;                              // n_test x D: their true values (from the loader)
  std::vector<double> lambda;                         // D: chosen lambda
  std::vector<float> cv_score;                        // D: cross-validation score at that lambda
  std::vector<float> train_mean, train_sd;            // D: training statistics of each target (ddof 0)
  std::int64_t at_lower_edge = 0, at_upper_edge = 0;  // targets whose lambda is at an end of the grid
};

// Collective over comm. `label` names the problem in logs ("layer mixed2").
Decoded decode_targets(const DecodeDesign& design, std::int64_t n_targets, std::int64_t block,
                       const TargetLoader& load, MPI_Comm comm, const std::string& label);

// Ridge shrinks predictions towards the mean; like Shen et al., give each decoded target the training
// mean and s.d. across test stimuli: d' = (d - mean_test(d)) / sd_test(d) * sd_train + mean_train.
// Needs at least two test stimuli (else nothing changes); a constant decoded column keeps its values.
void rescale_to_training(Decoded& d);

// Voxel selection by training correlation: each voxel's score is its mean squared Pearson correlation
// with the given targets over the training rows (x_train: n x V, targets: n x m). Returns the `keep`
// best voxel columns in ascending column order (ties go to the lower column).
std::vector<std::int64_t> select_voxels(const fit::Mat<float>& x_train, const fit::Mat<float>& targets,
                                        std::int64_t keep);

// Quality of decoded features on the test set, with every target first z-scored by its training mean and
// s.d. (so units with large means do not dominate the patterns).
struct DecodingScores {
  double profile_r = 0;                             // mean over targets of Pearson r across test stimuli
  double pattern_r = 0;                             // mean over test stimuli of Pearson r across targets
  double identification = 0, identification_p = 1;  // pairwise identification among the test stimuli
  double identification_perm_p = 1;                 // its permutation p-value
};
DecodingScores score_decoding(const Decoded& d);

}  // namespace deepvox::reconstruct
