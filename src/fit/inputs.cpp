#include "fit/inputs.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "core/config.h"
#include "core/text.h"

namespace deepvox::fit {
namespace {

std::runtime_error input_error(const std::string& path, const std::string& what) {
  return std::runtime_error("fit: " + path + ": " + what);
}

std::vector<std::int64_t> read_index(const h5::File& f, const std::string& name, std::int64_t bound,
                                     const std::string& path) {
  auto v = f.dataset(name).read_all<std::int64_t>();
  for (auto i : v)
    if (i < 0 || i >= bound)
      throw input_error(
          path, name + " holds " + std::to_string(i) + ", outside [0, " + std::to_string(bound) + ")");
  return v;
}

}  // namespace

ResponseMeta read_response_meta(const std::string& path) {
  if (!h5::is_hdf5(path)) throw input_error(path, "missing or not an HDF5 file (run `deepvox import` first)");
  auto f = h5::File::open(path, h5::Mode::Read);
  ResponseMeta m;
  m.path = path;
  for (const char* req : {"stimulus_ids", "responses", "split/train", "split/test"})
    if (!f.exists(req)) throw input_error(path, std::string("has no /") + req);
  m.stimulus_ids = f.dataset("stimulus_ids").read_strings();
  auto shape = f.dataset("responses").shape();
  if (shape.size() != 2) throw input_error(path, "/responses must be 2-D [stimuli, voxels]");
  const auto s = static_cast<std::int64_t>(m.stimulus_ids.size());
  if (shape[0] != s)
    throw input_error(path, "/responses has " + std::to_string(shape[0]) + " rows but /stimulus_ids has " +
                                std::to_string(s));
  m.n_voxels = shape[1];
  m.train = read_index(f, "split/train", s, path);
  m.test = read_index(f, "split/test", s, path);
  std::vector<std::int64_t> both = m.train;
  both.insert(both.end(), m.test.begin(), m.test.end());
  std::sort(both.begin(), both.end());
  if (std::adjacent_find(both.begin(), both.end()) != both.end())
    throw input_error(path, "/split/train and /split/test overlap or repeat a stimulus");
  m.valid.assign(static_cast<size_t>(m.n_voxels), 1);
  if (f.exists("voxels/valid")) {
    m.valid = f.dataset("voxels/valid").read_all<std::uint8_t>();
    if (static_cast<std::int64_t>(m.valid.size()) != m.n_voxels)
      throw input_error(path, "/voxels/valid has " + std::to_string(m.valid.size()) + " entries, not " +
                                  std::to_string(m.n_voxels));
  }
  if (f.exists("rois") && f.is_group("rois")) {
    auto rois = f.group("rois");
    for (const auto& name : rois.children()) {
      if (rois.is_group(name)) continue;
      auto mask = rois.dataset(name).read_all<std::uint8_t>();
      if (static_cast<std::int64_t>(mask.size()) != m.n_voxels)
        throw input_error(path, "/rois/" + name + " has " + std::to_string(mask.size()) + " entries, not " +
                                    std::to_string(m.n_voxels));
      m.rois.emplace_back(name, std::move(mask));
    }
  }
  if (f.exists("trials/stimulus_index")) {
    m.trial_stimulus = read_index(f, "trials/stimulus_index", s, path);
    if (f.exists("trials/responses")) {
      auto ts = f.dataset("trials/responses").shape();
      if (ts.size() != 2 || ts[0] != static_cast<std::int64_t>(m.trial_stimulus.size()) ||
          ts[1] != m.n_voxels)
        throw input_error(path, "/trials/responses must be [trials, voxels] matching /trials/stimulus_index");
      m.has_trial_responses = true;
    }
  }
  return m;
}

std::vector<std::int64_t> train_labels(const ResponseMeta& meta, const std::string& column) {
  auto f = h5::File::open(meta.path, h5::Mode::Read);
  const std::string name = "trials/" + column;
  if (meta.trial_stimulus.empty() || !f.exists(name))
    throw std::runtime_error("fit: fit.fold_by = " + column + " needs /" + name +
                             " and /trials/stimulus_index in " + meta.path);
  auto label = f.dataset(name).read_all<std::int64_t>();
  if (label.size() != meta.trial_stimulus.size())
    throw input_error(meta.path, "/" + name + " and /trials/stimulus_index differ in length");
  // The first trial of each stimulus decides its group (decisions.md).
  std::unordered_map<std::int64_t, std::int64_t> first;
  for (size_t t = 0; t < label.size(); ++t) first.emplace(meta.trial_stimulus[t], label[t]);
  std::vector<std::int64_t> out;
  std::vector<std::string> missing;
  for (auto row : meta.train) {
    auto it = first.find(row);
    if (it == first.end()) {
      missing.push_back(meta.stimulus_ids[static_cast<size_t>(row)]);
      continue;
    }
    out.push_back(it->second);
  }
  if (!missing.empty())
    throw input_error(
        meta.path, "fit.fold_by = " + column + ": training stimuli without any trial: " + name_some(missing));
  return out;
}

std::vector<std::string> feature_layers(const std::string& path) {
  auto f = h5::File::open(path, h5::Mode::Read);
  if (!f.exists("features") || !f.is_group("features")) throw input_error(path, "has no /features group");
  auto g = f.group("features");
  // Creation order is the file order when the writer tracked it; otherwise HDF5 only knows names.
  H5_index_t index = H5_INDEX_NAME;
  hid_t gcpl = H5Gget_create_plist(g.id());
  unsigned flags = 0;
  if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &flags) >= 0 && (flags & H5P_CRT_ORDER_TRACKED))
    index = H5_INDEX_CRT_ORDER;
  if (gcpl >= 0) H5Pclose(gcpl);
  H5G_info_t info;
  if (H5Gget_info(g.id(), &info) < 0) throw input_error(path, "cannot list /features");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char buf[1024];
    if (H5Lget_name_by_idx(g.id(), ".", index, H5_ITER_INC, i, buf, sizeof(buf), H5P_DEFAULT) < 0) continue;
    if (!g.is_group(buf)) names.emplace_back(buf);
  }
  if (names.empty()) throw input_error(path, "/features holds no layer dataset");
  return names;
}

