// Stage `decode` (issue 6, seed 001): category decoders (L2 multinomial logistic regression with
// cross-validated C, and a correlation-to-template baseline) trained on synthetic or real responses and
// tested on held-out real fMRI: unseen images, unseen categories, real vs synthetic with a learning
// curve, and a shuffled-label control, into run_dir/decoding.h5 plus PNG figures. Independent fits are
// spread over ranks and gathered in a fixed order, so results are bit-identical at any rank count.
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::decode {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::decode
