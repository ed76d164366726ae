// Stage `maximize`: targets -> folded readouts -> chunks of targets optimized per rank -> clean scores
// under the model, an independent model and (demo) the ground truth -> maximize.h5 + PNG grids.
#include "maximize/maximize.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "core/chunk_cache.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "core/text.h"
#include "extract/feature_model.h"
#include "io/h5.h"
#include "io/image.h"
#include "io/manifest.h"
#include "maximize/chunk_store.h"
#include "maximize/independent.h"
#include "maximize/optimize.h"
#include "maximize/options.h"
#include "maximize/readout.h"
#include "maximize/results.h"
#include "maximize/scoring.h"
#include "maximize/targets.h"
#include "maximize/truth.h"
#include "nets/torchscript_network.h"

namespace deepvox::maximize {
namespace {

using Clock = std::chrono::steady_clock;

// The starting image of each target for init: natural ([T,3,S,S] in 0..1, built only for needed targets).
class NaturalInit {
 public:
  NaturalInit(const Options& o, const std::string& features_path, const std::vector<std::string>& ids,
              const std::vector<std::int64_t>& best_row)
      : o_(o), ids_(ids), best_row_(best_row) {
    auto f = h5::File::open(features_path, h5::Mode::Read);
    images_ = f.has_attr("images") ? f.read_attr_string("images") : "";
  }

  at::Tensor images(std::int64_t first, std::int64_t n) {
    std::vector<at::Tensor> out;
    for (std::int64_t t = first; t < first + n; ++t) out.push_back(load(t));
    return at::stack(out);
  }

 private:
  at::Tensor load(std::int64_t target) {
    image::RgbImage img;
    if (!o_.init_image.empty() && std::find(ids_.begin(), ids_.end(), o_.init_image) == ids_.end()) {
      img = image::decode_image_file(o_.init_image);  // a file, not a stimulus id
    } else {
      auto row = o_.init_image.empty() ? best_row_[static_cast<size_t>(target)]
                                       : std::find(ids_.begin(), ids_.end(), o_.init_image) - ids_.begin();
      if (!set_) {
        if (images_.empty())
          throw std::runtime_error("features.h5 does not record its images (attribute 'images')");
        set_ = std::make_unique<StimulusSet>(StimulusSet::open(images_));
      }
      img = set_->load(row);
    }
    auto sq = image::resize_center_crop(img, static_cast<int>(o_.image_size));
    return from_uint8_hwc(sq.pixels.data(), 1, o_.image_size)[0];
  }