FeatureSet read_features(const std::string& path, const ResponseMeta& meta,
                         const std::vector<std::string>& layers) {
  if (!h5::is_hdf5(path))
    throw input_error(path, "missing or not an HDF5 file (run `deepvox extract` first)");
  FeatureSet fs;
  const auto available = feature_layers(path);
  fs.layers = layers.empty() ? available : layers;
  for (const auto& l : fs.layers)
    if (std::find(available.begin(), available.end(), l) == available.end())
      throw ConfigError("fit.layers names '" + l + "', which " + path +
                        " does not have (it has: " + name_some(available, 50) + ")");
  auto f = h5::File::open(path, h5::Mode::Read);
  if (!f.exists("stimulus_ids")) throw input_error(path, "has no /stimulus_ids");
  const auto ids = f.dataset("stimulus_ids").read_strings();
  std::unordered_map<std::string, std::int64_t> row_of;
  std::vector<std::string> duplicates;
  for (size_t i = 0; i < ids.size(); ++i)
    if (!row_of.emplace(ids[i], static_cast<std::int64_t>(i)).second) duplicates.push_back(ids[i]);
  if (!duplicates.empty()) throw input_error(path, "/stimulus_ids repeats ids: " + name_some(duplicates));

  // Rows of features.h5 for the training, then the test stimuli of responses.h5.
  std::vector<std::int64_t> rows;
  std::vector<std::string> missing;
  for (const auto* split : {&meta.train, &meta.test})
    for (auto r : *split) {
      const auto& id = meta.stimulus_ids[static_cast<size_t>(r)];
      auto it = row_of.find(id);
      if (it == row_of.end()) {
        missing.push_back(id);
      } else {
        rows.push_back(it->second);
      }
    }
  if (!missing.empty())
    throw std::runtime_error("fit: stimulus ids of " + meta.path + " missing from " + path + ": " +
                             name_some(missing) + " (" + std::to_string(missing.size()) + " of " +
                             std::to_string(meta.train.size() + meta.test.size()) + " stimuli used)");

  fs.offset = {0};
  for (const auto& l : fs.layers) {
    auto shape = f.dataset("features/" + l).shape();
    if (shape.empty() || shape[0] != static_cast<std::int64_t>(ids.size()))
      throw input_error(
          path, "/features/" + l + " must have one row per stimulus id (" + std::to_string(ids.size()) + ")");
    std::int64_t d = 1;
    for (size_t k = 1; k < shape.size(); ++k) d *= shape[k];
    fs.offset.push_back(fs.offset.back() + d);
  }
  const std::int64_t p = fs.offset.back();
  fs.x.resize(static_cast<std::int64_t>(rows.size()), p);
  for (size_t b = 0; b < fs.layers.size(); ++b) {
    const std::int64_t d = fs.offset[b + 1] - fs.offset[b];
    const auto all = f.dataset("features/" + fs.layers[b]).read_all<float>();
    for (size_t i = 0; i < rows.size(); ++i) {
      const float* src = all.data() + rows[i] * d;
      for (std::int64_t j = 0; j < d; ++j)
        if (!std::isfinite(src[j]))
          throw input_error(path,
                            "/features/" + fs.layers[b] + " is not finite for stimulus " + ids[rows[i]]);
      std::copy_n(src, d, fs.x.row(static_cast<std::int64_t>(i)) + fs.offset[b]);
    }
  }
  return fs;
}

