// Stage `explain`: model.h5 + features.h5 + stimuli -> pairs -> parallel-backpropagation maps -> explain.h5.
#include "explain/explain.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>

#include "core/chunk_cache.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "core/text.h"
#include "explain/options.h"
#include "explain/overlap.h"
#include "explain/parallel_backprop.h"
#include "explain/selection.h"
#include "explain/writer.h"
#include "extract/feature_model.h"
#include "io/manifest.h"
#include "reconstruct/image_tensor.h"
#include "reconstruct/inputs.h"

namespace deepvox::explain {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Object masks of the stimuli (uint8 [N, H, W] plus /stimulus_ids), by row of features.h5.
struct Masks {
  std::string path;
  std::int64_t h = 0, w = 0;
  std::vector<std::int64_t> row_of;  // per features.h5 row: row in the mask dataset, -1 = none
  std::vector<std::uint8_t> read(std::int64_t mask_row) const;
  std::string dataset;
};

std::vector<std::uint8_t> Masks::read(std::int64_t r) const {
  auto f = h5::File::open(path, h5::Mode::Read);
  auto d = f.dataset(dataset);
  std::vector<std::uint8_t> out(static_cast<size_t>(h * w));
  // A [N, H, W] dataset read as rows of an [N, H*W] view: one hyperslab over the first dimension.
  hid_t space = H5Dget_space(d.id());
  hsize_t start[3] = {static_cast<hsize_t>(r), 0, 0},
          count[3] = {1, static_cast<hsize_t>(h), static_cast<hsize_t>(w)};
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
  hsize_t n = static_cast<hsize_t>(h * w);
  hid_t mem = H5Screate_simple(1, &n, nullptr);
  const herr_t st = H5Dread(d.id(), H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, out.data());
  H5Sclose(mem);
  H5Sclose(space);
  if (st < 0)
    throw std::runtime_error("explain.masks: cannot read mask " + std::to_string(r) + " of " + path);
  return out;
}

Masks open_masks(const Options& opt, const std::vector<std::string>& feature_ids) {
  Masks m;
  m.path = opt.masks;
  m.dataset = opt.mask_dataset;
  m.row_of.assign(feature_ids.size(), -1);
  if (opt.masks.empty()) return m;
  auto f = h5::File::open(opt.masks, h5::Mode::Read);
  if (!f.exists(opt.mask_dataset))
    throw std::runtime_error("explain.masks: " + opt.masks + " has no /" + opt.mask_dataset +
                             " (explain.mask_dataset)");
  const auto shape = f.dataset(opt.mask_dataset).shape();
  if (shape.size() != 3)
    throw std::runtime_error("explain.masks: /" + opt.mask_dataset + " must be uint8 [N, H, W]");
  // Ids next to the masks (same group), else at the root.
  const auto slash = opt.mask_dataset.rfind('/');
  const std::string group = slash == std::string::npos ? "" : opt.mask_dataset.substr(0, slash + 1);
  const std::string ids_name = f.exists(group + "stimulus_ids") ? group + "stimulus_ids" : "stimulus_ids";
  if (!f.exists(ids_name)) throw std::runtime_error("explain.masks: " + opt.masks + " has no /stimulus_ids");
  const auto ids = f.dataset(ids_name).read_strings();
  if (static_cast<std::int64_t>(ids.size()) != shape[0])
    throw std::runtime_error("explain.masks: /" + ids_name + " and /" + opt.mask_dataset +
                             " differ in length");
  m.h = shape[1];
  m.w = shape[2];
  std::map<std::string, std::int64_t> index;
  for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = static_cast<std::int64_t>(i);
  for (size_t i = 0; i < feature_ids.size(); ++i) {
    auto it = index.find(feature_ids[i]);
    if (it != index.end()) m.row_of[i] = it->second;
  }
  return m;
}

// A mask at the heatmaps' geometry: the same resize and centre crop as the images, then thresholded.
std::vector<std::uint8_t> mask_at(const Masks& m, std::int64_t feature_row, int size) {
  const std::int64_t r = m.row_of[static_cast<size_t>(feature_row)];
  if (r < 0) return {};
  const auto raw = m.read(r);
  image::RgbImage img;
  img.width = static_cast<int>(m.w);
  img.height = static_cast<int>(m.h);
  img.pixels.resize(static_cast<size_t>(m.h * m.w * 3));
  for (size_t i = 0; i < raw.size(); ++i)
    img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = raw[i] ? 255 : 0;
  const image::RgbImage sq = image::resize_center_crop(img, size);
  std::vector<std::uint8_t> out(static_cast<size_t>(size) * size);
  for (size_t i = 0; i < out.size(); ++i) out[i] = sq.pixels[3 * i] >= 128 ? 1 : 0;
  return out;
}

// Categories of the features.h5 stimuli: responses.h5's /categories when it has them, else the manifest's.
void stimulus_categories(const reconstruct::ResponsesInfo& resp, const StimulusSet& set,
                         const std::vector<std::string>& ids, std::vector<std::int64_t>& category,
                         std::vector<std::string>& names) {
  category.assign(ids.size(), -1);
  if (!resp.category_names.empty()) {
    names = resp.category_names;
    std::map<std::string, std::int64_t> of;
    for (size_t i = 0; i < resp.ids.size(); ++i) of[resp.ids[i]] = resp.category[i];
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = of.find(ids[i]);
      if (it != of.end()) category[i] = it->second;
    }
    return;
  }
  std::map<std::string, std::string> cat_of;
  for (size_t i = 0; i < set.ids().size(); ++i)
    if (i < set.categories().size() && !set.categories()[i].empty())
      cat_of[set.ids()[i]] = set.categories()[i];
  for (const auto& [id, c] : cat_of)
    if (std::find(names.begin(), names.end(), c) == names.end()) names.push_back(c);
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = cat_of.find(ids[i]);
    if (it != cat_of.end()) category[i] = std::find(names.begin(), names.end(), it->second) - names.begin();
  }
  if (names.empty())
    throw std::runtime_error(
        "no stimulus category is known (neither responses.h5 /categories nor a manifest category column)");
}

