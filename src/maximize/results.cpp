#include "maximize/results.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/text.h"
#include "maximize/grid.h"

namespace deepvox::maximize {
namespace {

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

void write_scores(const h5::Group& g, const ModelScores& s, const Comparison& c, std::int64_t t,
                  std::int64_t r, const std::vector<std::string>& natural_ids) {
  const auto n = static_cast<std::int64_t>(natural_ids.size());
  g.write_array<float>("final", to_float(c.own), {t, r});
  g.write_array<float>("all_targets", to_float(s.generated), {t, r, t});
  g.write_array<float>("natural", to_float(s.natural), {n, t});
  g.write_vector<float>("best_natural", to_float(c.best_natural));
  g.write_vector<std::int64_t>("best_natural_index", c.best_natural_row);
  std::vector<std::string> ids;
  for (auto row : c.best_natural_row) ids.push_back(natural_ids[static_cast<size_t>(row)]);
  g.write_strings("best_natural_id", ids);
  g.write_array<float>("percentile", to_float(c.percentile), {t, r});
  g.write_array<std::uint8_t>("beats_best_natural", c.beats, {t, r});
  g.write_attr<double>("fraction_targets_beating_best_natural", c.fraction_targets);
  g.write_attr<double>("fraction_images_beating_best_natural", c.fraction_images);
}

std::string file_safe(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' ? ch : '_';
  return out.empty() ? "roi" : out;
}

}  // namespace

Comparison compare(const ModelScores& s, std::int64_t n_targets, std::int64_t restarts) {
  Comparison c;
  const auto T = static_cast<size_t>(n_targets), R = static_cast<size_t>(restarts);
  const size_t n = T ? s.natural.size() / T : 0;
  c.best_natural.assign(T, -std::numeric_limits<double>::infinity());
  c.best_natural_row.assign(T, 0);
  c.own.assign(T * R, 0.0);
  c.percentile.assign(T * R, 0.0);
  c.beats.assign(T * R, 0);
  std::int64_t targets_beating = 0, images_beating = 0;
  for (size_t t = 0; t < T; ++t) {
    std::vector<double> column(n);
    for (size_t i = 0; i < n; ++i) {
      column[i] = s.natural[i * T + t];
      if (column[i] > c.best_natural[t])
        c.best_natural[t] = column[i], c.best_natural_row[t] = static_cast<std::int64_t>(i);
    }
    std::sort(column.begin(), column.end());
    bool any = false;
    for (size_t k = 0; k < R; ++k) {
      const size_t img = t * R + k;
      const double own = s.generated[img * T + t];
      c.own[img] = own;
      c.percentile[img] =
          n ? static_cast<double>(std::lower_bound(column.begin(), column.end(), own) - column.begin()) /
                  static_cast<double>(n)
            : 0.0;
      c.beats[img] = own > c.best_natural[t];
      any = any || c.beats[img];
      images_beating += c.beats[img];
    }
    targets_beating += any;
  }
  c.fraction_targets = T ? static_cast<double>(targets_beating) / static_cast<double>(T) : 0.0;
  c.fraction_images = T ? static_cast<double>(images_beating) / static_cast<double>(T * R) : 0.0;
  return c;
}

void write_results(const h5::File& f, const Options& o, const std::vector<Target>& targets,
                   std::int64_t n_voxels, const IndependentModel& independent, const Results& r) {
  const std::int64_t T = r.n_targets, R = r.restarts, S = r.size;
  const auto n_rec = static_cast<std::int64_t>(r.recorded_steps.size());
  f.write_array<std::uint8_t>("images", r.images, {T, R, S, S, 3});
  std::vector<std::string> labels, kinds, rois;
  std::vector<std::int64_t> voxel, offset{0}, coef_voxel;
  std::vector<double> coef_weight;
  for (const auto& t : targets) {
    labels.push_back(t.label);
    kinds.push_back(t.kind);
    rois.push_back(t.roi);
    voxel.push_back(t.voxel);
    for (const auto& [v, w] : t.coefficients) coef_voxel.push_back(v), coef_weight.push_back(w);
    offset.push_back(static_cast<std::int64_t>(coef_voxel.size()));
  }
  f.write_strings("targets", labels);
  auto obj = f.create_group("objective");
  obj.write_strings("kind", kinds);
  obj.write_strings("roi", rois);
  obj.write_vector<std::int64_t>("voxel", voxel);
  // The voxel weighting of each target in CSR form: target t uses entries offset[t] .. offset[t+1].
  obj.write_vector<std::int64_t>("coefficient_offset", offset);
  obj.write_vector<std::int64_t>("coefficient_voxel", coef_voxel);
  obj.write_vector<double>("coefficient_weight", coef_weight);
  obj.write_attr<std::int64_t>("n_voxels", n_voxels);
  obj.write_attr("specs", join(o.targets, ","));

  auto traj = f.write_array<float>("trajectories", r.trajectories, {T, R, n_rec});
  traj.write_attr<std::int64_t>("steps", r.recorded_steps);
  traj.write_attr("meaning",
                  "predicted objective of each image under that step's random view, before its update");

  auto val = f.create_group("validation");
  write_scores(val.create_group("model"), r.model, compare(r.model, T, R), T, R, r.natural_ids);
  auto ind = val.create_group("independent");
  write_scores(ind, r.independent, compare(r.independent, T, R), T, R, r.natural_ids);
  ind.write_vector<double>("lambda", independent.lambda);
  ind.write_vector<double>("loo_r", independent.loo_r);
  ind.write_vector<double>("test_r", independent.test_r);
  ind.write_attr("layers", join(independent.readout.layers, ","));
  ind.write_attr<std::int64_t>("n_train", independent.n_train);
  ind.write_attr("method",
                 "kernel ridge per target on the layers named, lambda by leave-one-out over /split/train");
  if (!r.truth.generated.empty()) {
    write_scores(val.create_group("truth"), r.truth, compare(r.truth, T, R), T, R, r.natural_ids);
  } else {
    val.write_attr("truth", r.truth_note);
  }

  f.write_attr<std::int64_t>("image_size", S);
  f.write_attr<std::int64_t>("restarts", R);
  f.write_attr<std::int64_t>("steps", o.steps);
  f.write_attr("parameterization", o.parameterization == Parameterization::Fourier ? "fourier" : "pixel");
  f.write_attr<std::int64_t>("targets_per_pass", o.targets_per_pass);
  // Timings are attributes, not datasets: they are the only thing that differs between rank counts.
  f.write_attr<double>("optimize_wall_seconds", r.optimize_wall_seconds);
  f.write_attr<double>("optimize_rank_seconds", r.optimize_rank_seconds);
  f.write_attr<double>("optimize_loop_seconds", r.optimize_loop_seconds);
  f.write_attr<double>("seconds_per_target",
                       r.optimize_rank_seconds / static_cast<double>(std::max<std::int64_t>(T, 1)));
  f.write_attr<double>("passes_per_second",
                       static_cast<double>(r.passes) / std::max(r.optimize_rank_seconds, 1e-9));
}

std::vector<std::string> write_grids(const std::string& folder, const std::vector<Target>& targets,
                                     const Results& r) {
  std::filesystem::create_directories(folder);
  const auto model = compare(r.model, r.n_targets, r.restarts);
  std::vector<std::string> order;
  std::map<std::string, std::vector<size_t>> by_roi;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (!by_roi.count(targets[t].roi)) order.push_back(targets[t].roi);
    by_roi[targets[t].roi].push_back(t);
  }
  const auto image_bytes = static_cast<size_t>(r.size * r.size * 3);
  const auto R = static_cast<size_t>(r.restarts);
  std::vector<std::string> written;
  for (const auto& roi : order) {
    std::vector<GridRow> rows;
    for (auto t : by_roi[roi]) {
      GridRow row;
      row.label = targets[t].label;
      for (size_t k = 0; k < R; ++k) {
        row.images.push_back(r.images.data() + (t * R + k) * image_bytes);
        char caption[64];
        std::snprintf(caption, sizeof caption, "%.3g (nat %.3g)", model.own[t * R + k],
                      model.best_natural[t]);
        row.captions.emplace_back(caption);
      }
      rows.push_back(row);
    }
    const std::string path = (std::filesystem::path(folder) / (file_safe(roi) + ".png")).string();
    write_grid(path, roi + ": predicted objective of each image (best natural image)", rows,
               static_cast<int>(r.size));
    written.push_back(path);
  }
  return written;
}

}  // namespace deepvox::maximize
