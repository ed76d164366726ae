// Scores of predictions: cross-validation scores of every lambda, test-set r and R^2, and the
// noise ceiling from repeated trials. Sums run over rows in a fixed order (in double), so a voxel's
// score does not depend on the block it sits in, the thread count or the rank count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fit/matrix.h"

namespace deepvox::fit {

enum class Score { R2, Pearson, Sse };
Score parse_score(const std::string& name);  // throws ConfigError
const char* score_name(Score s);

// Statistics of the evaluation responses of one fold (per voxel), computed once per fold and block.
struct EvalStats {
  std::vector<double> sum, sst;  // sum of y, sum of (y - mean)^2
};
template <typename T>
EvalStats eval_stats(const T* y, std::int64_t n, std::int64_t b);

// Adds one fold's score for each lambda to acc: acc[l * acc_stride + j] for lambda l, voxel j of the
// block. pred: (L * n) x b predictions of the centred responses, lambda-major; y: n x b evaluation
// responses; ybar: the training mean added back (the intercept; zeros without one).
// R^2 = 1 - SSE/SST (0 when SST = 0), Pearson r (0 when either side is constant), or the SSE itself.
template <typename T>
void accumulate_fold_scores(Score score, const Mat<T>& pred, const T* y, const EvalStats& ys,
                            const std::vector<double>& ybar, std::int64_t n_lambdas, double* acc,
                            std::int64_t acc_stride);

// Selection value (higher is better) from the accumulated scores over k folds, and the reported CV score.
double selection_value(Score score, double accumulated, std::int64_t folds);
double reported_score(Score score, double accumulated, std::int64_t folds);

// Test-set Pearson r and R^2 (as scikit-learn's r2_score) of pred (n x b, intercept included) against y.
// NaN where undefined (constant responses or predictions for r, constant responses for R^2).
template <typename T>
void test_scores(const T* pred, const T* y, std::int64_t n, std::int64_t b, double* r, double* r2);

// Noise ceiling from repetitions (NCSNR, Allen et al. 2022, the NSD paper): per voxel,
//   sigma_noise^2  = mean over stimuli with >= 2 trials of the across-trial variance (ddof 1),
//   sigma_signal^2 = max(0, variance of all trials (ddof 1) - sigma_noise^2),
//   ncsnr = sigma_signal / sigma_noise,
//   NC = ncsnr^2 / (ncsnr^2 + mean_inv_reps)   (fraction of variance of trial-averaged responses),
// where mean_inv_reps is the mean over test stimuli of 1 / (trials averaged). The ceiling is stored
// in correlation units, sqrt(NC), so normalized r = test r / ceiling. trials: n_trials x b; stimulus:
// the stimulus of each trial (-1 = unused).
void noise_ceiling(const float* trials, std::int64_t n_trials, std::int64_t b,
                   const std::vector<std::int64_t>& stimulus, double mean_inv_reps, double* ncsnr,
                   double* ceiling_r);

}  // namespace deepvox::fit
