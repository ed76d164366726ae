#include "synth/run_inputs.h"

#include <algorithm>
#include <filesystem>

#include "core/config.h"

namespace deepvox::synth {

template <typename T>
std::vector<T> read_row_list(const h5::Dataset& d, const std::vector<std::int64_t>& rows) {
  const std::int64_t cols = d.cols(), n_rows = d.rows();
  std::vector<T> out(rows.size() * static_cast<size_t>(cols));
  // Consecutive increasing rows are read in one block; a repeat or jump starts a new one.
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    if (rows[i] < 0 || rows[j - 1] >= n_rows)
      throw h5::Error("row " + std::to_string(rows[i] < 0 ? rows[i] : rows[j - 1]) + " is outside " +
                      d.path());
    d.read_block<T>({rows[i], static_cast<std::int64_t>(j - i), 0, cols},
                    out.data() + i * static_cast<size_t>(cols));
    i = j;
  }
  return out;
}
template std::vector<float> read_row_list<float>(const h5::Dataset&, const std::vector<std::int64_t>&);
template std::vector<double> read_row_list<double>(const h5::Dataset&, const std::vector<std::int64_t>&);

namespace {

h5::File open_input(const std::string& path, const std::string& what) {
  if (!std::filesystem::exists(path)) throw ConfigError(what + " not found: " + path);
  if (!h5::is_hdf5(path)) throw ConfigError(what + " is not an HDF5 file: " + path);
  return h5::File::open(path, h5::Mode::Read);
}

h5::Dataset required(const h5::File& f, const std::string& rel, const std::string& path) {
  if (!f.exists(rel)) throw ConfigError(path + " has no /" + rel);
  return f.dataset(rel);
}

}  // namespace

Responses Responses::read(const std::string& path) {
  auto f = open_input(path, "responses file");
  Responses r;
  r.path = path;
  r.ids = required(f, "stimulus_ids", path).read_strings();
  auto resp = required(f, "responses", path);
  if (resp.shape().size() != 2 || resp.rows() != static_cast<std::int64_t>(r.ids.size()))
    throw ConfigError(path + ": /responses must be [" + std::to_string(r.ids.size()) + ", V]");
  r.n_voxels = resp.cols();
  r.train = required(f, "split/train", path).read_all<std::int64_t>();
  r.test = required(f, "split/test", path).read_all<std::int64_t>();
  const auto n = static_cast<std::int64_t>(r.ids.size());
  for (auto* split : {&r.train, &r.test})
    for (auto s : *split)
      if (s < 0 || s >= n)
        throw ConfigError(path + ": /split holds row " + std::to_string(s) + " outside /stimulus_ids");
  r.valid = f.exists("voxels/valid") ? f.dataset("voxels/valid").read_all<std::uint8_t>()
                                     : std::vector<std::uint8_t>(static_cast<size_t>(r.n_voxels), 1);
  if (f.exists("rois")) {
    auto g = f.group("rois");
    for (const auto& name : g.children()) {
      auto mask = g.dataset(name).read_all<std::uint8_t>();
      if (static_cast<std::int64_t>(mask.size()) != r.n_voxels)
        throw ConfigError(path + ": /rois/" + name + " has " + std::to_string(mask.size()) +
                          " entries, not V = " + std::to_string(r.n_voxels));
      r.rois.emplace_back(name, std::move(mask));
    }
  }
  if (f.exists("categories/names") && f.exists("categories/index")) {
    r.category_names = f.dataset("categories/names").read_strings();
    r.category = f.dataset("categories/index").read_all<std::int64_t>();
    if (r.category.size() != r.ids.size())
      throw ConfigError(path + ": /categories/index must have one entry per stimulus");
  } else {
    r.category.assign(r.ids.size(), -1);
  }
  if (f.exists("trials/stimulus_index") && f.exists("trials/responses"))
    r.trial_stimulus = f.dataset("trials/stimulus_index").read_all<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) r.index_[r.ids[static_cast<size_t>(i)]] = i;
  return r;
}

std::int64_t Responses::row_of(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? -1 : it->second;
}

std::vector<float> Responses::responses(const std::vector<std::int64_t>& rows) const {
  auto f = h5::File::open(path, h5::Mode::Read);
  return read_row_list<float>(f.dataset("responses"), rows);
}

std::vector<float> Responses::trials(const std::vector<std::int64_t>& trial_rows) const {
  auto f = h5::File::open(path, h5::Mode::Read);
  return read_row_list<float>(f.dataset("trials/responses"), trial_rows);
}

std::vector<std::vector<std::int64_t>> Responses::trials_by_stimulus() const {
  std::vector<std::vector<std::int64_t>> out(ids.size());
  for (size_t t = 0; t < trial_stimulus.size(); ++t) {
    auto s = trial_stimulus[t];
    if (s >= 0 && s < static_cast<std::int64_t>(ids.size()))
      out[static_cast<size_t>(s)].push_back(static_cast<std::int64_t>(t));
  }
  return out;
}

