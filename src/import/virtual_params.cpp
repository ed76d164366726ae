// The virtual cortex's parameters: drawing them, fitting the classifier and the standardization,
// and storing them in truth.h5 (see virtual_cortex.h).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/config.h"
#include "import/virtual_cortex.h"
#include "import/virtual_random.h"

namespace deepvox::import {

namespace {

// How each ROI draws its voxels (ranges are uniform unless noted).
struct RoiRecipe {
  bool gabor;
  double centre_lo, centre_hi;      // receptive field centre, fraction of the image side
  double sigma_lo, sigma_hi;        // receptive field s.d.
  double exponent_lo, exponent_hi;  // compressive spatial summation exponent
  double freq_lo, freq_hi;          // Gabor: preferred frequency (cycles/image, log-uniform)
  double freq_sd_octaves;           // Gabor: tuning width
  double orientation_bias_max;      // Gabor: amplitude of the orientation preference
};

// V1: small fields, high frequencies, mild compression; V2: about twice the field size, lower
// frequencies, broader tuning, stronger compression; feature ROIs: fields growing along the hierarchy.
const RoiRecipe kRecipes[kVirtualRois] = {
    {true, 0.1, 0.9, 0.04, 0.09, 0.6, 0.9, 6, 24, 0.5, 0.5},
    {true, 0.1, 0.9, 0.09, 0.18, 0.4, 0.7, 3, 12, 1.0, 0.2},
    {false, 0.15, 0.85, 0.10, 0.22, 0.6, 0.9, 0, 0, 0, 0},
    {false, 0.3, 0.7, 0.20, 0.40, 0.8, 1.0, 0, 0, 0, 0},
    {false, 0.35, 0.65, 0.30, 0.60, 0.8, 1.0, 0, 0, 0, 0},
};

constexpr double kPi = 3.14159265358979323846;

template <typename T>
std::vector<T> read(const h5::Group& g, const std::string& name) {
  return g.dataset(name).read_all<T>();
}

}  // namespace

CortexParams make_cortex_params(const CortexOptions& o, const std::vector<std::string>& category_names,
                                const std::vector<std::int64_t>& layer_channels) {
  if (o.roi_sizes.size() != kVirtualRois) {
    throw ConfigError("import.roi_sizes must list 5 voxel counts (V1, V2, V4, LOC, selective)");
  }
  if (o.category_share.size() != kVirtualRois) {
    throw ConfigError("import.category_share must list 5 shares (V1, V2, V4, LOC, selective)");
  }
  if (o.snr_range.size() != 2 || o.snr_range[0] <= 0 || o.snr_range[1] < o.snr_range[0]) {
    throw ConfigError("import.snr must be [min, max] with 0 < min <= max");
  }
  if (o.layers.size() != 3)
    throw ConfigError("import.truth_layers must name 3 layers (for V4, LOC, selective)");
  if (layer_channels.size() != 3)
    throw std::logic_error("make_cortex_params: need the channel count of 3 layers");
  for (double s : o.category_share) {
    if (s < 0 || s > 1) throw ConfigError("import.category_share values must be within [0, 1]");
  }
  CortexParams p;
  p.roi_names = {"V1", "V2", "V4", "LOC", o.selective_roi};
  p.category_names = category_names;
  for (const auto& name : o.selective_categories) {
    auto it = std::find(category_names.begin(), category_names.end(), name);
    if (it == category_names.end()) {
      throw ConfigError("import.selective_categories: '" + name + "' is not one of the demo's categories");
    }
    p.selective_categories.push_back(it - category_names.begin());
  }
  p.network = o.network;
  p.weights = o.weights;
  p.layers = o.layers;
  const int K = p.channels_per_voxel, F = p.gabor.filters(), C = static_cast<int>(category_names.size());

  for (int r = 0; r < kVirtualRois; ++r) {
    if (o.roi_sizes[r] < 0) throw ConfigError("import.roi_sizes must not be negative");
    for (long k = 0; k < o.roi_sizes[r]; ++k) {
      const RoiRecipe& rec = kRecipes[r];
      Rng rng(o.seed, Stream::Voxel, static_cast<std::uint64_t>(p.roi.size()));
      p.roi.push_back(r);
      p.layer.push_back(rec.gabor ? -1 : r - 2);
      p.rf_x.push_back(static_cast<float>(rng.uniform(rec.centre_lo, rec.centre_hi)));
      p.rf_y.push_back(static_cast<float>(rng.uniform(rec.centre_lo, rec.centre_hi)));
      p.rf_sigma.push_back(static_cast<float>(rng.uniform(rec.sigma_lo, rec.sigma_hi)));
      p.exponent.push_back(static_cast<float>(rng.uniform(rec.exponent_lo, rec.exponent_hi)));
      p.category_share.push_back(static_cast<float>(o.category_share[r]));
      p.snr.push_back(static_cast<float>(rng.log_uniform(o.snr_range[0], o.snr_range[1])));

      // Gabor tuning: Gaussian in log frequency times a weak orientation preference, summing to 1.
      std::vector<float> t(F, 0.0f);
      double fpref = 0, opref = 0, bias = 0;
      if (rec.gabor) {
        fpref = rng.log_uniform(rec.freq_lo, rec.freq_hi);
        opref = rng.uniform(0, kPi);
        bias = rng.uniform(0, rec.orientation_bias_max);
        double total = 0;
        for (int fi = 0; fi < static_cast<int>(p.gabor.frequencies.size()); ++fi) {
          const double octaves = std::log2(p.gabor.frequencies[fi] / fpref);
          const double wf = std::exp(-octaves * octaves / (2 * rec.freq_sd_octaves * rec.freq_sd_octaves));
          for (int oi = 0; oi < p.gabor.orientations; ++oi) {
            const double theta = oi * kPi / p.gabor.orientations;
            const double w = wf * (1 + bias * std::cos(2 * (theta - opref)));
            t[fi * p.gabor.orientations + oi] = static_cast<float>(w);
            total += w;
          }
        }
        for (float& v : t) v = static_cast<float>(v / total);
      }
      p.pref_frequency.push_back(static_cast<float>(fpref));
      p.pref_orientation.push_back(static_cast<float>(opref));
      p.orientation_bias.push_back(static_cast<float>(bias));
      p.tuning.insert(p.tuning.end(), t.begin(), t.end());

      // Feature readout: K distinct channels of the ROI's layer with positive weights.
      std::vector<std::int64_t> ch(K, 0);
      std::vector<float> w(K, 0.0f);
      if (!rec.gabor) {
        const std::int64_t n_ch = layer_channels[r - 2];
        if (n_ch < K)
          throw ConfigError("import.truth_layers: layer " + o.layers[r - 2] + " has too few channels");
        std::vector<std::int64_t> pool(n_ch);
        for (std::int64_t c = 0; c < n_ch; ++c) pool[c] = c;
        for (int k2 = 0; k2 < K; ++k2) {  // partial Fisher-Yates: K distinct channels
          const std::size_t j = k2 + static_cast<std::size_t>(rng.below(n_ch - k2));
          std::swap(pool[k2], pool[j]);
          ch[k2] = pool[k2];
          w[k2] = static_cast<float>(0.2 + std::fabs(rng.normal()));
        }
      }
      p.channels.insert(p.channels.end(), ch.begin(), ch.end());
      p.channel_weights.insert(p.channel_weights.end(), w.begin(), w.end());

      // Category evidence weights: the selective ROI prefers its categories; others are mixed.
      for (int c = 0; c < C; ++c) {
        const bool preferred = std::find(p.selective_categories.begin(), p.selective_categories.end(), c) !=
                               p.selective_categories.end();
        const double b = r == kVirtualRois - 1 ? (preferred ? 1.0 + 0.2 * rng.normal() : 0.1 * rng.normal())
                                               : rng.normal();
        p.category_weights.push_back(static_cast<float>(b));
      }
    }
  }
  return p;
}

void fit_category_classifier(CortexParams& p, const std::vector<float>& features, std::int64_t n,
                             const std::vector<std::int64_t>& labels) {
  const std::int64_t C = p.categories();
  const std::int64_t F = static_cast<std::int64_t>(features.size()) / std::max<std::int64_t>(n, 1);
  at::Tensor X = at::from_blob(const_cast<float*>(features.data()), {n, F}, at::kFloat).to(at::kDouble);
  const at::Tensor mean = X.mean(0);
  at::Tensor sd = X.std(0, /*unbiased=*/false);
  sd = at::where(sd > 1e-12, sd, at::ones_like(sd));  // dead channels stay 0 after centring
  const at::Tensor Z = (X - mean) / sd;
  at::Tensor Y = at::zeros({n, C}, at::kDouble);
  for (std::int64_t i = 0; i < n; ++i) Y[i][labels[i]] = 1.0;
  // Step 1/L with L the trace bound on the Hessian of the mean cross-entropy (0.5 * F for z-scored features).
  const double lambda = 1e-3, momentum = 0.9, lr = 1.0 / (0.5 * static_cast<double>(F) + lambda);
  at::Tensor W = at::zeros({C, F}, at::kDouble), b = at::zeros({C}, at::kDouble);
  at::Tensor vW = at::zeros_like(W), vb = at::zeros_like(b);
  for (int it = 0; it < 400; ++it) {
    const at::Tensor P = at::softmax(Z.mm(W.t()) + b, 1);
    const at::Tensor G = (P - Y) / static_cast<double>(n);
    vW = momentum * vW - lr * (G.t().mm(Z) + lambda * W);
    vb = momentum * vb - lr * G.sum(0);
    W = W + vW;
    b = b + vb;
  }
  auto to_vec = [](const at::Tensor& t) {
    const at::Tensor f = t.to(at::kFloat).contiguous();
    return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  };
  p.clf_weight = to_vec(W);
  p.clf_bias = to_vec(b);
  p.clf_feat_mean = to_vec(mean);
  p.clf_feat_sd = to_vec(sd);
}

void fit_standardization(CortexParams& p, const std::vector<float>& drive, const std::vector<float>& evidence,
                         std::int64_t n) {
  const std::int64_t V = p.voxels(), C = p.categories();
  auto moments = [n, V](const std::vector<double>& x, std::vector<float>& mean, std::vector<float>& sd) {
    mean.assign(V, 0.0f);
    sd.assign(V, 1.0f);
    for (std::int64_t v = 0; v < V; ++v) {
      double s = 0, ss = 0;
      for (std::int64_t i = 0; i < n; ++i) s += x[i * V + v];
      const double m = s / n;
      for (std::int64_t i = 0; i < n; ++i) ss += (x[i * V + v] - m) * (x[i * V + v] - m);
      const double d = std::sqrt(ss / n);
      mean[v] = static_cast<float>(m);
      sd[v] = d > 1e-12 ? static_cast<float>(d) : 0.0f;  // 0 marks a constant component (dropped)
    }
  };
  std::vector<double> d(drive.begin(), drive.end()), cat(static_cast<std::size_t>(n * V), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t v = 0; v < V; ++v) {
      double s = 0;
      for (std::int64_t c = 0; c < C; ++c) s += evidence[i * C + c] * p.category_weights[v * C + c];
      cat[i * V + v] = s;
    }
  moments(d, p.drive_mean, p.drive_sd);
  moments(cat, p.cat_mean, p.cat_sd);
  std::vector<double> mix(static_cast<std::size_t>(n * V));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t v = 0; v < V; ++v) {
      const double s = p.category_share[v];
      const double zd = p.drive_sd[v] > 0 ? (d[i * V + v] - p.drive_mean[v]) / p.drive_sd[v] : 0.0;
      const double zc = p.cat_sd[v] > 0 ? (cat[i * V + v] - p.cat_mean[v]) / p.cat_sd[v] : 0.0;
      mix[i * V + v] = std::sqrt(1 - s) * zd + std::sqrt(s) * zc;
    }
  moments(mix, p.mix_mean, p.mix_sd);
}

