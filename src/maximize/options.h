// Everything the maximize stage takes from the config, resolved and checked once (no LibTorch here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace deepvox::maximize {

enum class Parameterization { Fourier, Pixel };
enum class Init { Grey, Noise, Natural };
enum class LrSchedule { Constant, Cosine, Step };

struct Options {
  std::vector<std::string> targets;  // target specs (targets.h)
  std::int64_t restarts = 2;
  std::int64_t steps = 200;
  std::int64_t image_size = 128;
  Parameterization parameterization = Parameterization::Fourier;
  bool decorrelate = true;
  double decay_power = 1.0;
  Init init = Init::Noise;
  double init_sd = 0.01;
  std::string init_image;  // "" = each target's best natural image
  double lr = 0.05;
  LrSchedule lr_schedule = LrSchedule::Cosine;
  double lr_final = 0.1;
  bool transforms = true;
  std::int64_t pad = 12;
  std::int64_t jitter = 8;
  double scale_low = 0.9, scale_high = 1.1;
  double rotate_degrees = 10;
  double tv = 0, l2 = 0, blur = 0, diversity = 0;
  double contrast_weight = 1.0;
  std::int64_t targets_per_pass = 4;
  std::int64_t record_every = 10;
  std::string device = "cpu";
  bool channels_last = false;
  std::vector<std::string> independent_layers;  // empty = every second model layer
  std::vector<double> independent_lambdas;
  bool grid = true;
  std::uint64_t seed = 0;
};

// Throws ConfigError naming the bad key and value.
Options read_options(const Config& cfg);

// The learning rate at step s of n.
double learning_rate(const Options& o, std::int64_t step);

// The steps whose objective the trajectory records: every record_every-th and the last.
std::vector<std::int64_t> recorded_steps(std::int64_t steps, std::int64_t record_every);

// Deterministic per-image random streams: a counter-based hash of (seed, target, restart, step, draw),
// so an image sees the same numbers whatever chunk or rank computes it.
std::uint64_t stream_seed(std::uint64_t seed, std::int64_t target, std::int64_t restart,
                          std::int64_t step = -1);
// Uniform in [0, 1) from a stream seed and a draw index (splitmix64).
double uniform01(std::uint64_t stream, std::uint64_t draw);

}  // namespace deepvox::maximize
