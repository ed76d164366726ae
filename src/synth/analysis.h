// The encoding model applied to the run's own fMRI stimuli: test-set predictions (for the repetition
// analysis) and training residuals (the noise level of synthetic repetitions). Stimuli are cut into
// global chunks; every chunk's results are gathered and combined in chunk order.
#pragma once

#include <ATen/ATen.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "synth/run_inputs.h"

namespace deepvox::synth {

// Features of rows of a features file, the model's layers concatenated in model order: [rows, P].
at::Tensor read_model_features(const std::string& features_path, const EncodingModel& model,
                               const std::vector<std::int64_t>& feature_rows);

struct RunPredictions {
  std::vector<std::int64_t> test_stimuli;  // rows of responses.h5 (test split order) that have features
  at::Tensor test_pred;                    // [n_test, V] float32
  // Residual variance per voxel: mean over training trials (or training stimuli without /trials) of
  // (response - prediction)^2; 0 for invalid voxels.
  std::vector<double> residual_var;
  std::int64_t residual_samples = 0;
  bool residual_from_trials = false;
  at::Tensor residuals;  // [samples, V] float32 when asked for (ROI covariance)
};

RunPredictions predict_run(const EncodingModel& model, const std::string& features_path,
                           const Responses& responses, std::int64_t batch_size, bool keep_residuals,
                           MPI_Comm comm);

}  // namespace deepvox::synth
