// A small planted encoding problem for the maximize tests, built for real through the pipeline's own
// files: a tiny TorchScript CNN (seeded weights, taps conv1 and conv2), 64 procedurally drawn 32x32
// "natural" images as PNGs with a manifest, features.h5 written by the real extract stage, and a
// responses.h5 / model.h5 pair whose ridge weights are planted: responses = the planted model's
// prediction plus a little noise, so model.h5 is exactly the generating model.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace deepvox::maximize::testing {

struct PlantedProblem {
  std::string dir;  // holds the net, images, manifest and the run files
  std::int64_t n_images = 64, n_train = 52, n_voxels = 12;
  std::vector<std::string> rois = {"early", "late"};  // voxels 0..5 and 6..11
  std::int64_t input_size = 32;
  std::string net_path, manifest_path;
};

// Collective over comm: rank 0 writes the files, extract runs on every rank of comm.
PlantedProblem build_planted_problem(const std::string& dir, MPI_Comm comm);

// The config of a maximize run on the problem in run_dir (inputs copied there by rank 0 of comm), with
// small settings; `overrides` ("key=value") come last.
Config planted_config(const PlantedProblem& p, const std::string& run_dir,
                      const std::vector<std::string>& overrides, MPI_Comm comm);

}  // namespace deepvox::maximize::testing