  const Options& o_;
  const std::vector<std::string>& ids_;
  const std::vector<std::int64_t>& best_row_;
  std::string images_;
  std::unique_ptr<StimulusSet> set_;
};

std::vector<std::int64_t> best_rows(const std::vector<double>& natural, std::int64_t n,
                                    std::int64_t t_count) {
  std::vector<std::int64_t> best(static_cast<size_t>(t_count), 0);
  for (std::int64_t t = 0; t < t_count; ++t)
    for (std::int64_t i = 1; i < n; ++i)
      if (natural[static_cast<size_t>(i * t_count + t)] > natural[static_cast<size_t>(best[t] * t_count + t)])
        best[t] = i;
  return best;
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  const int my_rank = rank(comm), ranks = size(comm);
  const auto t_start = Clock::now();
  // TorchScript networks run un-optimized, as eager PyTorch would: the profiling executor's first runs of
  // every new batch shape or grad mode cost up to 1.5x a step (measured on Inception V3) and its CPU
  // optimizations gain nothing for convolutions; one execution path also keeps results independent of
  // how many passes ran before (the rank count).
  const nets::GraphExecutorOptimizeScope unoptimized(false);

  // 1. Options, device, inputs.
  const Options opt = read_options(cfg);
  if (opt.device == "cuda" && !at::hasCUDA())
    throw ConfigError(
        "maximize.device=cuda, but this LibTorch was built without CUDA (Debian's is CPU-only): use cpu");
  const at::Device device(opt.device == "cuda" ? at::kCUDA : at::kCPU);
  at::set_num_threads(omp_get_max_threads());
  const std::string features_path = cfg.run_file("features"), model_path = cfg.run_file("model"),
                    responses_path = cfg.run_file("responses");
  for (const auto& p : {features_path, model_path, responses_path})
    if (!std::filesystem::exists(p))
      throw ConfigError("maximize needs " + p + " (run import, extract and fit first)");

  // 2. Targets (every rank resolves them identically; bad specs are ConfigErrors naming them).
  const VoxelInfo voxels =
      deterministic("maximize", [&] { return read_voxel_info(responses_path, model_path); });
  const std::vector<Target> targets = expand_targets(opt.targets, voxels, opt.contrast_weight);
  const auto n_targets = static_cast<std::int64_t>(targets.size());
  log::info(
      "maximize: {} target(s) x {} restart(s), {} steps, {} px {} images{}, {} rank(s), {} target(s) per "
      "pass",
      n_targets, opt.restarts, opt.steps, opt.image_size,
      opt.parameterization == Parameterization::Fourier ? "fourier" : "pixel",
      opt.decorrelate ? " (decorrelated colour)" : "", ranks, opt.targets_per_pass);

  // 3. The encoding model folded into one readout per target, and the network that feeds it.
  const LinearReadout readout =
      deterministic("maximize", [&] { return fold_model(model_path, targets, comm); });
  std::vector<std::string> indep_layers =
      opt.independent_layers.empty() ? default_independent_layers(readout.layers) : opt.independent_layers;
  std::vector<std::string> all_layers = readout.layers;
  for (const auto& l : indep_layers)
    if (std::find(all_layers.begin(), all_layers.end(), l) == all_layers.end()) all_layers.push_back(l);
  auto full_model = deterministic("maximize: rebuilding the feature model from features.h5", [&] {
    return extract::FeatureModel::from_features_file(features_path, all_layers, opt.device);
  });
  auto model = sub_model(full_model, readout.layers);
  if (model.dim() != readout.dim)
    throw ConfigError("maximize: features.h5 gives " + std::to_string(model.dim()) +
                      " features for the layers of " + model_path + ", which has " +
                      std::to_string(readout.dim));
  log::info("maximize: network {} at {} px, model layers: {}; independent model layers: {}",
            model.network().name(), model.input_size(), join(readout.layers), join(indep_layers));

  // 4. Natural stimuli under the model, the independent model and the ground truth.
  Results res;
  res.n_targets = n_targets;
  res.restarts = opt.restarts;
  res.size = opt.image_size;
  res.recorded_steps = recorded_steps(opt.steps, opt.record_every);
  res.natural_ids = h5::File::open(features_path, h5::Mode::Read).dataset("stimulus_ids").read_strings();
  const auto n_natural = static_cast<std::int64_t>(res.natural_ids.size());
  res.model.name = "model";
  res.model.natural = natural_objectives(features_path, readout, comm);
  const IndependentModel independent =
      fit_independent(features_path, responses_path, indep_layers, targets, opt.independent_lambdas, comm);
  res.independent.name = "independent";
  res.independent.natural = natural_objectives(features_path, independent.readout, comm);
  auto truth = open_truth(cfg, targets, res.natural_ids, comm, &res.truth_note);
  if (truth) {
    res.truth.name = "truth";
    res.truth.natural = truth->natural_objectives();
  }
  const auto best_natural = best_rows(res.model.natural, n_natural, n_targets);

  // 5. Where results go. A job-array task saves its chunks as files and writes no stage file
  // (core/chunk_cache.h); a normal run keeps its resume record in maximize.h5.partial and collects the
  // chunks that array tasks saved instead of computing them.
  const auto target_chunks = chunks(n_targets, opt.targets_per_pass);
  const auto n_chunks = static_cast<std::int64_t>(target_chunks.size());
  const std::int64_t R = opt.restarts, S = opt.image_size;
  const ArrayTask task = array_task(cfg, "maximize");
  const std::string key = config_key(cfg, "maximize", {features_path, model_path, responses_path});
  const ChunkCache saved(cfg, "maximize", key);
  std::unique_ptr<RunFile> out;
  std::unique_ptr<ChunkStore> store;
  std::vector<std::uint8_t> done(static_cast<size_t>(n_chunks), 0);
  if (!task.active()) {
    out = std::make_unique<RunFile>(cfg, "maximize", comm, key);
    store = std::make_unique<ChunkStore>(out->file(), out->resumed(), res, n_chunks, truth != nullptr);
    done = store->done();
    if (out->resumed()) log::info("maximize: resuming {}", out->partial_path());
  } else {
    log::info("maximize: array task {} of {}: chunks saved in {}", task.index, task.count, saved.folder());
  }
  std::vector<std::int64_t> mine;
  std::set<std::int64_t> from_files;
  std::int64_t skipped = 0;
  for (auto c : task.my_chunks(n_chunks, my_rank, ranks)) {
    const bool have_file = saved.has(c);
    if (done[static_cast<size_t>(c)] || (task.active() && have_file)) {
      skipped += target_chunks[static_cast<size_t>(c)].size();
      continue;
    }
    mine.push_back(c);
    if (have_file) from_files.insert(c);
  }
  // Collective writes need the same number of calls on every rank: pad with empty rounds.
  auto rounds = static_cast<std::int64_t>(mine.size());
  MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, comm);

