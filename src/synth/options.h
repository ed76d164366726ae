// The synth stage's options, read once from the config and checked (ConfigError names the key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace deepvox::synth {

enum class Source { RunFeatures, FeaturesFile, Images };
enum class Noise { None, Iid, Roi };

struct Options {
  std::string model_path, responses_path, run_features_path;
  Source source = Source::RunFeatures;
  std::string features_path;  // rows' features (RunFeatures, FeaturesFile)
  std::string images_path;    // the image set: synth.images, else the features file's images (may not exist)
  std::string brick_dataset;
  std::string rows = "all";
  std::int64_t batch_size = 16;
  std::int64_t augment_copies = 0, max_augmented = 0;
  Noise noise = Noise::None;
  std::int64_t repetitions = 0;
  double cov_shrinkage = 0.1;
  bool holdout_auto = true;
  std::vector<std::string> holdout_categories;
  std::int64_t holdout_count = 2;
  std::string group_column;
  std::string device = "cpu";
  bool figure = true;
  std::uint64_t seed = 0;
};

Options read_options(const Config& cfg);
const char* noise_name(Noise n);

}  // namespace deepvox::synth
