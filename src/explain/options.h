// The explain stage's options, read once from the config and checked (ConfigError names the key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace deepvox::explain {

struct Options {
  std::string run_dir, responses_path, features_path, model_path, images, brick_dataset;
  std::vector<std::string> targets;               // ROI names or voxel:<index>
  std::vector<std::string> preferred_categories;  // empty: chosen per target from the predicted responses
  bool preferred_from_import = false;  // preferred_categories came from import.selective_categories
  std::int64_t top_k = 8;
  bool integrated_gradients = false;
  std::int64_t ig_steps = 16;
  int heatmap_size = 128;
  bool baseline = true;
  std::string masks, mask_dataset;  // masks "" = none
  std::string device = "cpu";
};

Options read_options(const Config& cfg);

}  // namespace deepvox::explain
