// The reconstruct stage's options, read once from the config and checked (ConfigError names the key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "fit/scores.h"

namespace deepvox::reconstruct {

struct OptimizerOptions {
  int image_size = 128;
  std::int64_t iterations = 200;
  std::string optimizer = "sgd";  // sgd | adam
  double lr_start = 2.0, lr_end = 0.05;
  double momentum = 0.9;
  std::int64_t jitter = 4;
  double blur_start = 1.0, blur_end = 0.25;
  std::vector<double> layer_weights;  // empty: 1/||target||^2 per layer and image
  double prior_lr_start = 0.05, prior_lr_end = 0.001;
};

struct EvalNetworkOptions {
  std::string network, weights;  // weights "" = default
  std::vector<std::string> layers;
  int input_size = 0;
  std::string normalization;  // "" = the network's default
  int grid = 2;
};

struct LatentOptions {
  std::string generator;  // "" = latent decoding off
  std::string encoder, latent_file;
  bool train = false;
  std::int64_t train_epochs = 40, latent_dim = 32;
  int image_size = 64;
  std::vector<std::string> attribute_categories;
};

struct Options {
  std::string run_dir;
  std::string responses_path, features_path, images;  // images: manifest or brick ("" = from features.h5)
  std::string brick_dataset;
  std::vector<std::string> rois;  // empty = every valid voxel
  std::int64_t voxel_selection = 0;
  std::vector<std::string> layers;  // empty = every layer of features.h5
  std::vector<double> lambdas;
  std::int64_t folds = 5;
  fit::Score score = fit::Score::R2;
  std::int64_t target_block = 512;
  bool rescale = true;

  bool pixel_optimization = true;
  std::int64_t max_images = 8;
  std::int64_t batch_size = 4;
  OptimizerOptions opt;
  std::string prior;  // "" = pixels
  bool baseline = true;
  std::string baseline_layer;  // "" = the first decoded layer
  std::string device = "cpu";
  EvalNetworkOptions eval;
  LatentOptions latent;
  std::uint64_t seed = 0;
};

Options read_options(const Config& cfg);

}  // namespace deepvox::reconstruct
