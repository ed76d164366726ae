// The decode stage's options, read once from the config and checked (ConfigError names the key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace deepvox::decode {

struct Options {
  std::string responses_path, synthetic_path;
  std::vector<std::string> experiments;
  std::vector<std::string> rois;  // empty = every ROI
  std::int64_t min_voxels = 10;
  std::vector<double> c_grid;  // ascending
  std::int64_t cv_folds = 3;
  std::int64_t max_iter = 500;
  double tol = 1e-6;
  std::vector<double> learning_curve;
  std::int64_t learning_curve_base = 0;  // 0 = every real training stimulus
  std::int64_t max_synthetic = 20000;
  bool standardize_per_set = true;
  bool shuffle_control = true;
  bool figures = true;
  std::uint64_t seed = 0;
  bool has(const std::string& experiment) const;
};

Options read_options(const Config& cfg);

}  // namespace deepvox::decode