void CortexParams::save(const h5::Group& g) const {
  g.write_strings("roi_names", roi_names);
  g.write_strings("category_names", category_names);
  g.write_vector("selective_categories", selective_categories);
  g.write_strings("layers", layers);
  g.write_attr("network", network);
  g.write_attr("weights", weights);
  g.write_attr("input_size", static_cast<std::int64_t>(input_size));
  g.write_attr("normalization", normalization);
  g.write_attr("classifier_layer", classifier_layer);
  g.write_attr("channels_per_voxel", static_cast<std::int64_t>(channels_per_voxel));
  g.write_attr("gabor_grid", static_cast<std::int64_t>(gabor.grid));
  g.write_attr("gabor_pool", static_cast<std::int64_t>(gabor.pool));
  g.write_attr("gabor_frequencies", gabor.frequencies);
  g.write_attr("gabor_orientations", static_cast<std::int64_t>(gabor.orientations));
  g.write_attr("gabor_bandwidth", gabor.bandwidth);
  const std::int64_t V = voxels(), K = channels_per_voxel, C = categories(), F = gabor.filters();
  g.write_vector("roi", roi);
  g.write_vector("layer", layer);
  for (const auto& [name, vec] :
       std::vector<std::pair<const char*, const std::vector<float>*>>{{"rf_x", &rf_x},
                                                                      {"rf_y", &rf_y},
                                                                      {"rf_sigma", &rf_sigma},
                                                                      {"exponent", &exponent},
                                                                      {"category_share", &category_share},
                                                                      {"snr", &snr},
                                                                      {"pref_frequency", &pref_frequency},
                                                                      {"pref_orientation", &pref_orientation},
                                                                      {"orientation_bias", &orientation_bias},
                                                                      {"drive_mean", &drive_mean},
                                                                      {"drive_sd", &drive_sd},
                                                                      {"cat_mean", &cat_mean},
                                                                      {"cat_sd", &cat_sd},
                                                                      {"mix_mean", &mix_mean},
                                                                      {"mix_sd", &mix_sd},
                                                                      {"clf_bias", &clf_bias},
                                                                      {"clf_feat_mean", &clf_feat_mean},
                                                                      {"clf_feat_sd", &clf_feat_sd}}) {
    g.write_vector(name, *vec);
  }
  g.write_array("tuning", tuning, {V, F});
  g.write_array("channels", channels, {V, K});
  g.write_array("channel_weights", channel_weights, {V, K});
  g.write_array("category_weights", category_weights, {V, C});
  g.write_array("clf_weight", clf_weight, {C, static_cast<std::int64_t>(clf_feat_mean.size())});
}

