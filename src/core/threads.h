// Threads per rank: the `threads` key, or the CPUs in this rank's affinity mask (decisions.md).
#pragma once

#include "core/config.h"

namespace deepvox {

// Resolves `threads`, applies it to OpenMP (LibTorch and OpenBLAS-openmp share it) and returns it.
int apply_threads(const Config& cfg);
int affinity_cpus();

}  // namespace deepvox
