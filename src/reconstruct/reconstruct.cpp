// Stage `reconstruct`: responses.h5 + features.h5 -> decoded features -> optimized images -> reconstruct.h5.
#include "reconstruct/reconstruct.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "core/chunk_cache.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "extract/feature_model.h"
#include "io/manifest.h"
#include "reconstruct/eval_network.h"
#include "reconstruct/feature_decoder.h"
#include "reconstruct/generator.h"
#include "reconstruct/image_tensor.h"
#include "reconstruct/inputs.h"
#include "reconstruct/latent_decoding.h"
#include "reconstruct/options.h"
#include "reconstruct/pixel_optimizer.h"
#include "reconstruct/results.h"

namespace deepvox::reconstruct {
namespace {

// A seed per (purpose, index), independent of which rank draws it.
std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t purpose, std::uint64_t index) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull + index + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Inputs {
  ResponsesInfo responses;
  FeaturesInfo features;
  std::vector<std::string> layers;
  std::vector<std::int64_t> voxels;  // candidate voxel columns
  std::vector<std::string> train_ids, test_ids;
  std::vector<std::int64_t> feature_rows;  // rows of features.h5: training then test stimuli
  fit::Mat<float> x;                       // responses of the training then test stimuli, candidate voxels
};

Inputs read_inputs(const Options& opt) {
  Inputs in;
  in.responses = read_responses_info(opt.responses_path, "reconstruct");
  in.features = read_features_info(opt.features_path, "reconstruct");
  in.layers = pick_layers(in.features, opt.layers, "reconstruct.layers");
  in.voxels = voxel_columns(in.responses, opt.rois, "reconstruct.roi");
  if (in.responses.test.empty()) throw std::runtime_error(opt.responses_path + ": /split/test is empty");
  if (static_cast<std::int64_t>(in.responses.train.size()) < opt.folds)
    throw std::runtime_error(opt.responses_path + ": " + std::to_string(in.responses.train.size()) +
                             " training stimuli are fewer than reconstruct.folds");
  for (auto r : in.responses.train) in.train_ids.push_back(in.responses.ids[static_cast<size_t>(r)]);
  for (auto r : in.responses.test) in.test_ids.push_back(in.responses.ids[static_cast<size_t>(r)]);
  std::vector<std::string> all = in.train_ids;
  all.insert(all.end(), in.test_ids.begin(), in.test_ids.end());
  in.feature_rows =
      match_ids(all, in.features.ids, opt.features_path + " lacks stimuli of " + opt.responses_path);
  std::vector<std::int64_t> rows = in.responses.train;
  rows.insert(rows.end(), in.responses.test.begin(), in.responses.test.end());
  in.x = read_responses(opt.responses_path, rows, in.voxels);
  return in;
}

// Training rows of a strided subset of at most 512 features of a layer (for voxel selection).
fit::Mat<float> feature_sample(const h5::File& f, const std::string& layer, std::int64_t dim,
                               const std::vector<std::int64_t>& train_rows) {
  const std::int64_t stride = (dim + 511) / 512;
  std::vector<std::int64_t> cols;
  for (std::int64_t c = 0; c < dim; c += stride) cols.push_back(c);
  fit::Mat<float> out(static_cast<std::int64_t>(train_rows.size()), static_cast<std::int64_t>(cols.size()));
  for (std::int64_t c0 = 0; c0 < dim; c0 += 4096) {
    const std::int64_t b = std::min<std::int64_t>(4096, dim - c0);
    const fit::Mat<float> block = read_feature_columns(f, layer, train_rows, c0, b);
    for (size_t k = 0; k < cols.size(); ++k)
      if (cols[k] >= c0 && cols[k] < c0 + b)
        for (std::int64_t i = 0; i < block.rows; ++i)
          out(i, static_cast<std::int64_t>(k)) = block(i, cols[k] - c0);
  }
  return out;
}

LayerDecoding decode_layer(const Options& opt, const Inputs& in, const std::string& layer,
                           const std::vector<std::int64_t>& picks, MPI_Comm comm) {
  const auto n_train = static_cast<std::int64_t>(in.train_ids.size());
  const std::int64_t dim = in.features.dims.at(layer);
  const auto f = h5::File::open(opt.features_path, h5::Mode::Read);
  LayerDecoding out;
  out.layer = layer;

  // Voxels: all candidates, or the ones most correlated with this layer on the training stimuli.
  std::vector<std::int64_t> keep(in.voxels.size());
  for (size_t k = 0; k < keep.size(); ++k) keep[k] = static_cast<std::int64_t>(k);
  if (opt.voxel_selection > 0 && opt.voxel_selection < static_cast<std::int64_t>(in.voxels.size())) {
    const std::vector<std::int64_t> train_rows(in.feature_rows.begin(), in.feature_rows.begin() + n_train);
    fit::Mat<float> x_train(n_train, in.x.cols);
    std::copy_n(in.x.data(), n_train * in.x.cols, x_train.data());
    keep = select_voxels(x_train, feature_sample(f, layer, dim, train_rows), opt.voxel_selection);
  }
  fit::Mat<float> x(in.x.rows, static_cast<std::int64_t>(keep.size()));
  for (std::int64_t i = 0; i < x.rows; ++i)
    for (size_t k = 0; k < keep.size(); ++k) x(i, static_cast<std::int64_t>(k)) = in.x(i, keep[k]);
  for (auto k : keep) out.voxels.push_back(in.voxels[static_cast<size_t>(k)]);

  const DecodeDesign design = make_design(std::move(x), n_train, opt.folds, opt.lambdas, opt.score);
  auto loader = [&](std::int64_t c0, std::int64_t b) {
    return read_feature_columns(f, layer, in.feature_rows, c0, b);
  };
  Decoded d = decode_targets(design, dim, opt.target_block, loader, comm, "layer " + layer);
  if (opt.rescale) rescale_to_training(d);
  out.scores = score_decoding(d);
  out.lambda = std::move(d.lambda);
  out.cv_score = std::move(d.cv_score);
  out.at_lower_edge = d.at_lower_edge;
  out.at_upper_edge = d.at_upper_edge;
  out.picked.resize(static_cast<std::int64_t>(picks.size()), dim);
  for (size_t i = 0; i < picks.size(); ++i)
    std::copy_n(d.test.row(picks[i]), dim, out.picked.row(static_cast<std::int64_t>(i)));
  log::info(
      "reconstruct: layer {} ({} features, {} voxels): profile r {:.3f}, pattern r {:.3f}, identification "
      "{:.3f}",
      layer, dim, out.voxels.size(), out.scores.profile_r, out.scores.pattern_r, out.scores.identification);
  return out;
}

// Targets of images [i0, i0 + b) of the picks for the given layers.
MatchTargets targets_for(const std::vector<LayerDecoding>& dec, const std::vector<std::string>& layers,
                         std::int64_t i0, std::int64_t b, const std::vector<double>& weights,
                         const at::Device& device) {
  MatchTargets t;
  t.layers = layers;
  t.layer_weights = weights;
  for (const auto& name : layers) {
    const auto& l =
        *std::find_if(dec.begin(), dec.end(), [&](const LayerDecoding& d) { return d.layer == name; });
    t.features.push_back(at::from_blob(const_cast<float*>(l.picked.row(i0)), {b, l.picked.cols}, at::kFloat)
                             .clone()
                             .to(device));
  }
  return t;
}

Reconstructions reconstruct_images(const Options& opt, const Inputs& in,
                                   const std::vector<LayerDecoding>& dec,
                                   const std::vector<std::int64_t>& picks, const ArrayTask& task,
                                   const ChunkCache& saved, MPI_Comm comm) {
  Reconstructions r;
  r.image_size = opt.opt.image_size;
  r.iterations = opt.opt.iterations;
  r.test_index = picks;
  for (auto p : picks) r.ids.push_back(in.test_ids[static_cast<size_t>(p)]);
  const auto n = static_cast<std::int64_t>(picks.size());
  const std::string baseline_layer = opt.baseline_layer.empty() ? in.layers.front() : opt.baseline_layer;
  const at::Device device(opt.device);

  // Models, generator prior, evaluation network and the stimuli (every rank; errors are the same everywhere).
  auto [model, base_model, prior, eval, stimuli, rows] = deterministic("reconstruct", [&] {
    auto m = std::make_unique<extract::FeatureModel>(
        extract::FeatureModel::from_features_file(opt.features_path, in.layers, opt.device));
    std::unique_ptr<extract::FeatureModel> b;
    if (opt.baseline) {
      if (std::find(in.layers.begin(), in.layers.end(), baseline_layer) == in.layers.end())
        throw ConfigError("reconstruct.baseline_layer '" + baseline_layer +
                          "' is not one of reconstruct.layers");
      b = std::make_unique<extract::FeatureModel>(
          extract::FeatureModel::from_features_file(opt.features_path, {baseline_layer}, opt.device));
    }
    std::unique_ptr<Generator> g =
        opt.prior.empty() ? nullptr : std::make_unique<Generator>(opt.prior, opt.device);
    auto e = std::make_unique<EvalNetwork>(opt.eval, opt.device);
    auto s = std::make_unique<StimulusSet>(
        StimulusSet::open(resolve_images(opt.images, in.features, opt.run_dir), opt.brick_dataset));
    auto rw = match_ids(r.ids, s->ids(), "the stimulus set " + s->source() + " lacks test stimuli");
    return std::make_tuple(std::move(m), std::move(b), std::move(g), std::move(e), std::move(s),
                           std::move(rw));
  });
  if (!opt.opt.layer_weights.empty() && opt.opt.layer_weights.size() != in.layers.size())
    throw ConfigError("reconstruct.layer_weights has " + std::to_string(opt.opt.layer_weights.size()) +
                      " values for " + std::to_string(in.layers.size()) + " layers");
  r.eval_layers = eval->layers();
  r.eval_description = eval->description();
  r.methods.push_back({"multi_layer",
                       std::to_string(in.layers.size()) + " decoded layers" +
                           (prior ? ", generator prior " + opt.prior : ", pixels"),
                       {},
                       {},
                       {}});
  if (base_model)
    r.methods.push_back({"baseline", "decoded layer " + baseline_layer + " only, pixels", {}, {}, {}});
  log::info("reconstruct: optimizing {} test images ({} px, {} iterations, {}), {}; identification in {}", n,
            r.image_size, r.iterations, opt.opt.optimizer, r.methods[0].description, r.eval_description);

  // Chunks of images; each chunk's result depends only on its data and seed.
  const auto ranges = chunks(n, opt.batch_size);
  const auto n_chunks = static_cast<std::int64_t>(ranges.size());
  const int me = rank(comm), ranks = size(comm);
  std::vector<int> owner(static_cast<size_t>(n_chunks));
  for (int q = 0; q < ranks; ++q)
    for (auto c : my_chunks(n_chunks, q, ranks)) owner[static_cast<size_t>(c)] = q;
  const std::int64_t m = static_cast<std::int64_t>(r.methods.size()), s = r.image_size, T = r.iterations;
  const std::int64_t px = s * s * 3;
  std::vector<std::int64_t> dims;
  std::vector<std::vector<std::uint8_t>> bytes(static_cast<size_t>(n_chunks));
  std::vector<std::vector<float>> floats(static_cast<size_t>(n_chunks));
  {
    Progress progress("reconstruct: images", task.items(ranges), comm);
    for (auto c : task.my_chunks(n_chunks, me, ranks)) {
      const Range rg = ranges[static_cast<size_t>(c)];
      if (saved.has(c)) {  // saved by a job-array task
        ChunkData d = saved.load(c);
        bytes[static_cast<size_t>(c)] = std::move(d.bytes);
        floats[static_cast<size_t>(c)] = std::move(d.floats);
        progress.add(rg.size());
        continue;
      }
      const std::vector<std::int64_t> chunk_rows(rows.begin() + rg.begin, rows.begin() + rg.end);
      const at::Tensor originals = load_images(*stimuli, chunk_rows, r.image_size);
      std::vector<at::Tensor> outputs{originals};
      std::vector<at::Tensor> losses;
      const auto main = optimize_images(
          *model, targets_for(dec, in.layers, rg.begin, rg.size(), opt.opt.layer_weights, device), opt.opt,
          prior.get(), mix_seed(opt.seed, 1, static_cast<std::uint64_t>(c)));
      outputs.push_back(main.images);
      losses.push_back(main.loss);
      if (base_model) {
        const auto base =
            optimize_images(*base_model, targets_for(dec, {baseline_layer}, rg.begin, rg.size(), {}, device),
                            opt.opt, nullptr, mix_seed(opt.seed, 2, static_cast<std::uint64_t>(c)));
        outputs.push_back(base.images);
        losses.push_back(base.loss);
      }
      // Pack: images (originals, then each method) as bytes; eval features and losses as floats.
      auto& b = bytes[static_cast<size_t>(c)];
      auto& f = floats[static_cast<size_t>(c)];
      for (const auto& img : outputs) {
        const auto v = tensor_bytes(img);
        b.insert(b.end(), v.begin(), v.end());
        for (const auto& feat : eval->features(
                 at::from_blob(const_cast<std::uint8_t*>(v.data()), {rg.size(), s, s, 3}, at::kByte)
                     .permute({0, 3, 1, 2})
                     .to(at::kFloat)
                     .to(device))) {
          f.insert(f.end(), feat.data_ptr<float>(), feat.data_ptr<float>() + feat.numel());
        }
      }
      for (const auto& l : losses) f.insert(f.end(), l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
      if (task.active()) saved.save(c, ChunkData{b, f, {}});
      progress.add(rg.size());
    }
  }
  if (task.active()) return r;  // the normal run gathers the chunks
  // Feature sizes of the eval layers (from a probe on every rank, so owners and receivers agree).
  for (const auto& feat : eval->features(at::zeros({1, 3, s, s}, at::TensorOptions(device))))
    dims.push_back(feat.size(1));
  r.eval_dims = dims;
  std::int64_t per_image_features = 0;
  for (auto d : dims) per_image_features += d;

  // Every chunk to every rank, in chunk order.
  r.originals.resize(static_cast<size_t>(n * px));
  r.original_features.assign(dims.size(), {});
  for (size_t l = 0; l < dims.size(); ++l) r.original_features[l].resize(static_cast<size_t>(n * dims[l]));
  for (auto& meth : r.methods) {
    meth.images.resize(static_cast<size_t>(n * px));
    meth.eval_features.assign(dims.size(), {});
    for (size_t l = 0; l < dims.size(); ++l) meth.eval_features[l].resize(static_cast<size_t>(n * dims[l]));
    meth.loss.resize(static_cast<size_t>(n * T));
  }
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    const Range rg = ranges[static_cast<size_t>(c)];
    const std::int64_t b = rg.size();
    auto& by = bytes[static_cast<size_t>(c)];
    auto& fl = floats[static_cast<size_t>(c)];
    by.resize(static_cast<size_t>((m + 1) * b * px));
    fl.resize(static_cast<size_t>((m + 1) * b * per_image_features + m * b * T));
    MPI_Bcast(by.data(), static_cast<int>(by.size()), MPI_UINT8_T, owner[static_cast<size_t>(c)], comm);
    MPI_Bcast(fl.data(), static_cast<int>(fl.size()), MPI_FLOAT, owner[static_cast<size_t>(c)], comm);
    const float* fp = fl.data();
    for (std::int64_t k = 0; k <= m; ++k) {
      auto& img = k == 0 ? r.originals : r.methods[static_cast<size_t>(k - 1)].images;
      std::copy_n(by.data() + k * b * px, b * px, img.begin() + rg.begin * px);
      for (size_t l = 0; l < dims.size(); ++l) {
        auto& dst = k == 0 ? r.original_features[l] : r.methods[static_cast<size_t>(k - 1)].eval_features[l];
        std::copy_n(fp, b * dims[l], dst.begin() + rg.begin * dims[l]);
        fp += b * dims[l];
      }
    }
    for (std::int64_t k = 0; k < m; ++k) {
      std::copy_n(fp, b * T, r.methods[static_cast<size_t>(k)].loss.begin() + rg.begin * T);
      fp += b * T;
    }
  }
  return r;
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  // 1. Options and inputs (every rank reads what it needs).
  const Options opt = read_options(cfg);
  at::set_num_threads(omp_get_max_threads());
  Inputs in = deterministic("reconstruct", [&] { return read_inputs(opt); });
  const auto n_test = static_cast<std::int64_t>(in.test_ids.size());
  log::info("reconstruct: {} training and {} test stimuli, {} candidate voxels{}, layers:{}",
            in.train_ids.size(), n_test, in.voxels.size(),
            opt.voxel_selection > 0 ? " (" + std::to_string(opt.voxel_selection) + " per layer)" : "", [&] {
              std::string s;
              for (const auto& l : in.layers) s += " " + l;
              return s;
            }());

  // The test images to reconstruct: spread evenly over the test split.
  const std::int64_t n_pick = opt.max_images > 0 ? std::min(opt.max_images, n_test) : n_test;
  std::vector<std::int64_t> picks;
  for (std::int64_t k = 0; k < n_pick; ++k) picks.push_back(k * n_test / n_pick);

  // 2. Feature decoding, layer by layer (targets spread over ranks).
  std::vector<LayerDecoding> decoded;
  for (const auto& layer : in.layers) decoded.push_back(decode_layer(opt, in, layer, picks, comm));

  // A job-array task does only its share of the pixel optimization (core/chunk_cache.h).
  const ArrayTask task = array_task(cfg, "reconstruct");
  if (task.active() && !opt.pixel_optimization)
    throw ConfigError(
        "reconstruct: array.tasks splits the pixel optimization of the test images, which "
        "reconstruct.pixel_optimization turns off; run it as one job");
  const ChunkCache saved(cfg, "reconstruct",
                         config_key(cfg, "reconstruct", {opt.features_path, opt.responses_path}));

  // 3. Latent decoding (seed 004); an array task leaves it to the normal run.
  std::unique_ptr<LatentResult> latent;
  if (!opt.latent.generator.empty() && !task.active()) {
    const auto stimuli = deterministic("reconstruct", [&] {
      return StimulusSet::open(resolve_images(opt.images, in.features, cfg.run_dir()), opt.brick_dataset);
    });
    LatentInputs li;
    const DecodeDesign design =
        make_design(in.x, static_cast<std::int64_t>(in.train_ids.size()), opt.folds, opt.lambdas, opt.score);
    li.design = &design;
    li.train_ids = in.train_ids;
    li.test_ids = in.test_ids;
    li.category_names = in.responses.category_names;
    if (!in.responses.category.empty()) {
      for (auto r : in.responses.train)
        li.train_category.push_back(in.responses.category[static_cast<size_t>(r)]);
      for (auto r : in.responses.test)
        li.test_category.push_back(in.responses.category[static_cast<size_t>(r)]);
    }
    li.stimuli = &stimuli;
    li.train_rows = deterministic("reconstruct", [&] {
      return match_ids(li.train_ids, stimuli.ids(), "the stimulus set lacks training stimuli");
    });
    li.test_rows = deterministic("reconstruct", [&] {
      return match_ids(li.test_ids, stimuli.ids(), "the stimulus set lacks test stimuli");
    });
    latent = std::make_unique<LatentResult>(
        decode_latents(opt.latent, li, opt.target_block, opt.rescale, opt.device, opt.seed, comm));
  }

  // 4. Pixel optimization and its evaluation.
  std::unique_ptr<Reconstructions> rec;
  std::vector<MethodScores> scores;
  if (opt.pixel_optimization) {
    rec = std::make_unique<Reconstructions>(reconstruct_images(opt, in, decoded, picks, task, saved, comm));
    if (task.active()) {
      MPI_Barrier(comm);
      log::info("reconstruct: array task {} of {} done, images saved in {}; the normal run collects them",
                task.index, task.count, saved.folder());
      return;
    }
    for (const auto& m : rec->methods) {
      scores.push_back(score_method(*rec, m));
      const auto& s = scores.back();
      log::info(
          "reconstruct [{}]: identification {:.3f} (binomial p = {:.2g}, permutation p = {:.3g}, {} "
          "comparisons) "
          "in {}; pixel r {:.3f}, pixel identification {:.3f}",
          m.name, s.overall.accuracy, s.overall.p_value, s.overall.permutation_p, s.overall.comparisons,
          rec->eval_description,
          [&] {
            double v = 0;
            for (double x : s.pixel_r) v += x / static_cast<double>(s.pixel_r.size());
            return v;
          }(),
          s.pixel.accuracy);
    }
  }

  // 5. Write (collective; every rank holds the same results) and draw.
  RunFile out(cfg, "reconstruct", comm);
  h5::File& f = out.file();
  f.write_attr("features", opt.features_path);
  f.write_attr("responses", opt.responses_path);
  f.write_strings("layers", in.layers);
  write_decoding(f, decoded);
  if (rec) write_reconstructions(f, *rec, scores);
  if (latent) write_latent(f, *latent, in.test_ids);
  out.commit();
  if (is_root(comm)) {
    saved.clear();
    const std::string dir = (std::filesystem::path(cfg.run_dir()) / "reconstruct").string();
    if (rec) write_reconstruction_grids(dir, *rec);
    if (latent) write_latent_grid(dir, *latent);
    log::info("reconstruct: wrote {} and PNG grids in {}", out.final_path(), dir);
  }
}

}  // namespace deepvox::reconstruct
