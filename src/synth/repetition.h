// The paper's headline comparison (seed 001): is a synthetic response closer to a real repetition
// than another real repetition is? On the test stimuli with K >= 2 repetitions:
//   syn_vs_rep          mean over k of corr(synthetic, rep_k)
//   rep_vs_rep          mean over k != l of corr(rep_k, rep_l)        (real against real)
//   rep_vs_mean_others  mean over k of corr(rep_k, mean of the other reps)   (the stronger real baseline)
//   syn_vs_mean         corr(synthetic, mean of all reps)
// "voxel" measures correlate over stimuli, one value per voxel; "pattern" measures correlate over an
// ROI's voxels, one value per stimulus (what the paper plots per ROI).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepvox::synth {

constexpr int kMeasures = 4;
extern const char* const kMeasureNames[kMeasures];  // syn_vs_rep, rep_vs_rep, rep_vs_mean_others, syn_vs_mean

struct RoiRepetition {
  std::string name;
  std::int64_t n_voxels = 0;
  std::vector<double> pattern[kMeasures];  // [n_stimuli] each
  double voxel_mean[kMeasures] = {};       // mean over the ROI's voxels of the voxel measures
  double pattern_mean[kMeasures] = {};     // mean over stimuli of the pattern measures
  double voxel_fraction_syn_better = 0;    // voxels with syn_vs_rep > rep_vs_rep
  double voxel_sign_p = 1;                 // sign test over voxels (voxels are not independent: descriptive)
  double pattern_fraction_syn_better = 0;  // stimuli with pattern syn_vs_rep > rep_vs_rep
  double pattern_sign_p = 1;               // sign test over stimuli
};

struct RepetitionResult {
  std::int64_t repetitions = 0;          // K
  std::vector<std::int64_t> stimuli;     // rows of responses.h5 used
  std::vector<double> voxel[kMeasures];  // [V] each, NaN for invalid voxels
  std::vector<RoiRepetition> rois;       // "all" (every valid voxel) first, then each ROI
};

// pred: [n, V] synthetic responses; reps: K tensors [n, V] of real single trials, rep k of each stimulus.
RepetitionResult repetition_analysis(
    const at::Tensor& pred, const std::vector<at::Tensor>& reps, const std::vector<std::uint8_t>& valid,
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois);

// One log line per ROI and a verdict naming where synthetic beats real and by how much.
std::vector<std::string> describe_repetition(const RepetitionResult& r);

}  // namespace deepvox::synth
