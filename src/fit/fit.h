// Stage `fit`: voxelwise ridge encoding models with a cross-validated lambda per voxel (issue 5).
//
// Sample runs:
//   mpirun -n 2 --map-by slot:PE=1 deepvox fit --config configs/demo.yaml
//   deepvox fit --set fit.per_layer=true --set fit.lambdas=[1,10,100]
//
// Description:
//   Reads run_dir/features.h5 (any file with /stimulus_ids and /features/<layer>) and
//   run_dir/responses.h5, matches stimuli by id, z-scores the features with the training statistics,
//   picks each voxel's lambda (or band lambdas) by k-fold cross-validation, refits on all training
//   stimuli and scores the held-out test set. Voxels are distributed over ranks in fixed global blocks
//   (a PETSc layout), so results are identical at any rank count. Writes run_dir/model.h5.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::fit {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::fit
