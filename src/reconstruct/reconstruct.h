// Stage `reconstruct`: images from brain activity (issue 8; seeds 002 and 004).
//
//   mpirun -n 2 deepvox reconstruct --config configs/demo.yaml
//   deepvox reconstruct --config configs/demo.yaml --latent runs/demo/autoencoder.pt
//
// 1. Feature decoding: ridge from voxels (an ROI set, optionally the voxels most correlated with each
//    layer on the training stimuli) to every feature of each chosen layer of features.h5, with a lambda
//    per feature by cross-validation; decoded features are rescaled to the training statistics.
// 2. Pixel optimization: test images are optimized to match the decoded features at several layers
//    (or, with reconstruct.prior, a generator's latent), next to a single-layer, no-prior baseline.
// 3. Evaluation: pixel correlation, and pairwise identification in another network's feature space
//    with binomial p-values, for both. With reconstruct.latent, latent decoding (seed 004) as well.
// Writes run_dir/reconstruct.h5 and PNG grids under run_dir/reconstruct/.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::reconstruct {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::reconstruct
