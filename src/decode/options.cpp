#include "decode/options.h"

#include <algorithm>

namespace deepvox::decode {

bool Options::has(const std::string& experiment) const {
  return std::find(experiments.begin(), experiments.end(), experiment) != experiments.end();
}

Options read_options(const Config& cfg) {
  Options o;
  o.responses_path = cfg.run_file("responses");
  o.synthetic_path = cfg.run_file("synthetic");
  o.experiments = cfg.strings("decode.experiments");
  for (const auto& e : o.experiments)
    if (e != "unseen_images" && e != "unseen_categories" && e != "real_vs_synthetic")
      throw ConfigError("decode.experiments: unknown experiment '" + e +
                        "' (unseen_images, unseen_categories, real_vs_synthetic)");
  if (cfg.has("decode.rois")) o.rois = cfg.strings("decode.rois");
  o.min_voxels = cfg.integer("decode.min_voxels");
  o.c_grid = cfg.reals("decode.c_grid");
  if (o.c_grid.empty()) throw ConfigError("decode.c_grid must not be empty");
  for (double c : o.c_grid)
    if (!(c > 0)) throw ConfigError("decode.c_grid values must be positive");
  std::sort(o.c_grid.begin(), o.c_grid.end());
  o.c_grid.erase(std::unique(o.c_grid.begin(), o.c_grid.end()), o.c_grid.end());
  o.cv_folds = cfg.integer("decode.cv_folds");
  if (o.cv_folds < 2) throw ConfigError("decode.cv_folds must be at least 2");
  o.max_iter = cfg.integer("decode.max_iter");
  if (o.max_iter <= 0) throw ConfigError("decode.max_iter must be positive");
  o.tol = cfg.real("decode.tol");
  if (!(o.tol > 0)) throw ConfigError("decode.tol must be positive");
  o.learning_curve = cfg.reals("decode.learning_curve");
  for (double m : o.learning_curve)
    if (!(m > 0)) throw ConfigError("decode.learning_curve multiples must be positive");
  o.learning_curve_base = cfg.integer("decode.learning_curve_base");
  if (o.learning_curve_base < 0) throw ConfigError("decode.learning_curve_base must be >= 0");
  o.max_synthetic = cfg.integer("decode.max_synthetic_images");
  if (o.max_synthetic <= 0) throw ConfigError("decode.max_synthetic_images must be positive");
  const std::string standardize = cfg.str("decode.standardize");
  if (standardize != "per_set" && standardize != "train")
    throw ConfigError("decode.standardize must be per_set or train, got '" + standardize + "'");
  o.standardize_per_set = standardize == "per_set";
  o.shuffle_control = cfg.flag("decode.shuffle_control");
  o.figures = cfg.flag("decode.figures");
  o.seed = static_cast<std::uint64_t>(cfg.integer("seed"));
  return o;
}

}  // namespace deepvox::decode
