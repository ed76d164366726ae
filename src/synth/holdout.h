// The encoding model refitted without some categories, for the unseen-categories experiment: a decoder
// can only be said to classify "categories never seen in the fMRI training data" if the model that
// made its synthetic training data never saw them either. Same features, same z-scoring rule and the
// same per-voxel lambda as model.h5, on the training stimuli outside the held-out categories, solved in
// the dual (kernel) form: one eigendecomposition of X X^T, then every voxel with its own lambda.
#pragma once

#include <ATen/ATen.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "synth/run_inputs.h"

namespace deepvox::synth {

class HoldoutModel {
 public:
  // Collective. Kernel rows and voxel blocks are global chunks gathered in order (rank-count independent).
  static HoldoutModel fit(const EncodingModel& model, const std::string& features_path,
                          const Responses& responses, const std::vector<std::string>& held_out,
                          MPI_Comm comm);
  const std::vector<std::string>& categories() const { return categories_; }
  std::int64_t n_train() const { return xz_.size(0); }
  at::Tensor predict(const at::Tensor& features) const;  // [B, P] -> [B, V]

 private:
  std::vector<std::string> categories_;
  at::Tensor mean_, inv_std_, xz_, dual_, intercept_;  // [P], [P], [n, P], [n, V], [V]
};

}  // namespace deepvox::synth