template <typename T>
ResponseSource<T>::ResponseSource(const ResponseMeta& meta,
                                  std::vector<std::pair<std::int64_t, std::int64_t>> blocks, bool cache)
    : meta_(meta), blocks_(std::move(blocks)), cache_(cache) {
  file_ = h5::File::open(meta.path, h5::Mode::Read);
  loaded_.assign(blocks_.size(), false);
  counted_.assign(blocks_.size(), false);
  // The same keys on every rank (even one without blocks): callers reduce them across ranks.
  for (const char* why : {"flagged in /voxels/valid", "non-finite", "constant over training stimuli"})
    invalid_[why] = 0;
  if (cache_) cached_.resize(blocks_.size());
}

template <typename T>
const typename ResponseSource<T>::Block& ResponseSource<T>::get(size_t i) {
  if (cache_) {
    if (!loaded_[i]) load(i, cached_[i]);
    loaded_[i] = true;
    return cached_[i];
  }
  load(i, scratch_);
  return scratch_;
}

template <typename T>
void ResponseSource<T>::load(size_t i, Block& out) {
  const auto [c0, c1] = blocks_[i];
  const std::int64_t b = c1 - c0, s = static_cast<std::int64_t>(meta_.stimulus_ids.size());
  std::vector<float> raw(static_cast<size_t>(s * b));
  file_.dataset("responses").read_block<float>({0, s, c0, b}, raw.data());
  out.col0 = c0;
  out.cols = b;
  out.train.resize(static_cast<std::int64_t>(meta_.train.size()), b);
  out.test.resize(static_cast<std::int64_t>(meta_.test.size()), b);
  for (size_t k = 0; k < meta_.train.size(); ++k)
    std::copy_n(raw.data() + meta_.train[k] * b, b, out.train.row(static_cast<std::int64_t>(k)));
  for (size_t k = 0; k < meta_.test.size(); ++k)
    std::copy_n(raw.data() + meta_.test[k] * b, b, out.test.row(static_cast<std::int64_t>(k)));
  out.valid.assign(static_cast<size_t>(b), 1);
  std::int64_t flagged = 0, nonfinite = 0, constant = 0;
  for (std::int64_t j = 0; j < b; ++j) {
    bool finite = true;
    for (const Mat<T>* m : {&out.train, &out.test})
      for (std::int64_t r = 0; r < m->rows && finite; ++r) finite = std::isfinite((*m)(r, j));
    bool varies = false;
    for (std::int64_t r = 1; r < out.train.rows && !varies; ++r) varies = out.train(r, j) != out.train(0, j);
    const bool ok = meta_.valid[static_cast<size_t>(c0 + j)] != 0 && finite && varies;
    if (meta_.valid[static_cast<size_t>(c0 + j)] == 0) {
      ++flagged;
    } else if (!finite) {
      ++nonfinite;
    } else if (!varies) {
      ++constant;
    }
    if (ok) continue;
    out.valid[static_cast<size_t>(j)] = 0;
    // Zeros keep NaN out of the shared GEMMs; the voxel is excluded from every result.
    for (Mat<T>* m : {&out.train, &out.test})
      for (std::int64_t r = 0; r < m->rows; ++r) (*m)(r, j) = T(0);
  }
  if (!counted_[i]) {
    counted_[i] = true;
    invalid_["flagged in /voxels/valid"] += flagged;
    invalid_["non-finite"] += nonfinite;
    invalid_["constant over training stimuli"] += constant;
  }
}

template <typename T>
Mat<float> ResponseSource<T>::trials(size_t i) const {
  const auto [c0, c1] = blocks_[i];
  const auto n = static_cast<std::int64_t>(meta_.trial_stimulus.size());
  Mat<float> out(n, c1 - c0);
  file_.dataset("trials/responses").read_block<float>({0, n, c0, c1 - c0}, out.data());
  return out;
}

std::int64_t cache_bytes(const ResponseMeta& meta, std::int64_t local_voxels, std::int64_t value_bytes) {
  return local_voxels * static_cast<std::int64_t>(meta.train.size() + meta.test.size()) * value_bytes;
}

template class ResponseSource<float>;
template class ResponseSource<double>;

}  // namespace deepvox::fit
