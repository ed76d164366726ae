#include "fit/fit.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>

#include "core/log.h"
#include "core/mpi.h"
#include "core/run_file.h"
#include "fit/blas.h"
#include "fit/cv_checkpoint.h"
#include "fit/cv_engine.h"
#include "fit/folds.h"
#include "fit/inputs.h"
#include "fit/model_writer.h"
#include "fit/options.h"
#include "fit/petsc_voxels.h"

namespace deepvox::fit {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Features z-scored with the statistics of all training stimuli (ddof 0, scale 1 where constant),
// as himalaya and scikit-learn's StandardScaler do (decisions.md).
template <typename T>
struct Standardized {
  Mat<T> x;
  std::vector<float> mean, scale;
};

template <typename T>
Standardized<T> standardize(const Mat<float>& raw, std::int64_t n_train, ZScore z) {
  const std::int64_t p = raw.cols;
  Standardized<T> s;
  std::vector<double> mean(static_cast<size_t>(p), 0.0), scale(static_cast<size_t>(p), 1.0);
  if (z != ZScore::None) {
    for (std::int64_t i = 0; i < n_train; ++i)
      for (std::int64_t j = 0; j < p; ++j) mean[j] += raw(i, j);
    for (auto& m : mean) m /= static_cast<double>(n_train);
    std::vector<double> sq(static_cast<size_t>(p), 0.0);
    for (std::int64_t i = 0; i < n_train; ++i)
      for (std::int64_t j = 0; j < p; ++j) sq[j] += (raw(i, j) - mean[j]) * (raw(i, j) - mean[j]);
    for (std::int64_t j = 0; j < p; ++j) {
      const double sd = std::sqrt(sq[j] / static_cast<double>(n_train));
      scale[j] = sd > 0 ? sd : 1.0;
    }
  }
  s.x.resize(raw.rows, p);
  for (std::int64_t i = 0; i < raw.rows; ++i)
    for (std::int64_t j = 0; j < p; ++j) s.x(i, j) = static_cast<T>((raw(i, j) - mean[j]) / scale[j]);
  s.mean.assign(mean.begin(), mean.end());
  s.scale.assign(scale.begin(), scale.end());
  return s;
}

template <typename T>
Mat<T> columns(const Mat<T>& x, std::int64_t c0, std::int64_t c1) {
  Mat<T> out(x.rows, c1 - c0);
  for (std::int64_t i = 0; i < x.rows; ++i) std::copy(x.row(i) + c0, x.row(i) + c1, out.row(i));
  return out;
}

std::int64_t sum_over_ranks(std::int64_t v, MPI_Comm comm) {
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT64_T, MPI_SUM, comm);
  return v;
}

// Peak resident memory of this process (VmHWM), in MiB.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024.0;
    }
  }
  return 0;
}

// The achieved rate of the dominant products and the peak memory, the most any rank reached.
void log_compute_summary(MPI_Comm comm) {
  const auto c = blas::counters();
  double v[4] = {c.gemm_seconds + c.syrk_seconds, c.eig_seconds, peak_rss_mib(), 0};
  MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_DOUBLE, MPI_MAX, comm);
  const double flops = c.gemm_flops + c.syrk_flops;
  log::info(
      "fit: rank 0 BLAS products {:.1f} GFLOP in {:.2f} s = {:.1f} GFLOP/s (gemm {:.1f} GFLOP/s, syrk {:.1f} "
      "GFLOP/s); eigendecompositions {:.2f} s; peak RSS per rank {:.0f} MiB",
      flops * 1e-9, c.gemm_seconds + c.syrk_seconds,
      flops * 1e-9 / std::max(c.gemm_seconds + c.syrk_seconds, 1e-9),
      c.gemm_flops * 1e-9 / std::max(c.gemm_seconds, 1e-9),
      c.syrk_flops * 1e-9 / std::max(c.syrk_seconds, 1e-9), c.eig_seconds, v[2]);
}

// The MPI-IO mode of the /weights writes. A rank's block is P strided rows of its voxel columns; on one
// node, independent writes of those rows beat MPI-IO's two-phase aggregation from 4 ranks up (16-core
// Sapphire Rapids, 1.6 GB of weights: 5.9 s -> 1.2 s at 8 ranks), while at 2 ranks and across nodes
// (parallel file systems with byte-range locks) collective is the safe choice.
h5::Transfer weights_transfer(WeightsIo mode, MPI_Comm comm) {
  const bool independent =
      mode == WeightsIo::Auto ? size(comm) >= 4 && one_node(comm) : mode == WeightsIo::Independent;
  return independent ? h5::Transfer::independent : h5::Transfer::collective;
}

