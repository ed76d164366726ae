// The fit stage's options, read once from the config and checked (ConfigError names the key).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "fit/scores.h"

namespace deepvox::fit {

enum class ZScore { Train, Fold, None };
// MPI-IO mode of the /weights writes; Auto: independent when >= 4 ranks share one node (fit.cpp).
enum class WeightsIo { Auto, Collective, Independent };

struct Options {
  std::string features_path, responses_path;
  std::vector<double> lambdas;  // ascending, distinct, > 0
  std::int64_t folds = 5;
  std::string fold_by;  // empty: contiguous folds
  bool intercept = true;
  Score score = Score::R2;
  ZScore zscore = ZScore::Train;
  std::vector<std::string> layers;  // empty: all, in file order
  bool banded = false;
  std::string banded_search = "random";
  std::int64_t banded_candidates = 16, banded_grid_steps = 4;
  bool per_layer = false;
  bool float64 = false;
  std::int64_t voxel_block = 1024;
  std::int64_t cache_mb = 4096;
  WeightsIo weights_io = WeightsIo::Auto;
  bool share_decompositions = true;
  std::uint64_t seed = 0;
};

Options read_options(const Config& cfg);

// The default grid: 10^-2 ... 10^8 in steps of 10^0.5 (21 values).
std::vector<double> default_lambdas();

// Band-weight candidates on the simplex for banded ridge (each sums to 1): random = the centre, each
// vertex (one layer alone) and `count` Dirichlet(1) samples from `seed`; grid = every vector of
// multiples of 1/steps. Duplicates removed, order fixed.
std::vector<std::vector<double>> band_candidates(std::int64_t bands, const std::string& search,
                                                 std::int64_t count, std::int64_t steps, std::uint64_t seed);

}  // namespace deepvox::fit
