// Runs the decoder jobs of a plan over the ranks: one fit per rank at a time, tasks assigned by a
// fixed rule, results gathered on every rank in task order (so nothing depends on the rank count).
//   phase 1: (job, CV fold) -> validation accuracy of every C on the path (warm starts along the path)
//   phase 2: (job) -> the best C refitted on the whole training set, predictions for the real test
//            set, and the correlation-to-template baseline.
#pragma once

#include <ATen/ATen.h>
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "decode/options.h"
#include "decode/plan.h"

namespace deepvox::decode {

// The response matrices, loaded on every rank.
struct DataStore {
  at::Tensor real, synthetic, holdout;  // [S, V], [M, V], [M, V] float32 (holdout undefined without one)
  // Rows x voxels of one kind, float64.
  at::Tensor take(DataKind kind, const std::vector<std::int64_t>& rows,
                  const std::vector<std::int64_t>& voxels) const;
};
DataStore load_data(const synth::Responses& responses, const SyntheticMeta& synthetic, const Plan& plan);

struct JobResult {
  std::vector<double> cv_accuracy;  // per C of the grid (mean over folds)
  double c = 0, best_cv_accuracy = 0;
  std::int64_t iterations = 0;
  bool converged = true;
  std::vector<std::int64_t> predicted, predicted_template;  // category per test row
  std::int64_t n_classes = 0;                               // classes the decoder could output
};

std::vector<JobResult> run_jobs(const Plan& plan, const DataStore& data, const Options& opt, MPI_Comm comm);

// Z-scores columns of train and test: each with its own statistics (per_set) or both with train's.
void standardize(at::Tensor& train, at::Tensor& test, bool per_set);

// Stratified fold of each sample: within each class, samples in order go to folds round robin.
std::vector<std::int64_t> stratified_folds(const std::vector<std::int64_t>& labels, std::int64_t folds);

}  // namespace deepvox::decode
