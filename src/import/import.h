// Stage `import`: reads a real fMRI dataset (or builds the demo's virtual subject) into
// run_dir/responses.h5. The format is import.format; docs/import.md lists, for each format, the
// exact files import.source points at.
//
// Sample runs:
//   mpirun -n 2 build/deepvox import --config configs/demo.yaml --format virtual
//   mpirun -n 2 build/deepvox import --format nsd --source /data/nsd --subject subj01 --run-dir runs/nsd1
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::import {

// Collective: every rank of comm calls it with the same config.
void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::import
