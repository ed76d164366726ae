#include "explain/options.h"

#include <filesystem>

namespace deepvox::explain {

Options read_options(const Config& cfg) {
  Options o;
  o.run_dir = cfg.run_dir();
  o.responses_path = cfg.run_file("responses");
  o.features_path = cfg.run_file("features");
  o.model_path = cfg.run_file("model");
  o.images = cfg.has("extract.images") ? cfg.str("extract.images") : "";
  o.brick_dataset = cfg.str("extract.brick_dataset");
  o.targets = cfg.has("explain.targets") ? cfg.strings("explain.targets")
                                         : std::vector<std::string>{cfg.str("import.selective_roi")};
  if (o.targets.empty()) throw ConfigError("explain.targets must name at least one ROI or voxel:<index>");
  if (cfg.has("explain.preferred_categories")) {
    o.preferred_categories = cfg.strings("explain.preferred_categories");
  } else {
    o.preferred_categories = cfg.strings("import.selective_categories");
    o.preferred_from_import = true;
  }
  o.top_k = cfg.integer("explain.top_k");
  if (o.top_k < 1) throw ConfigError("explain.top_k must be at least 1");
  const std::string method = cfg.str("explain.method");
  if (method != "gradient_x_input" && method != "integrated_gradients")
    throw ConfigError("explain.method must be gradient_x_input or integrated_gradients, got '" + method +
                      "'");
  o.integrated_gradients = method == "integrated_gradients";
  o.ig_steps = cfg.integer("explain.ig_steps");
  if (o.ig_steps < 1) throw ConfigError("explain.ig_steps must be at least 1");
  o.heatmap_size = static_cast<int>(cfg.integer("explain.heatmap_size"));
  if (o.heatmap_size < 8) throw ConfigError("explain.heatmap_size must be at least 8 pixels");
  o.baseline = cfg.flag("explain.baseline");
  if (cfg.has("explain.masks")) {
    o.masks = cfg.str("explain.masks");
    if (!std::filesystem::exists(o.masks)) throw ConfigError("explain.masks: " + o.masks + " does not exist");
  } else if (std::filesystem::exists(cfg.run_file("truth"))) {
    o.masks = cfg.run_file("truth");
  }
  o.mask_dataset = cfg.str("explain.mask_dataset");
  o.device = cfg.str("explain.device");
  if (o.device != "cpu" && o.device != "cuda")
    throw ConfigError("explain.device must be cpu or cuda, got '" + o.device + "'");
  return o;
}

}  // namespace deepvox::explain