VoxelVec field(const VoxelLayout& layout, const std::vector<double>& local) {
  VoxelVec v(layout);
  v.set_local(local);
  return v;
}

// Noise ceiling and NCSNR per local voxel (NaN without repetitions).
template <typename T>
void noise_ceilings(const ResponseMeta& meta, ResponseSource<T>& src, const VoxelLayout& layout,
                    std::vector<double>& ncsnr, std::vector<double>& ceiling) {
  const std::int64_t nv = layout.local();
  ncsnr.assign(static_cast<size_t>(nv), kNaN);
  ceiling.assign(static_cast<size_t>(nv), kNaN);
  std::map<std::int64_t, std::int64_t> reps;
  for (auto s : meta.trial_stimulus) ++reps[s];
  double inv = 0;
  for (auto s : meta.test) inv += 1.0 / static_cast<double>(std::max<std::int64_t>(reps[s], 1));
  const double mean_inv_reps = meta.test.empty() ? 1.0 : inv / static_cast<double>(meta.test.size());
  log::info(
      "fit: noise ceiling from {} trials (NCSNR, Allen et al. 2022); test stimuli average {:.2f} trials",
      meta.trial_stimulus.size(), 1.0 / mean_inv_reps);
  for (size_t i = 0; i < src.count(); ++i) {
    const auto [c0, c1] = layout.blocks()[i];
    const Mat<float> trials = src.trials(i);
    const std::int64_t j0 = c0 - layout.begin();
    noise_ceiling(trials.data(), trials.rows, c1 - c0, meta.trial_stimulus, mean_inv_reps, ncsnr.data() + j0,
                  ceiling.data() + j0);
  }
}

