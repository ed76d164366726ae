#include "reconstruct/options.h"

#include <filesystem>

namespace deepvox::reconstruct {
namespace {

// A [start, end] pair of a RealList key.
void read_pair(const Config& cfg, const std::string& key, double* start, double* end, bool non_negative) {
  const auto v = cfg.reals(key);
  if (v.size() != 2) throw ConfigError(key + " must be a list of two numbers [start, end]");
  *start = v[0];
  *end = v[1];
  if (non_negative && (v[0] < 0 || v[1] < 0)) throw ConfigError(key + " must not be negative");
}

std::string optional_str(const Config& cfg, const std::string& key) {
  return cfg.has(key) ? cfg.str(key) : "";
}

}  // namespace

Options read_options(const Config& cfg) {
  Options o;
  o.run_dir = cfg.run_dir();
  o.responses_path = cfg.run_file("responses");
  o.features_path = cfg.run_file("features");
  o.images = optional_str(cfg, "extract.images");
  o.brick_dataset = cfg.str("extract.brick_dataset");
  o.rois = cfg.has("reconstruct.roi") ? cfg.strings("reconstruct.roi") : std::vector<std::string>{};
  o.voxel_selection = cfg.integer("reconstruct.voxel_selection");
  if (o.voxel_selection < 0) throw ConfigError("reconstruct.voxel_selection must be >= 0 (0 = every voxel)");
  o.layers = cfg.has("reconstruct.layers") ? cfg.strings("reconstruct.layers") : std::vector<std::string>{};
  o.lambdas = cfg.reals("reconstruct.lambdas");
  if (o.lambdas.empty()) throw ConfigError("reconstruct.lambdas must list at least one value");
  for (double l : o.lambdas)
    if (!(l > 0)) throw ConfigError("reconstruct.lambdas must be positive, got " + std::to_string(l));
  o.folds = cfg.integer("reconstruct.folds");
  if (o.folds < 2) throw ConfigError("reconstruct.folds must be at least 2");
  o.score = fit::parse_score(cfg.str("reconstruct.score"));
  o.target_block = cfg.integer("reconstruct.target_block");
  if (o.target_block <= 0) throw ConfigError("reconstruct.target_block must be positive");
  o.rescale = cfg.flag("reconstruct.rescale");

  o.pixel_optimization = cfg.flag("reconstruct.pixel_optimization");
  o.max_images = cfg.integer("reconstruct.max_images");
  if (o.max_images < 0) throw ConfigError("reconstruct.max_images must be >= 0 (0 = every test image)");
  o.batch_size = cfg.integer("reconstruct.batch_size");
  if (o.batch_size <= 0) throw ConfigError("reconstruct.batch_size must be positive");
  auto& p = o.opt;
  p.image_size = static_cast<int>(cfg.integer("reconstruct.image_size"));
  if (p.image_size < 8) throw ConfigError("reconstruct.image_size must be at least 8 pixels");
  p.iterations = cfg.integer("reconstruct.iterations");
  if (p.iterations < 1) throw ConfigError("reconstruct.iterations must be at least 1");
  p.optimizer = cfg.str("reconstruct.optimizer");
  if (p.optimizer != "sgd" && p.optimizer != "adam")
    throw ConfigError("reconstruct.optimizer must be sgd or adam, got '" + p.optimizer + "'");
  read_pair(cfg, "reconstruct.lr", &p.lr_start, &p.lr_end, true);
  p.momentum = cfg.real("reconstruct.momentum");
  if (p.momentum < 0 || p.momentum >= 1) throw ConfigError("reconstruct.momentum must be in [0, 1)");
  p.jitter = cfg.integer("reconstruct.jitter");
  if (p.jitter < 0) throw ConfigError("reconstruct.jitter must be >= 0");
  read_pair(cfg, "reconstruct.blur", &p.blur_start, &p.blur_end, true);
  if (cfg.has("reconstruct.layer_weights")) {
    p.layer_weights = cfg.reals("reconstruct.layer_weights");
    for (double w : p.layer_weights)
      if (w < 0) throw ConfigError("reconstruct.layer_weights must not be negative");
  }
  read_pair(cfg, "reconstruct.prior_lr", &p.prior_lr_start, &p.prior_lr_end, true);
  o.prior = optional_str(cfg, "reconstruct.prior");
  o.baseline = cfg.flag("reconstruct.baseline");
  o.baseline_layer = optional_str(cfg, "reconstruct.baseline_layer");
  o.device = cfg.str("reconstruct.device");
  if (o.device != "cpu" && o.device != "cuda")
    throw ConfigError("reconstruct.device must be cpu or cuda, got '" + o.device + "'");

  auto& e = o.eval;
  e.network = cfg.str("reconstruct.eval_network");
  e.weights = optional_str(cfg, "reconstruct.eval_weights");
  e.layers = cfg.has("reconstruct.eval_layers") ? cfg.strings("reconstruct.eval_layers")
                                                : std::vector<std::string>{};
  e.input_size = static_cast<int>(cfg.integer("reconstruct.eval_input_size"));
  e.normalization = optional_str(cfg, "reconstruct.eval_normalization");
  e.grid = static_cast<int>(cfg.integer("reconstruct.eval_grid"));
  if (e.grid < 1) throw ConfigError("reconstruct.eval_grid must be at least 1");

  auto& l = o.latent;
  l.generator = optional_str(cfg, "reconstruct.latent");
  l.encoder = optional_str(cfg, "reconstruct.latent_encoder");
  l.latent_file = optional_str(cfg, "reconstruct.latent_file");
  l.train = cfg.flag("reconstruct.latent_train");
  l.train_epochs = cfg.integer("reconstruct.latent_train_epochs");
  l.latent_dim = cfg.integer("reconstruct.latent_dim");
  l.image_size = static_cast<int>(cfg.integer("reconstruct.latent_image_size"));
  if (l.latent_dim < 1) throw ConfigError("reconstruct.latent_dim must be positive");
  if (l.image_size < 16 || l.image_size % 8 != 0)
    throw ConfigError("reconstruct.latent_image_size must be a multiple of 8, at least 16");
  l.attribute_categories = cfg.has("reconstruct.latent_attribute")
                               ? cfg.strings("reconstruct.latent_attribute")
                               : cfg.strings("import.selective_categories");
  if (!l.generator.empty()) {
    const bool exists = std::filesystem::exists(l.generator);
    if (!exists && !l.train)
      throw ConfigError("reconstruct.latent: generator " + l.generator +
                        " does not exist (set reconstruct.latent_train: true to train one there)");
    if (exists && l.encoder.empty() && l.latent_file.empty() && !l.train)
      throw ConfigError(
          "reconstruct.latent needs the training images' latents: set reconstruct.latent_encoder or "
          "reconstruct.latent_file");
  }
  o.seed = static_cast<std::uint64_t>(cfg.integer("seed"));
  return o;
}

}  // namespace deepvox::reconstruct