CortexParams CortexParams::load(const h5::Group& g) {
  CortexParams p;
  p.roi_names = g.dataset("roi_names").read_strings();
  p.category_names = g.dataset("category_names").read_strings();
  p.selective_categories = read<std::int64_t>(g, "selective_categories");
  p.layers = g.dataset("layers").read_strings();
  p.network = g.read_attr_string("network");
  p.weights = g.read_attr_string("weights");
  p.input_size = static_cast<int>(g.read_attr<std::int64_t>("input_size"));
  p.normalization = g.read_attr_string("normalization");
  p.classifier_layer = g.read_attr_string("classifier_layer");
  p.channels_per_voxel = static_cast<int>(g.read_attr<std::int64_t>("channels_per_voxel"));
  p.gabor.grid = static_cast<int>(g.read_attr<std::int64_t>("gabor_grid"));
  p.gabor.pool = static_cast<int>(g.read_attr<std::int64_t>("gabor_pool"));
  p.gabor.frequencies = g.read_attr_vector<double>("gabor_frequencies");
  p.gabor.orientations = static_cast<int>(g.read_attr<std::int64_t>("gabor_orientations"));
  p.gabor.bandwidth = g.read_attr<double>("gabor_bandwidth");
  p.roi = read<std::int64_t>(g, "roi");
  p.layer = read<std::int64_t>(g, "layer");
  p.channels = read<std::int64_t>(g, "channels");
  for (auto& [name, vec] :
       std::vector<std::pair<const char*, std::vector<float>*>>{{"rf_x", &p.rf_x},
                                                                {"rf_y", &p.rf_y},
                                                                {"rf_sigma", &p.rf_sigma},
                                                                {"exponent", &p.exponent},
                                                                {"category_share", &p.category_share},
                                                                {"snr", &p.snr},
                                                                {"pref_frequency", &p.pref_frequency},
                                                                {"pref_orientation", &p.pref_orientation},
                                                                {"orientation_bias", &p.orientation_bias},
                                                                {"drive_mean", &p.drive_mean},
                                                                {"drive_sd", &p.drive_sd},
                                                                {"cat_mean", &p.cat_mean},
                                                                {"cat_sd", &p.cat_sd},
                                                                {"mix_mean", &p.mix_mean},
                                                                {"mix_sd", &p.mix_sd},
                                                                {"clf_bias", &p.clf_bias},
                                                                {"clf_feat_mean", &p.clf_feat_mean},
                                                                {"clf_feat_sd", &p.clf_feat_sd},
                                                                {"tuning", &p.tuning},
                                                                {"channel_weights", &p.channel_weights},
                                                                {"category_weights", &p.category_weights},
                                                                {"clf_weight", &p.clf_weight}}) {
    *vec = read<float>(g, name);
  }
  return p;
}

}  // namespace deepvox::import
