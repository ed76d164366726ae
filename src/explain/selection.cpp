#include "explain/selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "io/h5.h"

namespace deepvox::explain {
namespace {

std::runtime_error model_error(const std::string& path, const std::string& what) {
  return std::runtime_error("explain: " + path + ": " + what);
}

constexpr std::int64_t kRowBlock = 128;

}  // namespace

ModelInfo read_model_info(const std::string& path) {
  if (!h5::is_hdf5(path)) throw model_error(path, "missing or not an HDF5 file (run `deepvox fit` first)");
  auto f = h5::File::open(path, h5::Mode::Read);
  for (const char* req :
       {"weights", "intercept", "features/mean", "features/scale", "layers/names", "layers/offset"})
    if (!f.exists(req)) throw model_error(path, std::string("has no /") + req);
  ModelInfo m;
  m.path = path;
  m.layers = f.dataset("layers/names").read_strings();
  m.offset = f.dataset("layers/offset").read_all<std::int64_t>();
  m.mean = f.dataset("features/mean").read_all<float>();
  m.scale = f.dataset("features/scale").read_all<float>();
  const auto shape = f.dataset("weights").shape();
  if (m.offset.size() != m.layers.size() + 1 || m.offset.front() != 0)
    throw model_error(path, "/layers/offset must hold B+1 column offsets starting at 0");
  if (shape.size() != 2 || shape[0] != m.offset.back())
    throw model_error(path, "/weights must be [P, V] with P = /layers/offset[-1]");
  if (static_cast<std::int64_t>(m.mean.size()) != shape[0] ||
      static_cast<std::int64_t>(m.scale.size()) != shape[0])
    throw model_error(path, "/features/mean and /features/scale must have P entries");
  m.n_voxels = shape[1];
  return m;
}

std::vector<Readout> read_readouts(const ModelInfo& model, const reconstruct::ResponsesInfo& responses,
                                   const std::vector<std::string>& targets) {
  if (responses.n_voxels != model.n_voxels)
    throw model_error(model.path, "has " + std::to_string(model.n_voxels) + " voxels but " + responses.path +
                                      " has " + std::to_string(responses.n_voxels));
  auto f = h5::File::open(model.path, h5::Mode::Read);
  const auto weights = f.dataset("weights");
  const auto intercept = f.dataset("intercept").read_all<float>();
  const std::int64_t p = model.dim();
  std::vector<Readout> out;
  for (const auto& t : targets) {
    std::vector<std::int64_t> cols;
    if (t.rfind("voxel:", 0) == 0) {
      std::int64_t v = -1;
      try {
        v = std::stoll(t.substr(6));
      } catch (const std::exception&) {
      }
      if (v < 0 || v >= model.n_voxels)
        throw std::runtime_error("explain.targets: '" + t + "' is not a voxel index in [0, " +
                                 std::to_string(model.n_voxels) + ")");
      cols.push_back(v);
    } else {
      cols = reconstruct::voxel_columns(responses, {t}, "explain.targets");
    }
    Readout r;
    r.name = t;
    r.voxels = static_cast<std::int64_t>(cols.size());
    std::vector<double> sum(static_cast<size_t>(p), 0.0);
    std::vector<float> buf;
    for (size_t k = 0; k < cols.size();) {
      size_t e = k + 1;
      while (e < cols.size() && cols[e] == cols[e - 1] + 1) ++e;
      const auto w = static_cast<std::int64_t>(e - k);
      buf.resize(static_cast<size_t>(p * w));
      weights.read_block<float>({0, p, cols[k], w}, buf.data());
      for (std::int64_t i = 0; i < p; ++i)
        for (std::int64_t j = 0; j < w; ++j) sum[i] += buf[static_cast<size_t>(i * w + j)];
      for (size_t j = k; j < e; ++j) r.intercept += intercept[static_cast<size_t>(cols[j])];
      k = e;
    }
    r.w.resize(static_cast<size_t>(p));
    for (std::int64_t i = 0; i < p; ++i) r.w[i] = static_cast<float>(sum[i] / static_cast<double>(r.voxels));
    r.intercept /= static_cast<double>(r.voxels);
    out.push_back(std::move(r));
  }
  return out;
}

void for_each_block(const std::string& features_path, const ModelInfo& model,
                    const std::vector<std::int64_t>& rows,
                    const std::function<void(std::int64_t, const fit::Mat<float>&)>& fn) {
  auto f = h5::File::open(features_path, h5::Mode::Read);
  std::vector<h5::Dataset> sets;
  std::int64_t n = -1;
  for (size_t b = 0; b < model.layers.size(); ++b) {
    const std::string name = "features/" + model.layers[b];
    if (!f.exists(name))
      throw model_error(features_path, "has no /" + name + " (a layer of " + model.path + ")");
    sets.push_back(f.dataset(name));
    if (sets.back().cols() != model.offset[b + 1] - model.offset[b])
      throw model_error(features_path, "/" + name + " has " + std::to_string(sets.back().cols()) +
                                           " features but the model expects " +
                                           std::to_string(model.offset[b + 1] - model.offset[b]));
    n = sets.back().rows();
  }
  const std::int64_t p = model.dim();
  auto standardize = [&](fit::Mat<float>& z) {
    for (std::int64_t i = 0; i < z.rows; ++i)
      for (std::int64_t j = 0; j < p; ++j) z(i, j) = (z(i, j) - model.mean[j]) / model.scale[j];
  };
  auto read_into = [&](fit::Mat<float>& z, std::int64_t zrow, std::int64_t row0, std::int64_t nrows) {
    for (size_t b = 0; b < sets.size(); ++b) {
      const std::int64_t w = model.offset[b + 1] - model.offset[b];
      const auto block = sets[b].read_rows<float>(row0, nrows);
      for (std::int64_t i = 0; i < nrows; ++i)
        std::copy_n(block.data() + i * w, w, z.row(zrow + i) + model.offset[b]);
    }
  };
  if (!rows.empty()) {
    fit::Mat<float> z(static_cast<std::int64_t>(rows.size()), p);
    for (size_t i = 0; i < rows.size(); ++i) read_into(z, static_cast<std::int64_t>(i), rows[i], 1);
    standardize(z);
    fn(0, z);
    return;
  }
  for (std::int64_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const std::int64_t nb = std::min(kRowBlock, n - r0);
    fit::Mat<float> z(nb, p);
    read_into(z, 0, r0, nb);
    standardize(z);
    fn(r0, z);
  }
}

std::vector<TargetSelection> select_pairs(const std::string& features_path, const ModelInfo& model,
                                          const std::vector<Readout>& readouts,
                                          const std::vector<std::int64_t>& category,
                                          const std::vector<std::string>& names,
                                          const std::vector<std::string>& preferred, std::int64_t top_k) {
  const auto n = static_cast<std::int64_t>(category.size());
  const std::int64_t p = model.dim();
  const auto nt = static_cast<std::int64_t>(readouts.size());
  // Pass 1: predicted responses of every stimulus to every target.
  std::vector<std::vector<double>> resp(static_cast<size_t>(nt), std::vector<double>(static_cast<size_t>(n)));
  for_each_block(features_path, model, {}, [&](std::int64_t r0, const fit::Mat<float>& z) {
    for (std::int64_t t = 0; t < nt; ++t)
      for (std::int64_t i = 0; i < z.rows; ++i) {
        double s = readouts[t].intercept;
        for (std::int64_t j = 0; j < p; ++j) s += static_cast<double>(readouts[t].w[j]) * z(i, j);
        resp[t][r0 + i] = s;
      }
  });

  std::vector<TargetSelection> out(static_cast<size_t>(nt));
  for (std::int64_t t = 0; t < nt; ++t) {
    auto& sel = out[static_cast<size_t>(t)];
    std::vector<std::uint8_t> in_pref(names.size(), 0);
    for (size_t c = 0; c < names.size(); ++c)
      in_pref[c] = std::find(preferred.begin(), preferred.end(), names[c]) != preferred.end();
    if (std::find(in_pref.begin(), in_pref.end(), 1) == in_pref.end()) {
      // No named preferred category in the data: the category the model responds to most, on average.
      std::vector<double> sum(names.size(), 0.0), count(names.size(), 0.0);
      for (std::int64_t i = 0; i < n; ++i)
        if (category[i] >= 0) {
          sum[category[i]] += resp[t][i];
          count[category[i]] += 1;
        }
      std::int64_t best = -1;
      for (size_t c = 0; c < names.size(); ++c)
        if (count[c] > 0 && (best < 0 || sum[c] / count[c] > sum[best] / count[best]))
          best = static_cast<std::int64_t>(c);
      if (best < 0)
        throw std::runtime_error(
            "explain: no stimulus has a category, so no preferred category can be chosen");
      in_pref[best] = 1;
    }
    for (size_t c = 0; c < names.size(); ++c)
      if (in_pref[c]) sel.preferred.push_back(names[c]);

    std::vector<std::int64_t> outside, inside;
    for (std::int64_t i = 0; i < n; ++i) {
      if (category[i] < 0) continue;
      (in_pref[category[i]] ? inside : outside).push_back(i);
    }
    if (outside.empty() || inside.empty())
      throw std::runtime_error("explain: target " + readouts[t].name +
                               " needs images both inside and outside its preferred categories");
    // Top-k outside the preferred set (ties: lower row first).
    std::stable_sort(outside.begin(), outside.end(),
                     [&](std::int64_t a, std::int64_t b) { return resp[t][a] > resp[t][b]; });
    outside.resize(
        static_cast<size_t>(std::min<std::int64_t>(top_k, static_cast<std::int64_t>(outside.size()))));

    // Pass 2: contributions w * z of the top-k images, then cosine with every preferred image.
    const auto& w = readouts[t].w;
    fit::Mat<float> top(static_cast<std::int64_t>(outside.size()), p);
    std::vector<double> top_norm(outside.size(), 0.0);
    for_each_block(features_path, model, outside, [&](std::int64_t, const fit::Mat<float>& z) {
      for (std::int64_t k = 0; k < z.rows; ++k)
        for (std::int64_t j = 0; j < p; ++j) {
          top(k, j) = w[j] * z(k, j);
          top_norm[k] += static_cast<double>(top(k, j)) * top(k, j);
        }
    });
    std::vector<double> best_sim(outside.size(), -2.0);
    std::vector<std::int64_t> best_ref(outside.size(), -1);
    for_each_block(features_path, model, inside, [&](std::int64_t, const fit::Mat<float>& z) {
      for (std::int64_t i = 0; i < z.rows; ++i) {
        double norm = 0;
        std::vector<double> dot(outside.size(), 0.0);
        for (std::int64_t j = 0; j < p; ++j) {
          const double c = static_cast<double>(w[j]) * z(i, j);
          norm += c * c;
          for (size_t k = 0; k < outside.size(); ++k) dot[k] += c * top(static_cast<std::int64_t>(k), j);
        }
        for (size_t k = 0; k < outside.size(); ++k) {
          const double den = std::sqrt(norm * top_norm[k]);
          const double sim = den > 0 ? dot[k] / den : 0.0;
          if (sim > best_sim[k]) {
            best_sim[k] = sim;
            best_ref[k] = inside[static_cast<size_t>(i)];
          }
        }
      }
    });
    for (size_t k = 0; k < outside.size(); ++k)
      sel.pairs.push_back(
          {t, outside[k], best_ref[k], resp[t][outside[k]], resp[t][best_ref[k]], best_sim[k]});
  }
  return out;
}

}  // namespace deepvox::explain
