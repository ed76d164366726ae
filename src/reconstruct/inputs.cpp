#include "reconstruct/inputs.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <unordered_map>

#include "core/text.h"

namespace deepvox::reconstruct {
namespace {

std::runtime_error input_error(const std::string& stage, const std::string& path, const std::string& what) {
  return std::runtime_error(stage + ": " + path + ": " + what);
}

std::vector<std::int64_t> read_index(const h5::File& f, const std::string& name, std::int64_t bound,
                                     const std::string& stage, const std::string& path) {
  auto v = f.dataset(name).read_all<std::int64_t>();
  for (auto i : v)
    if (i < 0 || i >= bound)
      throw input_error(
          stage, path,
          "/" + name + " holds " + std::to_string(i) + ", outside [0, " + std::to_string(bound) + ")");
  return v;
}

}  // namespace

ResponsesInfo read_responses_info(const std::string& path, const std::string& stage) {
  if (!h5::is_hdf5(path))
    throw input_error(stage, path, "missing or not an HDF5 file (run `deepvox import` first)");
  auto f = h5::File::open(path, h5::Mode::Read);
  ResponsesInfo r;
  r.path = path;
  for (const char* req : {"stimulus_ids", "responses", "split/train", "split/test"})
    if (!f.exists(req)) throw input_error(stage, path, std::string("has no /") + req);
  r.ids = f.dataset("stimulus_ids").read_strings();
  const auto shape = f.dataset("responses").shape();
  const auto s = static_cast<std::int64_t>(r.ids.size());
  if (shape.size() != 2 || shape[0] != s)
    throw input_error(stage, path,
                      "/responses must be [stimuli, voxels] with one row per /stimulus_ids entry");
  r.n_voxels = shape[1];
  r.train = read_index(f, "split/train", s, stage, path);
  r.test = read_index(f, "split/test", s, stage, path);
  r.valid.assign(static_cast<size_t>(r.n_voxels), 1);
  if (f.exists("voxels/valid")) {
    r.valid = f.dataset("voxels/valid").read_all<std::uint8_t>();
    if (static_cast<std::int64_t>(r.valid.size()) != r.n_voxels)
      throw input_error(stage, path, "/voxels/valid does not have one entry per voxel");
  }
  if (f.exists("rois") && f.is_group("rois")) {
    auto g = f.group("rois");
    for (const auto& name : g.children()) {
      if (g.is_group(name)) continue;
      auto mask = g.dataset(name).read_all<std::uint8_t>();
      if (static_cast<std::int64_t>(mask.size()) != r.n_voxels)
        throw input_error(stage, path, "/rois/" + name + " does not have one entry per voxel");
      r.rois[name] = std::move(mask);
    }
  }
  if (f.exists("categories/names") && f.exists("categories/index")) {
    r.category_names = f.dataset("categories/names").read_strings();
    r.category =
        read_index(f, "categories/index", static_cast<std::int64_t>(r.category_names.size()), stage, path);
    if (static_cast<std::int64_t>(r.category.size()) != s)
      throw input_error(stage, path, "/categories/index does not have one entry per stimulus");
  }
  return r;
}

std::vector<std::int64_t> voxel_columns(const ResponsesInfo& info, const std::vector<std::string>& rois,
                                        const std::string& key) {
  std::vector<std::uint8_t> keep(static_cast<size_t>(info.n_voxels), rois.empty() ? 1 : 0);
  for (const auto& name : rois) {
    auto it = info.rois.find(name);
    if (it == info.rois.end()) {
      std::vector<std::string> have;
      for (const auto& [n, m] : info.rois) have.push_back(n);
      throw std::runtime_error(key + ": " + info.path + " has no ROI '" + name + "' (it has: " +
                               (have.empty() ? std::string("none") : name_some(have, 50)) + ")");
    }
    for (size_t v = 0; v < keep.size(); ++v) keep[v] |= it->second[v];
  }
  std::vector<std::int64_t> cols;
  for (std::int64_t v = 0; v < info.n_voxels; ++v)
    if (keep[static_cast<size_t>(v)] && info.valid[static_cast<size_t>(v)]) cols.push_back(v);
  if (cols.empty()) throw std::runtime_error(key + ": no valid voxel selected in " + info.path);
  return cols;
}

fit::Mat<float> read_responses(const std::string& path, const std::vector<std::int64_t>& rows,
                               const std::vector<std::int64_t>& cols) {
  auto f = h5::File::open(path, h5::Mode::Read);
  auto d = f.dataset("responses");
  const std::int64_t s = d.rows();
  fit::Mat<float> out(static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(cols.size()));
  // Contiguous runs of columns, each read for every row (then the wanted rows are picked).
  std::vector<float> buf;
  for (size_t k = 0; k < cols.size();) {
    size_t e = k + 1;
    while (e < cols.size() && cols[e] == cols[e - 1] + 1) ++e;
    const std::int64_t w = static_cast<std::int64_t>(e - k);
    buf.resize(static_cast<size_t>(s * w));
    d.read_block<float>({0, s, cols[k], w}, buf.data());
    for (size_t i = 0; i < rows.size(); ++i)
      std::copy_n(buf.data() + rows[i] * w, w, out.row(static_cast<std::int64_t>(i)) + k);
    k = e;
  }
  return out;
}

FeaturesInfo read_features_info(const std::string& path, const std::string& stage) {
  if (!h5::is_hdf5(path))
    throw input_error(stage, path, "missing or not an HDF5 file (run `deepvox extract` first)");
  auto f = h5::File::open(path, h5::Mode::Read);
  FeaturesInfo info;
  info.path = path;
  if (!f.exists("stimulus_ids")) throw input_error(stage, path, "has no /stimulus_ids");
  if (!f.exists("features") || !f.is_group("features"))
    throw input_error(stage, path, "has no /features group");
  info.ids = f.dataset("stimulus_ids").read_strings();
  if (f.exists("layers"))
    info.layers = f.dataset("layers").read_strings();
  else
    info.layers = f.group("features").children();
  for (const auto& l : info.layers) {
    if (!f.exists("features/" + l))
      throw input_error(stage, path, "lists layer " + l + " but has no /features/" + l);
    auto d = f.dataset("features/" + l);
    if (d.shape().size() != 2 || d.rows() != static_cast<std::int64_t>(info.ids.size()))
      throw input_error(stage, path, "/features/" + l + " must be [stimuli, features]");
    info.dims[l] = d.cols();
  }
  if (f.has_attr("images")) info.images = f.read_attr_string("images");
  return info;
}

std::vector<std::string> pick_layers(const FeaturesInfo& info, const std::vector<std::string>& wanted,
                                     const std::string& key) {
  if (wanted.empty()) return info.layers;
  for (const auto& w : wanted)
    if (!info.dims.count(w))
      throw std::runtime_error(key + ": " + info.path + " has no layer '" + w +
                               "' (it has: " + name_some(info.layers, 50) + ")");
  return wanted;
}

std::vector<std::int64_t> match_ids(const std::vector<std::string>& wanted,
                                    const std::vector<std::string>& have, const std::string& what) {
  std::unordered_map<std::string, std::int64_t> index;
  for (size_t i = 0; i < have.size(); ++i) index.emplace(have[i], static_cast<std::int64_t>(i));
  std::vector<std::int64_t> rows;
  std::vector<std::string> missing;
  for (const auto& id : wanted) {
    auto it = index.find(id);
    if (it == index.end())
      missing.push_back(id);
    else
      rows.push_back(it->second);
  }
  if (!missing.empty())
    throw std::runtime_error(what + ": " + std::to_string(missing.size()) +
                             " stimuli are missing: " + name_some(missing));
  return rows;
}

fit::Mat<float> read_feature_columns(const h5::File& f, const std::string& layer,
                                     const std::vector<std::int64_t>& rows, std::int64_t c0, std::int64_t b) {
  auto d = f.dataset("features/" + layer);
  const std::int64_t n = d.rows();
  std::vector<float> buf(static_cast<size_t>(n * b));
  d.read_block<float>({0, n, c0, b}, buf.data());
  fit::Mat<float> out(static_cast<std::int64_t>(rows.size()), b);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(buf.data() + rows[i] * b, b, out.row(static_cast<std::int64_t>(i)));
  return out;
}

std::string resolve_images(const std::string& configured, const FeaturesInfo& features,
                           const std::string& run_dir) {
  if (!configured.empty()) return configured;
  if (!features.images.empty()) return features.images;
  return (std::filesystem::path(run_dir) / "stimuli" / "manifest.csv").string();
}

}  // namespace deepvox::reconstruct