// ---------------- EncodingModel ----------------
EncodingModel EncodingModel::open(const std::string& path) {
  auto f = open_input(path, "encoding model");
  EncodingModel m;
  m.path_ = path;
  m.layers_ = required(f, "layers/names", path).read_strings();
  m.offsets_ = required(f, "layers/offset", path).read_all<std::int64_t>();
  if (m.offsets_.size() != m.layers_.size() + 1 || m.offsets_.front() != 0 ||
      !std::is_sorted(m.offsets_.begin(), m.offsets_.end()))
    throw ConfigError(path + ": /layers/offset must be B+1 increasing column offsets starting at 0");
  auto w = required(f, "weights", path);
  const auto shape = w.shape();
  if (shape.size() != 2 || shape[0] != m.offsets_.back())
    throw ConfigError(path + ": /weights must be [P = " + std::to_string(m.offsets_.back()) + ", V]");
  m.n_voxels_ = shape[1];
  m.mean_ = required(f, "features/mean", path).read_all<float>();
  m.scale_ = required(f, "features/scale", path).read_all<float>();
  m.intercept_ = f.exists("intercept") ? f.dataset("intercept").read_all<float>()
                                       : std::vector<float>(static_cast<size_t>(m.n_voxels_), 0.0f);
  if (static_cast<std::int64_t>(m.mean_.size()) != shape[0] ||
      static_cast<std::int64_t>(m.scale_.size()) != shape[0])
    throw ConfigError(
        path + ": /features/mean and /features/scale must have P = " + std::to_string(shape[0]) + " entries");
  if (static_cast<std::int64_t>(m.intercept_.size()) != m.n_voxels_)
    throw ConfigError(path + ": /intercept must have V = " + std::to_string(m.n_voxels_) + " entries");
  if (f.exists("voxels/lambda")) {
    auto l = f.dataset("voxels/lambda");
    if (l.shape().size() == 1) m.lambda_ = l.read_all<double>();
  }
  if (f.exists("extract")) {
    auto g = f.group("extract");
    for (const auto& a : g.attr_names()) m.extract_attrs_[a] = g.attr_as_text(a);
  }
  std::vector<float> inv(m.scale_.size());
  for (size_t i = 0; i < inv.size(); ++i) inv[i] = m.scale_[i] > 0 ? 1.0f / m.scale_[i] : 0.0f;
  m.mean_t_ = at::from_blob(m.mean_.data(), {shape[0]}, at::kFloat).clone();
  m.inv_scale_t_ = at::from_blob(inv.data(), {shape[0]}, at::kFloat).clone();
  m.intercept_t_ = at::from_blob(m.intercept_.data(), {m.n_voxels_}, at::kFloat).clone();
  return m;
}

void EncodingModel::load_weights() {
  if (weights_.defined()) return;
  auto f = h5::File::open(path_, h5::Mode::Read);
  weights_ = at::empty({n_features(), n_voxels_}, at::kFloat);
  f.dataset("weights").read_block<float>({0, n_features(), 0, n_voxels_}, weights_.data_ptr<float>());
}

at::Tensor EncodingModel::standardize(const at::Tensor& features) const {
  return (features - mean_t_) * inv_scale_t_;
}

at::Tensor EncodingModel::predict(const at::Tensor& features) const {
  if (!weights_.defined()) throw std::logic_error("EncodingModel::predict before load_weights");
  return at::addmm(intercept_t_, standardize(features), weights_);
}

void EncodingModel::check_layout(const std::vector<std::pair<std::string, std::int64_t>>& layers,
                                 const std::string& source) const {
  std::map<std::string, std::int64_t> have(layers.begin(), layers.end());
  std::string problems;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto it = have.find(layers_[i]);
    if (it == have.end())
      problems += "\n  layer " + layers_[i] + ": missing from " + source;
    else if (it->second != layer_width(i))
      problems += "\n  layer " + layers_[i] + ": " + std::to_string(it->second) + " features in " + source +
                  ", the model was fitted on " + std::to_string(layer_width(i));
  }
  if (!problems.empty())
    throw ConfigError("feature layout of " + source + " does not match the encoding model " + path_ + ":" +
                      problems);
}

std::vector<std::pair<std::string, std::int64_t>> feature_file_layers(const std::string& path) {
  auto f = open_input(path, "features file");
  if (!f.exists("features")) throw ConfigError(path + " has no /features group");
  std::vector<std::string> names;
  if (f.exists("layers") && !f.is_group("layers")) names = f.dataset("layers").read_strings();
  if (names.empty()) names = f.group("features").children();
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& n : names) {
    if (!f.exists("features/" + n)) continue;
    auto d = f.dataset("features/" + n);
    out.emplace_back(n, d.shape().size() == 2 ? d.cols() : 1);
  }
  return out;
}

}  // namespace deepvox::synth
