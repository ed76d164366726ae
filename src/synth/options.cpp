#include "synth/options.h"

#include <filesystem>

#include "io/h5.h"

namespace deepvox::synth {

const char* noise_name(Noise n) {
  switch (n) {
    case Noise::None:
      return "none";
    case Noise::Iid:
      return "iid";
    case Noise::Roi:
      return "roi";
  }
  return "?";
}

Options read_options(const Config& cfg) {
  namespace fs = std::filesystem;
  Options o;
  o.model_path = cfg.has("synth.model") ? cfg.str("synth.model") : cfg.run_file("model");
  o.responses_path = cfg.run_file("responses");
  o.run_features_path = cfg.run_file("features");
  o.brick_dataset = cfg.str("synth.brick_dataset");
  if (cfg.has("synth.images") && cfg.has("synth.features"))
    throw ConfigError("synth.images and synth.features are alternatives: give one");
  if (cfg.has("synth.images")) {
    o.source = Source::Images;
    o.images_path = cfg.str("synth.images");
  } else {
    o.source = cfg.has("synth.features") ? Source::FeaturesFile : Source::RunFeatures;
    o.features_path = cfg.has("synth.features") ? cfg.str("synth.features") : o.run_features_path;
    // The images behind the features, for augmented copies: the file's own record, else extract's key.
    if (h5::is_hdf5(o.features_path)) {
      auto f = h5::File::open(o.features_path, h5::Mode::Read);
      if (f.has_attr("images")) o.images_path = f.read_attr_string("images");
    }
    if (o.images_path.empty() || !fs::exists(o.images_path))
      o.images_path = cfg.has("extract.images")
                          ? cfg.str("extract.images")
                          : (fs::path(cfg.run_dir()) / "stimuli" / "manifest.csv").string();
    if (!fs::exists(o.images_path)) o.images_path.clear();
    if (cfg.has("extract.brick_dataset")) o.brick_dataset = cfg.str("extract.brick_dataset");
  }
  o.rows = cfg.str("synth.rows");
  if (o.rows != "all" && o.rows != "train" && o.rows != "test")
    throw ConfigError("synth.rows must be all, train or test, got '" + o.rows + "'");
  o.batch_size = cfg.integer("synth.batch_size");
  if (o.batch_size <= 0) throw ConfigError("synth.batch_size must be positive");
  o.augment_copies = cfg.integer("synth.augment_copies");
  o.max_augmented = cfg.integer("synth.max_augmented_images");
  if (o.augment_copies < 0) throw ConfigError("synth.augment_copies must be >= 0");
  if (o.max_augmented < 0) throw ConfigError("synth.max_augmented_images must be >= 0");
  const std::string noise = cfg.str("synth.noise");
  if (noise == "none")
    o.noise = Noise::None;
  else if (noise == "iid")
    o.noise = Noise::Iid;
  else if (noise == "roi")
    o.noise = Noise::Roi;
  else
    throw ConfigError("synth.noise must be none, iid or roi, got '" + noise + "'");
  o.repetitions = o.noise == Noise::None ? 0 : cfg.integer("synth.repetitions");
  if (o.noise != Noise::None && o.repetitions <= 0)
    throw ConfigError("synth.repetitions must be positive with noise");
  o.cov_shrinkage = cfg.real("synth.cov_shrinkage");
  if (o.cov_shrinkage < 0 || o.cov_shrinkage > 1) throw ConfigError("synth.cov_shrinkage must be in [0, 1]");
  o.holdout_auto = !cfg.has("synth.holdout_categories");
  if (!o.holdout_auto) o.holdout_categories = cfg.strings("synth.holdout_categories");
  o.holdout_count = cfg.integer("synth.holdout_count");
  if (o.holdout_count < 0) throw ConfigError("synth.holdout_count must be >= 0");
  o.group_column = cfg.str("synth.group_column");
  o.device = cfg.str("synth.device");
  if (o.device != "cpu" && o.device != "cuda")
    throw ConfigError("synth.device must be cpu or cuda, got '" + o.device + "'");
  o.figure = cfg.flag("synth.figure");
  o.seed = static_cast<std::uint64_t>(cfg.integer("seed"));
  return o;
}

}  // namespace deepvox::synth
