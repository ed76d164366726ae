// Writes a FmriDataset as run_dir/responses.h5 (run-files.md layout), doing the work every reader
// shares: checks, optional per-session z-scoring, NaN/constant-voxel flagging, per-stimulus means,
// repetition groups and the train/test split.
//
// Collective: every rank calls it. The dataset is taken from rank 0; other ranks may pass an empty
// one. All computation happens on rank 0 in a fixed order, so every dataset is bit-identical at any
// rank count; the file is written through parallel HDF5 (RunFile: .partial, then rename).
//
// Layout beyond run-files.md (documented in docs/import.md):
//   /repetitions/count         int64 [S]    trials per stimulus
//   /repetitions/offset        int64 [S+1]  CSR offsets into trial_index
//   /repetitions/trial_index   int64 [T]    trials of stimulus s: trial_index[offset[s]:offset[s+1]]
//   /repetitions/stimulus_index int64 [R]   stimuli shown at least twice (the repetition set)
//   /stimulus_paths            str [S]      image file per stimulus, when the reader knows it
//   /voxels/xyz                float64 [V,3] scanner coordinates in mm, when the source has them
//   root attrs: format, source, subject, zscore, split_rule, n_invalid_voxels, stimulus_images
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "import/dataset.h"

namespace deepvox::import {

struct WriteOptions {
  // Optional [S] group of each stimulus (e.g. the source photo of augmented copies): a seeded split
  // keeps every group on one side, and keeps a group's stimuli adjacent in /split/train (so fit's
  // contiguous folds never cut a group). -1 = no group.
  std::vector<std::int64_t> split_groups;
  // "session" or "none": used when import.zscore is unset.
  std::string zscore_default = "none";
  std::string split_rule;         // stored as an attribute when the reader gave the split
  std::string stimulus_images;    // stored as the root attribute stimulus_images
  std::vector<double> voxel_xyz;  // [V*3], optional
};

void write_responses(FmriDataset ds, const Config& cfg, MPI_Comm comm);
void write_responses(FmriDataset ds, const Config& cfg, MPI_Comm comm, const WriteOptions& options);

// The pieces of the writer, exposed for tests.
struct Cleaned {
  std::vector<std::uint8_t> valid;  // [V]
  std::int64_t nonfinite_values = 0;
};
// In place on row-major [T, V] trials: per-session z-scoring (ddof 0) when zscore, NaN/inf -> 0,
// voxels with non-finite values, no variance over all trials, or (zscore) no variance in a session
// flagged invalid.
Cleaned clean_trials(std::vector<float>& trials, std::int64_t n_voxels,
                     const std::vector<std::int64_t>& session, bool zscore);
// Seeded train/test split (rows of stimulus_ids); see docs/import.md for the rule.
void seeded_split(std::int64_t n_stimuli, const std::vector<std::int64_t>& category,
                  const std::vector<std::int64_t>& groups, double test_fraction, std::uint64_t seed,
                  std::vector<std::int64_t>& train, std::vector<std::int64_t>& test);

}  // namespace deepvox::import
