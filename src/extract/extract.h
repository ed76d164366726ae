// Stage `extract`: multi-layer CNN activations of every stimulus, adaptively pooled per layer,
// written collectively into run_dir/features.h5 (run-files.md). Ranks take whole batches
// (global chunks of extract.batch_size images), so the file is bit-identical at any rank count.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::extract {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::extract
