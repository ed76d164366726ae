// The independent validation model: "guard against exploiting one model" (issue 7).
//
// Activation maximization can find images that exploit quirks of the exact readout it climbs. So every
// generated image is also scored by a second encoding model fitted here, differing from model.h5 in both
// ways the issue names: another layer set (maximize.independent_layers; default every second layer of
// model.h5) and another cross-validation scheme (exact leave-one-out over all of /split/train instead of
// fit's K folds). It models each target's response directly: y_t = responses @ c_t, a kernel ridge with an
// unpenalized intercept in closed form (one eigendecomposition of X X^T serves every target and lambda;
// leave-one-out residuals (y - yhat) / (1 - H_ii), Rifkin & Lippert 2007, "Notes on regularized least
// squares"; a tie goes to the larger lambda, as in fit). Features are z-scored with the training
// statistics (ddof 0), as fit does.
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "maximize/readout.h"
#include "maximize/targets.h"

namespace deepvox::maximize {

struct IndependentModel {
  LinearReadout readout;       // over its own layers, one column per target
  std::vector<double> lambda;  // [T] chosen by leave-one-out
  std::vector<double> loo_r;   // [T] leave-one-out prediction r over the training stimuli
  std::vector<double> test_r;  // [T] prediction r over /split/test (NaN when there is none)
  std::int64_t n_train = 0;
};

// Collective: fitted on rank 0 (its threads only, so the result never depends on the rank count) and
// broadcast. Throws naming the file for missing datasets or stimulus ids missing from features.h5.
IndependentModel fit_independent(const std::string& features_path, const std::string& responses_path,
                                 const std::vector<std::string>& layers, const std::vector<Target>& targets,
                                 const std::vector<double>& lambdas, MPI_Comm comm);

// The default layer set: every second layer of the model (positions 1, 3, ...), or the model's only layer.
std::vector<std::string> default_independent_layers(const std::vector<std::string>& model_layers);

}  // namespace deepvox::maximize