// The masks of the pairs' images at the heatmaps' geometry, for the panels (empty where unknown).
std::vector<std::vector<std::uint8_t>> masks_for_panels(const Masks& m, const ExplainResults& r, int size) {
  std::vector<std::vector<std::uint8_t>> out;
  for (std::int64_t k = 0; k < r.count(); ++k) out.push_back(mask_at(m, r.image_row(k), size));
  return out;
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  // 1. Options and inputs.
  const Options opt = read_options(cfg);
  at::set_num_threads(omp_get_max_threads());
  const auto resp = deterministic(
      "explain", [&] { return reconstruct::read_responses_info(opt.responses_path, "explain"); });
  const auto feats =
      deterministic("explain", [&] { return reconstruct::read_features_info(opt.features_path, "explain"); });
  const auto model = deterministic("explain", [&] { return read_model_info(opt.model_path); });
  const auto readouts = deterministic("explain", [&] { return read_readouts(model, resp, opt.targets); });
  const auto stimuli = deterministic("explain", [&] {
    return StimulusSet::open(reconstruct::resolve_images(opt.images, feats, opt.run_dir), opt.brick_dataset);
  });
  const auto stim_rows = deterministic("explain", [&] {
    return reconstruct::match_ids(
        feats.ids, stimuli.ids(),
        "the stimulus set " + stimuli.source() + " lacks stimuli of " + opt.features_path);
  });
  std::vector<std::int64_t> category;
  std::vector<std::string> names;
  deterministic("explain", [&] {
    stimulus_categories(resp, stimuli, feats.ids, category, names);
    return 0;
  });
  std::vector<std::string> preferred = opt.preferred_categories;
  const bool named = std::any_of(preferred.begin(), preferred.end(), [&](const std::string& p) {
    return std::find(names.begin(), names.end(), p) != names.end();
  });
  if (!named) {
    if (!opt.preferred_from_import)
      throw ConfigError("explain.preferred_categories: none of " + join(preferred) +
                        " is a category of the data (" + join(names) + ")");
    preferred.clear();  // choose per target
  }
  const Masks masks = deterministic("explain", [&] { return open_masks(opt, feats.ids); });

  // 2. Pairs (rank 0 reads the features; everyone gets the list).
  std::vector<double> packed;
  std::string preferred_text;
  std::string error;
  if (is_root(comm)) {
    try {
      const auto sel =
          select_pairs(opt.features_path, model, readouts, category, names, preferred, opt.top_k);
      for (size_t t = 0; t < sel.size(); ++t) {
        preferred_text += (t ? ";" : "") + join(sel[t].preferred, ",");
        for (const auto& p : sel[t].pairs)
          packed.insert(packed.end(), {static_cast<double>(p.target), static_cast<double>(p.image),
                                       static_cast<double>(p.reference), p.image_response,
                                       p.reference_response, p.similarity});
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty(), comm))
    throw std::runtime_error("explain: " + (error.empty() ? "failed on rank 0" : error));
  std::int64_t sizes[2] = {static_cast<std::int64_t>(packed.size()),
                           static_cast<std::int64_t>(preferred_text.size())};
  MPI_Bcast(sizes, 2, MPI_INT64_T, 0, comm);
  packed.resize(static_cast<size_t>(sizes[0]));
  preferred_text.resize(static_cast<size_t>(sizes[1]));
  MPI_Bcast(packed.data(), static_cast<int>(sizes[0]), MPI_DOUBLE, 0, comm);
  MPI_Bcast(preferred_text.data(), static_cast<int>(sizes[1]), MPI_CHAR, 0, comm);
  const std::int64_t K = sizes[0] / 6;
  log::info("explain: {} pairs for {} target(s) (preferred: {}), {} projection, heatmaps {} px", K,
            readouts.size(), preferred_text,
            opt.integrated_gradients ? "integrated gradients (" + std::to_string(opt.ig_steps) + " steps)"
                                     : std::string("gradient x input"),
            opt.heatmap_size);

  // 3. Maps, one pair per global chunk.
  const auto fm = deterministic("explain", [&] {
    return extract::FeatureModel::from_features_file(opt.features_path, model.layers, opt.device);
  });
  if (fm.dim() != model.dim())
    throw ConfigError("explain: the features rebuilt from " + opt.features_path + " have " +
                      std::to_string(fm.dim()) + " dimensions but " + opt.model_path + " expects " +
                      std::to_string(model.dim()));
  const at::Device device(opt.device);
  const at::Tensor mean = at::tensor(model.mean).to(device), scale = at::tensor(model.scale).to(device);
  PixelProjection proj;
  proj.integrated_gradients = opt.integrated_gradients;
  proj.steps = opt.ig_steps;
  const int hs = opt.heatmap_size, S = fm.input_size();
  const std::int64_t per_map = static_cast<std::int64_t>(hs) * hs;
  const std::int64_t per_pair = kMaps * per_map + kScores;
  const int me = rank(comm), ranks = size(comm);
  std::vector<std::vector<float>> results(static_cast<size_t>(K));
  // A job-array task saves its pairs as chunk files; the normal run loads them (core/chunk_cache.h).
  const ArrayTask task = array_task(cfg, "explain");
  const ChunkCache saved(cfg, "explain",
                         config_key(cfg, "explain", {opt.features_path, opt.model_path, opt.responses_path}));
  {
    Progress progress("explain: pairs", task.block(K).size(), comm);
    for (auto k : task.my_chunks(K, me, ranks)) {
      if (saved.has(k)) {
        results[static_cast<size_t>(k)] = saved.load(k).floats;
        progress.add(1);
        continue;
      }
      const double* p = packed.data() + 6 * k;
      const auto t = static_cast<size_t>(p[0]);
      const auto img_row = static_cast<std::int64_t>(p[1]), ref_row = static_cast<std::int64_t>(p[2]);
      const at::Tensor x = reconstruct::image_tensor(stimuli.load(stim_rows[img_row]), S).to(device);
      const at::Tensor y = reconstruct::image_tensor(stimuli.load(stim_rows[ref_row]), S).to(device);
      const at::Tensor w = at::tensor(readouts[t].w).to(device);
      const PairMaps maps = parallel_backprop(fm, x, y, w, mean, scale, proj, opt.baseline);
      auto& out = results[static_cast<size_t>(k)];
      out.assign(static_cast<size_t>(per_pair), std::numeric_limits<float>::quiet_NaN());
      const at::Tensor all[kMaps] = {maps.image, maps.reference, maps.plain_image, maps.plain_reference};
      for (int j = 0; j < kMaps; ++j) {
        if (!all[j].defined()) continue;
        const at::Tensor small =
            reconstruct::resize_square(all[j].view({1, 1, S, S}), hs).reshape({per_map}).contiguous();
        std::copy_n(small.data_ptr<float>(), per_map, out.data() + j * per_map);
      }
      // Overlap of each map with its image's mask: (mass inside, area, AUC) for image, reference, plain
      // image.
      float* sc = out.data() + kMaps * per_map;
      sc[0] = static_cast<float>(maps.shared_dims);
      const std::vector<std::uint8_t> mask_x = mask_at(masks, img_row, hs),
                                      mask_y = mask_at(masks, ref_row, hs);
      const std::pair<int, const std::vector<std::uint8_t>*> which[3] = {
          {0, &mask_x}, {1, &mask_y}, {2, &mask_x}};
      for (int j = 0; j < 3; ++j) {
        if (which[j].second->empty() || !all[which[j].first].defined()) continue;
        const auto o = overlap_score(out.data() + which[j].first * per_map, which[j].second->data(), per_map);
        sc[1 + 3 * j] = static_cast<float>(o.mass_inside);
        sc[2 + 3 * j] = static_cast<float>(o.area);
        sc[3 + 3 * j] = static_cast<float>(o.auc);
      }
      if (task.active()) saved.save(k, ChunkData{{}, out, {}});
      progress.add(1);
    }
  }
  if (task.active()) {
    MPI_Barrier(comm);
    log::info("explain: array task {} of {} done, pairs saved in {}; the normal run collects them",
              task.index, task.count, saved.folder());
    return;
  }
  std::vector<int> owner(static_cast<size_t>(K), 0);
  for (int q = 0; q < ranks; ++q)
    for (auto k : my_chunks(K, q, ranks)) owner[static_cast<size_t>(k)] = q;
  for (std::int64_t k = 0; k < K; ++k) {
    auto& buf = results[static_cast<size_t>(k)];
    buf.resize(static_cast<size_t>(per_pair));
    MPI_Bcast(buf.data(), static_cast<int>(per_pair), MPI_FLOAT, owner[static_cast<size_t>(k)], comm);
  }

  // 4. Write.
  ExplainResults res;
  res.heatmap_size = hs;
  res.targets.reserve(readouts.size());
  for (const auto& r : readouts) res.targets.push_back(r.name);
  res.preferred = preferred_text;
  res.pairs = std::move(packed);
  res.per_pair = std::move(results);
  res.masks = masks.path;
  res.method = opt.integrated_gradients ? "integrated_gradients" : "gradient_x_input";
  res.ig_steps = opt.ig_steps;
  res.baseline = opt.baseline;
  RunFile out(cfg, "explain", comm);
  write_explain(out.file(), res, feats.ids);
  out.commit();
  if (is_root(comm)) {
    saved.clear();
    const std::string dir = (std::filesystem::path(opt.run_dir) / "explain").string();
    write_panels(dir, res, stimuli, stim_rows, masks_for_panels(masks, res, hs));
    log::info("explain: wrote {} and PNG panels in {}", out.final_path(), dir);
  }
}

}  // namespace deepvox::explain
