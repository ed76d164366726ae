// The decoding experiments as independent decoder jobs (one training set, one ROI, one real test set).
// Built identically on every rank from responses.h5 and synthetic.h5:
//   unseen_images      synthetic responses to the training-split images -> real responses to test images
//   unseen_categories  synthetic responses from the model refitted without the held-out categories
//                      -> real test responses of those categories (accuracy on them; seen ones reported too)
//   real_vs_synthetic  real training responses (all, or a category-balanced subset of
//                      decode.learning_curve_base), then synthetic sets of 1x, 2x, 5x, 10x that count (the
//                      same images, then the other training images, new images outside the fMRI set, then
//                      augmented copies; capped by decode.max_synthetic_images) -> real test responses
//   controls/shuffled_labels  unseen_images with permuted training labels: must fall to chance
// No synthetic training row ever comes from a test image, an augmented copy of one, or an image sharing
// its source photo (synthetic.h5 /groups).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decode/options.h"
#include "synth/run_inputs.h"

namespace deepvox::decode {

enum class DataKind { Real, Synthetic, Holdout };

// synthetic.h5, the parts decode needs.
struct SyntheticMeta {
  std::string path;
  std::int64_t rows = 0;
  std::vector<std::int64_t>
      category;  // per row: index into responses.h5 /categories/names, -1 = unknown/other
  std::vector<std::int64_t> source_index, copy, responses_index;
  std::vector<std::string> groups;
  std::vector<std::string> held_out;  // empty when there is no /holdout model
  static SyntheticMeta read(const std::string& path, const synth::Responses& responses);
};

struct Roi {
  std::string name;
  std::vector<std::int64_t> voxels;
};
std::vector<Roi> select_rois(const Options& opt, const synth::Responses& responses);

struct Job {
  std::string key;  // identical jobs are computed once
  std::int64_t roi = 0;
  DataKind kind = DataKind::Real;
  std::vector<std::int64_t> train_rows, train_labels;  // labels: category indices
  std::vector<std::int64_t> test_rows, test_labels;    // real responses (responses.h5 rows)
  double cost() const;
};

struct Condition {
  std::string name;
  std::int64_t n_train = 0;
  std::vector<std::int64_t> jobs;  // one per ROI
};

struct Experiment {
  std::string name;
  std::string group;  // "experiments" or "controls"
  std::vector<Condition> conditions;
  // Test items scored (unseen_categories: the held-out categories; others: all) and the complement.
  std::vector<bool> scored;
  bool report_complement = false;
  std::vector<std::string> held_out;
  // real_vs_synthetic: conditions [1, ...] are the learning curve at these multiples.
  std::vector<double> multiples;
};

struct Plan {
  std::vector<std::string> classes;  // responses.h5 category names
  std::vector<Roi> rois;
  std::vector<Job> jobs;
  std::vector<Experiment> experiments;
};

Plan build_plan(const Options& opt, const synth::Responses& responses, const SyntheticMeta& synthetic);

}  // namespace deepvox::decode
