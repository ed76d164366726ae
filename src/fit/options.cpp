#include "fit/options.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

namespace deepvox::fit {

std::vector<double> default_lambdas() {
  std::vector<double> l;
  for (int i = 0; i <= 20; ++i) l.push_back(std::pow(10.0, -2.0 + 0.5 * i));
  return l;
}

Options read_options(const Config& cfg) {
  Options o;
  o.features_path = cfg.run_file("features");
  o.responses_path = cfg.run_file("responses");
  o.lambdas = cfg.has("fit.lambdas") ? cfg.reals("fit.lambdas") : default_lambdas();
  if (o.lambdas.empty()) throw ConfigError("fit.lambdas is empty");
  for (double l : o.lambdas)
    if (!(l > 0) || !std::isfinite(l))
      throw ConfigError("fit.lambdas must be finite and > 0 (got " + std::to_string(l) + ")");
  std::sort(o.lambdas.begin(), o.lambdas.end());
  o.lambdas.erase(std::unique(o.lambdas.begin(), o.lambdas.end()), o.lambdas.end());

  o.folds = cfg.integer("fit.folds");
  if (o.folds < 2) throw ConfigError("fit.folds must be at least 2 (got " + std::to_string(o.folds) + ")");
  o.fold_by = cfg.has("fit.fold_by") ? cfg.str("fit.fold_by") : "";
  o.intercept = cfg.flag("fit.intercept");
  o.score = parse_score(cfg.str("fit.score"));
  const std::string z = cfg.str("fit.zscore");
  if (z == "train") {
    o.zscore = ZScore::Train;
  } else if (z == "fold") {
    o.zscore = ZScore::Fold;
  } else if (z == "none") {
    o.zscore = ZScore::None;
  } else {
    throw ConfigError("fit.zscore must be train, fold or none (got '" + z + "')");
  }
  if (cfg.has("fit.layers")) o.layers = cfg.strings("fit.layers");
  o.banded = cfg.flag("fit.banded");
  o.banded_search = cfg.str("fit.banded_search");
  if (o.banded_search != "random" && o.banded_search != "grid")
    throw ConfigError("fit.banded_search must be random or grid (got '" + o.banded_search + "')");
  o.banded_candidates = cfg.integer("fit.banded_candidates");
  o.banded_grid_steps = cfg.integer("fit.banded_grid_steps");
  if (o.banded_candidates < 0) throw ConfigError("fit.banded_candidates must be >= 0");
  if (o.banded_grid_steps < 1) throw ConfigError("fit.banded_grid_steps must be >= 1");
  o.per_layer = cfg.flag("fit.per_layer");
  const std::string prec = cfg.str("fit.precision");
  if (prec != "float32" && prec != "float64")
    throw ConfigError("fit.precision must be float32 or float64 (got '" + prec + "')");
  o.float64 = prec == "float64";
  o.voxel_block = cfg.integer("fit.voxel_block");
  if (o.voxel_block < 1) throw ConfigError("fit.voxel_block must be >= 1");
  o.cache_mb = cfg.integer("fit.cache_mb");
  if (o.cache_mb < 0) throw ConfigError("fit.cache_mb must be >= 0");
  const std::string io = cfg.str("fit.weights_io");
  if (io != "auto" && io != "collective" && io != "independent")
    throw ConfigError("fit.weights_io must be auto, collective or independent (got '" + io + "')");
  o.weights_io = io == "auto"         ? WeightsIo::Auto
                 : io == "collective" ? WeightsIo::Collective
                                      : WeightsIo::Independent;
  o.share_decompositions = cfg.flag("fit.share_decompositions");
  o.seed = static_cast<std::uint64_t>(cfg.integer("seed"));
  return o;
}

std::vector<std::vector<double>> band_candidates(std::int64_t bands, const std::string& search,
                                                 std::int64_t count, std::int64_t steps, std::uint64_t seed) {
  std::vector<std::vector<double>> out;
  const auto nb = static_cast<size_t>(bands);
  if (bands <= 1) return {{1.0}};
  if (search == "grid") {
    // Every composition of `steps` into `bands` non-negative parts.
    std::vector<std::int64_t> parts(nb, 0);
    std::function<void(size_t, std::int64_t)> rec = [&](size_t i, std::int64_t left) {
      if (i + 1 == nb) {
        parts[i] = left;
        std::vector<double> g(nb);
        for (size_t k = 0; k < nb; ++k) g[k] = static_cast<double>(parts[k]) / static_cast<double>(steps);
        out.push_back(g);
        return;
      }
      for (std::int64_t v = left; v >= 0; --v) {
        parts[i] = v;
        rec(i + 1, left - v);
      }
    };
    rec(0, steps);
  } else {
    out.push_back(std::vector<double>(nb, 1.0 / static_cast<double>(bands)));
    for (size_t b = 0; b < nb; ++b) {
      std::vector<double> g(nb, 0.0);
      g[b] = 1.0;
      out.push_back(g);
    }
    // Dirichlet(1) = normalized exponentials; our own transform keeps the stream identical everywhere.
    std::mt19937_64 rng(seed ^ 0x6669745f62616e64ULL);
    for (std::int64_t c = 0; c < count; ++c) {
      std::vector<double> g(nb);
      double sum = 0;
      for (auto& v : g) {
        const double u = (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
        v = -std::log(u);
        sum += v;
      }
      for (auto& v : g) v /= sum;
      out.push_back(g);
    }
  }
  std::vector<std::vector<double>> unique;
  for (auto& g : out)
    if (std::find(unique.begin(), unique.end(), g) == unique.end()) unique.push_back(g);
  return unique;
}

}  // namespace deepvox::fit