template <typename T>
void run_typed(const Config& cfg, const Options& opt, MPI_Comm comm) {
  const auto t_start = Clock::now();
  const int threads = std::max(1, omp_get_max_threads());
  blas::set_threads(threads);
  blas::reset_counters();
  log::info("fit: {} rank(s) x {} OpenBLAS thread(s), {} kernels, {} compute", size(comm), threads,
            blas::core_name(), opt.float64 ? "float64" : "float32");
  if (const std::string advice = blas::kernel_advice(); !advice.empty()) log::warn("fit: {}", advice);

  // 1. Inputs: stimuli matched by id, features of the training then the test stimuli.
  const ResponseMeta meta = read_response_meta(opt.responses_path);
  FeatureSet fs = read_features(opt.features_path, meta, opt.layers);
  const auto n_train = static_cast<std::int64_t>(meta.train.size());
  const auto n_test = static_cast<std::int64_t>(meta.test.size());
  const std::int64_t p = fs.x.cols, n_layers = static_cast<std::int64_t>(fs.layers.size()), V = meta.n_voxels;
  log::info("fit: {} training + {} test stimuli, {} features from {} layer(s), {} voxels", n_train, n_test, p,
            n_layers, V);
  if (n_test == 0) log::warn("fit: /split/test is empty: test scores will be NaN");

  // 2. Folds (fewer training stimuli than folds is an error naming both).
  const std::vector<std::int64_t> folds =
      opt.fold_by.empty() ? contiguous_folds(n_train, opt.folds)
                          : grouped_folds(train_labels(meta, opt.fold_by), opt.folds, opt.fold_by);

  // 3. Features z-scored with all training stimuli.
  Standardized<T> st = standardize<T>(fs.x, n_train, opt.zscore);
  fs.x = Mat<float>();

  // 4. Voxels over ranks: a PETSc layout of whole global blocks; each rank streams its own columns.
  VoxelLayout layout(comm, V, opt.voxel_block);
  const bool cache = cache_bytes(meta, layout.local(), sizeof(T)) <= (opt.cache_mb << 20);
  ResponseSource<T> src(meta, layout.blocks(), cache);
  log::info("fit: voxel blocks of {}; rank 0 owns voxels [{}, {}); responses {}", opt.voxel_block,
            layout.begin(), layout.end(),
            cache ? "read once and kept in memory" : "re-read every pass (over fit.cache_mb)");

  // 5. Cross-validation of the model on all chosen layers (banded: one lambda per layer).
  Problem<T> prob;
  prob.x = &st.x;
  prob.n_train = n_train;
  prob.n_test = n_test;
  prob.band_offset = fs.offset;
  prob.banded = opt.banded && n_layers > 1;
  prob.candidates = prob.banded ? band_candidates(n_layers, opt.banded_search, opt.banded_candidates,
                                                  opt.banded_grid_steps, opt.seed)
                                : std::vector<std::vector<double>>{{1.0}};
  prob.lambdas = opt.lambdas;
  prob.folds = folds;
  prob.n_folds = opt.folds;
  prob.score = opt.score;
  prob.intercept = opt.intercept;
  prob.zscore_fold = opt.zscore == ZScore::Fold;
  prob.share_decompositions = opt.share_decompositions;
  prob.label = n_layers > 1 ? std::to_string(n_layers) + " layers" : fs.layers[0];
  if (prob.banded)
    log::info("fit: banded ridge over {} band-weight candidates ({} search)", prob.candidates.size(),
              opt.banded_search);
  // The output file, opened first: it holds the cross-validation's resume record (cv_checkpoint.h). A
  // resumed .partial keeps only that record; anything else a killed run wrote is written again.
  RunFile out(cfg, "model", comm, config_key(cfg, "fit", {opt.features_path, opt.responses_path}));
  h5::File& f = out.file();
  if (out.resumed()) {
    log::info("fit: resuming {}", out.partial_path());
    for (const auto& name : f.children())
      if (name != "chunks") f.remove(name);
  }
  CvCheckpoint checkpoint(f, out.resumed(), cfg.integer("debug.kill_after_chunks"));
  auto t0 = Clock::now();
  const Choice choice = cross_validate(prob, src, layout, &checkpoint, 0);
  log::info("fit: cross-validation {:.2f} s", seconds_since(t0));

  std::int64_t n_valid = 0;
  for (auto v : choice.valid) n_valid += v;
  n_valid = sum_over_ranks(n_valid, comm);
  for (const auto& [why, count] : src.invalid_counts()) {
    const auto total = sum_over_ranks(count, comm);
    if (total > 0) log::warn("fit: {} voxel(s) excluded ({}): weights zero, scores NaN", total, why);
  }
  const auto lower = sum_over_ranks(choice.at_lower_edge, comm),
             upper = sum_over_ranks(choice.at_upper_edge, comm);
  const double denom = static_cast<double>(std::max<std::int64_t>(n_valid, 1));
  log::info(
      "fit: chosen lambda on a grid edge for {:.1f}% of {} valid voxels ({:.1f}% lowest, {:.1f}% highest)",
      100.0 * (lower + upper) / denom, n_valid, 100.0 * lower / denom, 100.0 * upper / denom);

  // 6. model.h5 and the refit on all training stimuli, weights streamed to it block by block.
  f.write_vector<double>("lambdas", prob.lambdas);
  f.write_vector<std::int64_t>("folds", folds);
  f.write_vector<float>("features/mean", st.mean);
  f.write_vector<float>("features/scale", st.scale);
  f.write_strings("layers/names", fs.layers);
  f.write_vector<std::int64_t>("layers/offset", fs.offset);
  copy_extract_attributes(opt.features_path, fs.layers, f.require_group("extract"));
  auto weights = f.create_dataset<float>("weights", {p, V});
  static const float kNoData = 0.0f;  // a valid pointer for empty (padding) writes
  const h5::Transfer weights_io = weights_transfer(opt.weights_io, comm);
  double write_seconds = 0;
  WeightWriter writer = [&](std::int64_t col0, std::int64_t cols, const float* data) {
    const auto tw = Clock::now();
    weights.write_block<float>({0, cols > 0 ? p : 0, col0, cols}, cols > 0 ? data : &kNoData, weights_io);
    write_seconds += seconds_since(tw);
  };
  t0 = Clock::now();
  const RefitResult fit = refit(prob, choice, src, layout, &writer);
  log::info("fit: refit and weights {:.2f} s (writing /weights {:.2f} s, {} MPI-IO)", seconds_since(t0),
            write_seconds, weights_io == h5::Transfer::collective ? "collective" : "independent");

  // 7. Per-voxel fields as PETSc Vecs on the voxel layout.
  const std::int64_t nv = layout.local();
  std::vector<double> valid(choice.valid.begin(), choice.valid.end()), lambda_index(nv), cand(nv);
  for (std::int64_t j = 0; j < nv; ++j) {
    lambda_index[j] = choice.lambda_index[j];
    cand[j] = choice.candidate[j];
  }
  VoxelVec valid_v = field(layout, valid), cv_v = field(layout, choice.cv_score);
  VoxelVec test_r_v = field(layout, fit.test_r), test_r2_v = field(layout, fit.test_r2);
  VoxelVec intercept_v = field(layout, fit.intercept), lambda_index_v = field(layout, lambda_index);
  // Lambda per voxel, per band when banded: lambda_b = lambda / gamma_b (inf: band left out).
  std::vector<VoxelVec> lambda_v;
  for (std::int64_t b = 0; b < (prob.banded ? n_layers : 1); ++b) {
    std::vector<double> l(static_cast<size_t>(nv), kNaN);
    for (std::int64_t j = 0; j < nv; ++j) {
      if (!choice.valid[j]) continue;
      const double g = prob.banded ? prob.candidates[choice.candidate[j]][b] : 1.0;
      l[j] = g > 0 ? prob.lambdas[choice.lambda_index[j]] / g : std::numeric_limits<double>::infinity();
    }
    lambda_v.push_back(field(layout, l));
  }

  // 8. Noise ceiling from repetitions, and noise-normalized test r.
  std::vector<std::int64_t> reps_per_stimulus(meta.stimulus_ids.size(), 0);
  for (auto s : meta.trial_stimulus) ++reps_per_stimulus[static_cast<size_t>(s)];
  const bool repeats =
      meta.has_trial_responses && *std::max_element(reps_per_stimulus.begin(), reps_per_stimulus.end()) >= 2;
  std::vector<double> ncsnr, ceiling, normalized(static_cast<size_t>(nv), kNaN);
  if (repeats) {
    noise_ceilings(meta, src, layout, ncsnr, ceiling);
    for (std::int64_t j = 0; j < nv; ++j) {
      if (!choice.valid[j]) ncsnr[j] = ceiling[j] = kNaN;
      if (ceiling[j] > 0) normalized[j] = fit.test_r[j] / ceiling[j];
    }
  } else {
    log::info("fit: no repeated trials in {}: no noise ceiling", meta.path);
  }

  // 9. Per-layer fits: which layer predicts each voxel best (the layer-preference map).
  std::vector<VoxelVec> layer_cv, layer_r, layer_r2, layer_lambda;
  std::vector<double> best_layer(static_cast<size_t>(nv), -1.0), best_value(static_cast<size_t>(nv), kNaN);
  if (opt.per_layer) {
    t0 = Clock::now();
    for (std::int64_t b = 0; b < n_layers; ++b) {
      const Mat<T> xb = columns(st.x, fs.offset[b], fs.offset[b + 1]);
      Problem<T> pb = prob;
      pb.x = &xb;
      pb.band_offset = {0, xb.cols};
      pb.banded = false;
      pb.candidates = {{1.0}};
      pb.label = "layer " + fs.layers[b];
      const Choice cb = cross_validate(pb, src, layout, &checkpoint, b + 1);
      const RefitResult rb = refit(pb, cb, src, layout, nullptr);
      std::vector<double> lam(static_cast<size_t>(nv), kNaN);
      for (std::int64_t j = 0; j < nv; ++j) {
        if (!cb.valid[j]) continue;
        lam[j] = pb.lambdas[cb.lambda_index[j]];
        // Higher is better except for the summed squared error.
        const double v = opt.score == Score::Sse ? -cb.cv_score[j] : cb.cv_score[j];
        if (best_layer[j] < 0 || v > best_value[j]) {
          best_value[j] = v;
          best_layer[j] = static_cast<double>(b);
        }
      }
      layer_cv.push_back(field(layout, cb.cv_score));
      layer_r.push_back(field(layout, rb.test_r));
      layer_r2.push_back(field(layout, rb.test_r2));
      layer_lambda.push_back(field(layout, lam));
    }
    log::info("fit: per-layer fits {:.2f} s", seconds_since(t0));
  }

  // 10. Write the voxel records (each rank its own voxel range, collectively).
  auto vox = f.require_group("voxels");
  write_voxel_field(vox, "valid", valid_v, Stored::UInt8);
  if (prob.banded) {
    std::vector<const VoxelVec*> l;
    for (const auto& v : lambda_v) l.push_back(&v);
    write_voxel_matrix(vox, "lambda", l, true, Stored::Float64);
    write_voxel_field(vox, "band_candidate", field(layout, cand), Stored::Int64);
    std::vector<double> flat;
    for (const auto& g : prob.candidates) flat.insert(flat.end(), g.begin(), g.end());
    f.write_array<double>("banded/candidates", flat,
                          {static_cast<std::int64_t>(prob.candidates.size()), n_layers});
  } else {
    write_voxel_field(vox, "lambda", lambda_v[0], Stored::Float64);
  }
  write_voxel_field(vox, "lambda_index", lambda_index_v, Stored::Int64);
  auto lambda_ds = vox.dataset("lambda");
  lambda_ds.write_attr<double>("fraction_on_grid_edge", (lower + upper) / denom);
  lambda_ds.write_attr<double>("fraction_at_lowest", lower / denom);
  lambda_ds.write_attr<double>("fraction_at_highest", upper / denom);
  write_voxel_field(vox, "cv_score", cv_v, Stored::Float32);
  vox.dataset("cv_score").write_attr("score", std::string(score_name(opt.score)));
  write_voxel_field(vox, "test_r", test_r_v, Stored::Float32);
  write_voxel_field(vox, "test_r2", test_r2_v, Stored::Float32);
  f.write_attr<double>("fraction_lambda_on_grid_edge", (lower + upper) / denom);
  // /intercept at the top level, next to /weights (run-files.md).
  write_voxel_field(f, "intercept", intercept_v, Stored::Float32);

  std::optional<VoxelVec> ceiling_v, normalized_v, best_v;
  if (repeats) {
    ceiling_v.emplace(layout);
    ceiling_v->set_local(ceiling);
    normalized_v.emplace(layout);
    normalized_v->set_local(normalized);
    write_voxel_field(vox, "noise_ceiling", *ceiling_v, Stored::Float32);
    write_voxel_field(vox, "ncsnr", field(layout, ncsnr), Stored::Float32);
    write_voxel_field(vox, "normalized_r", *normalized_v, Stored::Float32);
    auto nc = vox.dataset("noise_ceiling");
    nc.write_attr("estimator",
                  std::string("NCSNR (Allen et al. 2022): sqrt(ncsnr^2 / (ncsnr^2 + mean 1/reps))"));
    nc.write_attr("units", std::string("correlation (r) of the trial-averaged test responses"));
  }
  if (opt.per_layer) {
    best_v.emplace(layout);
    best_v->set_local(best_layer);
    write_voxel_field(vox, "best_layer", *best_v, Stored::Int64);
    auto as_ptrs = [](const std::vector<VoxelVec>& v) {
      std::vector<const VoxelVec*> out;
      for (const auto& x : v) out.push_back(&x);
      return out;
    };
    write_voxel_matrix(f, "per_layer/cv_score", as_ptrs(layer_cv), false, Stored::Float32);
    write_voxel_matrix(f, "per_layer/test_r", as_ptrs(layer_r), false, Stored::Float32);
    write_voxel_matrix(f, "per_layer/test_r2", as_ptrs(layer_r2), false, Stored::Float32);
    write_voxel_matrix(f, "per_layer/lambda", as_ptrs(layer_lambda), false, Stored::Float64);
  }

  // 11. ROI summaries (gathered in voxel order on rank 0).
  RoiInputs roi;
  roi.rois = &meta.rois;
  roi.valid = &valid_v;
  roi.test_r = &test_r_v;
  roi.test_r2 = &test_r2_v;
  roi.cv_score = &cv_v;
  if (repeats) {
    roi.noise_ceiling = &*ceiling_v;
    roi.normalized_r = &*normalized_v;
  }
  if (opt.per_layer) {
    roi.best_layer = &*best_v;
    for (const auto& v : layer_r) roi.per_layer_test_r.push_back(&v);
    roi.layer_names = fs.layers;
  }
  write_roi_summaries(f, roi, comm);

  const double mean_r = [&] {
    double s = 0;
    std::int64_t n = 0;
    for (std::int64_t j = 0; j < nv; ++j)
      if (choice.valid[j] && std::isfinite(fit.test_r[j])) {
        s += fit.test_r[j];
        ++n;
      }
    double both[2] = {s, static_cast<double>(n)};
    MPI_Allreduce(MPI_IN_PLACE, both, 2, MPI_DOUBLE, MPI_SUM, comm);
    return both[1] > 0 ? both[0] / both[1] : kNaN;
  }();
  checkpoint.finish();
  out.commit();
  log_compute_summary(comm);
  log::info("fit: mean test r over valid voxels {:.4f}; total {:.2f} s ({:.0f} voxels/s)", mean_r,
            seconds_since(t_start), static_cast<double>(V) / seconds_since(t_start));
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  PetscSession petsc(comm);
  const Options opt = read_options(cfg);
  if (opt.float64) {
    run_typed<double>(cfg, opt, comm);
  } else {
    run_typed<float>(cfg, opt, comm);
  }
}

}  // namespace deepvox::fit
