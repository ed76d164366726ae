// Everything the stage computed, gathered on every rank in target order, and how it is written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5.h"
#include "maximize/independent.h"
#include "maximize/options.h"
#include "maximize/readout.h"
#include "maximize/targets.h"

namespace deepvox::maximize {

// Predicted objectives of the natural stimuli under one model ([N, T]) and of the generated images
// ([T*R, T]: every image scored for every target, so selectivity across targets can be read off).
struct ModelScores {
  std::string name;               // "natural", "independent", "truth"
  std::vector<double> natural;    // [N, T]
  std::vector<double> generated;  // [T*R, T]
};

struct Results {
  std::int64_t n_targets = 0, restarts = 0, size = 0;
  std::vector<std::int64_t> recorded_steps;
  std::vector<std::uint8_t> images;  // [T, R, S, S, 3]
  std::vector<float> trajectories;   // [T, R, recorded]
  std::vector<std::string> natural_ids;
  ModelScores model;                 // the encoding model of model.h5
  ModelScores independent;           // the independent validation model
  ModelScores truth;                 // the virtual subject's ground truth (empty when unavailable)
  std::string truth_note;            // why there is no truth score, when there is none
  double optimize_rank_seconds = 0;  // summed over ranks
  double optimize_wall_seconds = 0;  // slowest rank, clean scoring and chunk writes included
  double optimize_loop_seconds = 0;  // slowest rank, its optimization loops alone (what benchmarks compare)
  std::int64_t passes = 0;           // forward/backward passes, summed over chunks
};

// Per-target comparison against the natural stimuli under one model.
struct Comparison {
  std::vector<double> best_natural;            // [T]
  std::vector<std::int64_t> best_natural_row;  // [T]
  std::vector<double> own;                     // [T, R] the image's score for its own target
  std::vector<double> percentile;              // [T, R] fraction of natural stimuli scoring below
  std::vector<std::uint8_t> beats;             // [T, R] own > best natural
  double fraction_targets = 0;                 // targets whose best restart beats the best natural image
  double fraction_images = 0;                  // images beating it
};
Comparison compare(const ModelScores& s, std::int64_t n_targets, std::int64_t restarts);

// Collective: writes maximize.h5's datasets (rank 0 holds the data; every rank calls).
void write_results(const h5::File& f, const Options& o, const std::vector<Target>& targets,
                   std::int64_t n_voxels, const IndependentModel& independent, const Results& r);

// Rank 0: one PNG grid per ROI in `folder`; returns the files written.
std::vector<std::string> write_grids(const std::string& folder, const std::vector<Target>& targets,
                                     const Results& r);

}  // namespace deepvox::maximize
