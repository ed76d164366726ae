// The embedded demo's virtual subject (import.format: virtual).
//
// Sample run:
//   mpirun -n 2 build/deepvox import --config configs/demo.yaml     (import.format: virtual)
//
// Steps (all collective):
//   1. the demo stimulus set: run_dir/stimuli/images/*.jpg and run_dir/stimuli/manifest.csv
//      (demo_stimuli.h);
//   2. the virtual cortex's noise-free responses to every image (virtual_cortex.h), images in chunks of
//      import.batch_size spread over ranks and gathered in chunk order;
//   3. trials: BOLD5000-like repetitions (test images import.test_repeats times, training images once)
//      in import.sessions sessions of import.runs_per_session runs, per-voxel Gaussian noise at the
//      voxel's SNR and per-session, per-voxel offsets; written as run_dir/responses.h5 by the shared
//      writer (responses_writer.h), z-scored per session by default;
//   4. run_dir/truth.h5: the generating parameters and the planted answers (truth_layout below).
// The files are bit-identical at any rank count for a fixed `threads`.
//
// truth.h5 layout (beyond the provenance attributes):
//   /stimulus_ids str [S], /noise_free float32 [S, V]     noise-free signal (unit variance per voxel)
//   /stimuli/masks uint8 [S, H, W] (1 = object), /stimuli/bbox int64 [S, 4] (x0, y0, x1, y1),
//   /stimuli/category, /stimuli/source_group int64 [S], /stimuli/test uint8 [S],
//   /stimuli/category_evidence float32 [S, C], /stimuli/sources, /stimuli/backgrounds str
//   /categories/names str [C]
//   /voxels/roi, /voxels/layer int64 [V]; /voxels/snr, /voxels/ncsnr, /voxels/noise_sd,
//   /voxels/noise_ceiling (R^2 ceiling of the mean of import.test_repeats trials), /voxels/category_r2
//   (share of noise-free variance explained by the category labels) float32 [V]
//   /sessions/offsets float32 [sessions, V]
//   /rois/names str [5], /rois/<name> uint8 [V]
//   /planted/roi_layers str [5] (what drives each ROI), /planted/roi_depth int64 [5] (the hierarchy),
//   /planted/noise_ceiling_by_roi, /planted/category_r2_by_roi float32 [5] (ROI medians)
//   /cortex/...  every parameter of the model (CortexParams::save): VirtualCortex::from_truth_file()
//                re-evaluates the ground truth on any image.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "core/config.h"

namespace deepvox::import {

void build_virtual_subject(const Config& cfg, MPI_Comm comm);

// The trial schedule (exposed for tests). Stimulus rows of the test set get `test_repeats` trials in
// distinct sessions where possible, the others one each; trials are shuffled within sessions and
// cut into runs. Sessions and runs are numbered from 1; run numbers are unique across sessions.
struct TrialSchedule {
  std::vector<std::int64_t> stimulus, session, run;  // [T]
};
TrialSchedule schedule_trials(std::int64_t n_stimuli, const std::vector<std::int64_t>& test, int test_repeats,
                              int sessions, int runs_per_session, std::uint64_t seed);

}  // namespace deepvox::import
