// Stage `synth` (issue 6, seed 001): synthetic fMRI responses to any image set from the fitted encoding
// model, optional noisy synthetic repetitions, a refitted model without held-out categories (for the
// unseen-categories decoder), and the synthetic-vs-real repetition comparison, into run_dir/synthetic.h5
// plus run_dir/synthetic_repetition.png. Images are global chunks of synth.batch_size, so the file is
// bit-identical at any rank count (with a fixed `threads`).
#pragma once

#include <mpi.h>

#include "core/config.h"

namespace deepvox::synth {

void run(const Config& cfg, MPI_Comm comm);

}  // namespace deepvox::synth