  // 6. My chunks of targets: optimize (or load what an array task saved), then score the stored images
  // cleanly.
  Optimizer optimizer(opt, model, readout, device);
  std::unique_ptr<NaturalInit> natural_init;
  if (opt.init == Init::Natural)
    natural_init = std::make_unique<NaturalInit>(opt, features_path, res.natural_ids, best_natural);
  Progress progress("maximize targets", task.items(target_chunks), comm);
  progress.add_skipped(skipped);
  const auto t_opt = Clock::now();
  double my_loops = 0;
  for (std::int64_t k = 0; k < rounds; ++k) {
    const bool have = k < static_cast<std::int64_t>(mine.size());
    const std::int64_t c = have ? mine[static_cast<size_t>(k)] : -1;
    const Range tr = have ? target_chunks[static_cast<size_t>(c)] : Range{};
    ChunkRecord rec;
    if (have && from_files.count(c)) {
      rec = unpack(saved.load(c), truth != nullptr);
    } else if (have) {
      ChunkJob job{tr.begin, tr.size(), {}};
      if (natural_init) job.init_rgb = natural_init->images(tr.begin, tr.size());
      ChunkResult result = optimizer.run(job);
      rec.seconds = result.seconds;
      my_loops += result.seconds;
      rec.images = std::move(result.images);
      rec.trajectories = std::move(result.trajectories);
      const std::int64_t b = tr.size() * R;
      auto features = clean_features(full_model, rec.images.data(), b, S, device);
      rec.model = score_features(readout, features);
      rec.independent = score_features(independent.readout, features);
      if (truth) rec.truth = truth->score(rec.images.data(), b, S);
      if (task.active()) saved.save(c, pack(rec));
    }
    if (store) store->write(c, tr, have ? &rec : nullptr);
    if (have) progress.add(tr.size());
  }
  if (task.active()) {
    MPI_Barrier(comm);
    log::info("maximize: array task {} of {} done; the normal run of the stage collects the chunks",
              task.index, task.count);
    return;
  }
  double my_wall = std::chrono::duration<double>(Clock::now() - t_opt).count();
  MPI_Allreduce(&my_wall, &res.optimize_wall_seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(&my_loops, &res.optimize_loop_seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  store->finish(res);  // every chunk, this run's and resumed ones, in target order
  res.passes = n_chunks * opt.steps;

  // 7. Validation summary and output.
  const auto cmp = compare(res.model, n_targets, R);
  const auto cmp_ind = compare(res.independent, n_targets, R);
  log::info("maximize: {:.0f}% of targets ({:.0f}% of images) beat the best natural image under the model",
            100 * cmp.fraction_targets, 100 * cmp.fraction_images);
  log::info(
      "maximize: {:.0f}% of targets ({:.0f}% of images) beat it under the independent model (layers {})",
      100 * cmp_ind.fraction_targets, 100 * cmp_ind.fraction_images, join(indep_layers));
  if (truth) {
    const auto cmp_truth = compare(res.truth, n_targets, R);
    log::info(
        "maximize: {:.0f}% of targets ({:.0f}% of images) drive the ground-truth response above the best "
        "natural image",
        100 * cmp_truth.fraction_targets, 100 * cmp_truth.fraction_images);
  } else {
    log::info("maximize: no ground-truth score ({})", res.truth_note);
  }
  const double image_steps = static_cast<double>(n_targets * R * opt.steps);
  log::info(
      "maximize: optimization {:.2f} s wall ({:.2f} s in the slowest rank's loops), {:.2f} rank-s: {:.2f} "
      "passes/s, {:.1f} image-iterations/s per rank, {:.3f} s per target per rank",
      res.optimize_wall_seconds, res.optimize_loop_seconds, res.optimize_rank_seconds,
      static_cast<double>(res.passes) / std::max(res.optimize_rank_seconds, 1e-9),
      image_steps / std::max(res.optimize_rank_seconds, 1e-9),
      res.optimize_rank_seconds / static_cast<double>(n_targets));

  write_results(out->file(), opt, targets, voxels.n_voxels, independent, res);
  bool grid_ok = true;
  if (opt.grid && my_rank == 0) {
    try {
      const auto folder = (std::filesystem::path(cfg.run_dir()) / "maximize").string();
      for (const auto& path : write_grids(folder, targets, res)) log::info("maximize: wrote {}", path);
    } catch (const std::exception& e) {
      log::error("maximize: {}", e.what());
      grid_ok = false;
    }
  }
  if (!all_ok(grid_ok, comm))
    throw std::runtime_error("maximize: writing the PNG grids failed (see the log)");
  out->commit();
  if (is_root(comm)) saved.clear();
  log::info("maximize: done in {:.1f} s", std::chrono::duration<double>(Clock::now() - t_start).count());
}

}  // namespace deepvox::maximize
