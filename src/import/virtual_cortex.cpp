// Evaluating the virtual cortex (see virtual_cortex.h): Gabor energy, MobileNetV2 readouts,
// category evidence and the standardized mix.
#include "import/virtual_cortex.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <stdexcept>

#include "nets/network.h"

namespace deepvox::import {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Gaussian receptive fields of `voxels` on an h x w grid whose cells span the image: [h*w, n], each
// column summing to 1.
at::Tensor rf_matrix(const CortexParams& p, const std::vector<std::int64_t>& voxels, int h, int w) {
  at::Tensor m =
      at::zeros({static_cast<std::int64_t>(h) * w, static_cast<std::int64_t>(voxels.size())}, at::kFloat);
  float* d = m.data_ptr<float>();
  const std::int64_t n = static_cast<std::int64_t>(voxels.size());
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t v = voxels[j];
    const double s2 = 2.0 * p.rf_sigma[v] * p.rf_sigma[v];
    double total = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double dx = (x + 0.5) / w - p.rf_x[v], dy = (y + 0.5) / h - p.rf_y[v];
        const double g = std::exp(-(dx * dx + dy * dy) / s2);
        d[(static_cast<std::int64_t>(y) * w + x) * n + j] = static_cast<float>(g);
        total += g;
      }
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(h) * w; ++c) {
      d[c * n + j] = static_cast<float>(d[c * n + j] / total);
    }
  }
  return m;
}

std::unique_ptr<nets::Network> open_network(const std::string& name, const std::string& weights) {
  nets::NetworkSpec spec;
  spec.name = name;
  spec.weights = weights;
  return nets::load_network(spec);
}

}  // namespace

struct VirtualCortex::Net {
  std::unique_ptr<nets::Network> network;
  std::vector<std::vector<float>> gabor_filters;  // [F][grid * grid], real Fourier-domain gains
  std::vector<std::int64_t> gabor_voxels;
  std::vector<std::vector<std::int64_t>> layer_voxels;
  at::Tensor gabor_rf;
  std::vector<at::Tensor> layer_rf;
  std::vector<std::pair<std::int64_t, std::int64_t>> layer_hw;
};

std::vector<std::int64_t> probe_layer_channels(const std::string& network, const std::string& weights,
                                               const std::vector<std::string>& layers, int input_size) {
  auto net = open_network(network, weights);
  nets::check_layers(*net, layers);
  at::NoGradGuard no_grad;
  const auto taps = net->forward(at::zeros({1, 3, input_size, input_size}, at::kFloat), layers);
  std::vector<std::int64_t> out;
  for (const auto& l : layers) out.push_back(taps.at(l).size(1));
  return out;
}

VirtualCortex::VirtualCortex(CortexParams params) : p_(std::move(params)), net_(std::make_unique<Net>()) {
  const GaborBank& g = p_.gabor;
  // One-sided Gaussians around (f cos t, f sin t) cycles/image: the inverse transform of spectrum x gain
  // is the complex response of an even/odd (quadrature) Gabor pair.
  for (double f : g.frequencies) {
    for (int o = 0; o < g.orientations; ++o) {
      const double t = o * kPi / g.orientations, cx = f * std::cos(t), cy = f * std::sin(t);
      const double s2 = 2.0 * (g.bandwidth * f) * (g.bandwidth * f);
      std::vector<float> gain(static_cast<std::size_t>(g.grid) * g.grid);
      for (int v = 0; v < g.grid; ++v)
        for (int u = 0; u < g.grid; ++u) {
          const double fx = u < g.grid / 2 ? u : u - g.grid, fy = v < g.grid / 2 ? v : v - g.grid;
          gain[static_cast<std::size_t>(v) * g.grid + u] =
              static_cast<float>(std::exp(-((fx - cx) * (fx - cx) + (fy - cy) * (fy - cy)) / s2));
        }
      net_->gabor_filters.push_back(std::move(gain));
    }
  }
  net_->layer_voxels.resize(p_.layers.size());
  net_->layer_rf.resize(p_.layers.size());
  net_->layer_hw.assign(p_.layers.size(), {0, 0});
  for (std::int64_t v = 0; v < p_.voxels(); ++v) {
    if (p_.layer[v] < 0) {
      net_->gabor_voxels.push_back(v);
    } else {
      net_->layer_voxels.at(static_cast<std::size_t>(p_.layer[v])).push_back(v);
    }
  }
  net_->gabor_rf = rf_matrix(p_, net_->gabor_voxels, g.cells(), g.cells());
  net_->network = open_network(p_.network, p_.weights);
  std::vector<std::string> taps = p_.layers;
  taps.push_back(p_.classifier_layer);
  nets::check_layers(*net_->network, taps);
  at::NoGradGuard no_grad;
  const auto probe = net_->network->forward(at::zeros({1, 3, p_.input_size, p_.input_size}, at::kFloat),
                                            {p_.classifier_layer});
  feature_dim_ = probe.at(p_.classifier_layer).size(1);
}

VirtualCortex::~VirtualCortex() = default;

std::unique_ptr<VirtualCortex> VirtualCortex::from_truth_file(const std::string& truth_path) {
  if (!h5::is_hdf5(truth_path))
    throw std::runtime_error("virtual subject: " + truth_path + " is not an HDF5 file");
  const h5::File f = h5::File::open(truth_path, h5::Mode::Read);
  if (!f.exists("cortex"))
    throw std::runtime_error("virtual subject: " + truth_path + " has no /cortex group");
  return std::make_unique<VirtualCortex>(CortexParams::load(f.group("cortex")));
}

std::vector<float> VirtualCortex::gabor_energy(const image::RgbImage& img) const {
  const GaborBank& g = p_.gabor;
  const image::RgbImage small = image::resize_center_crop(img, g.grid);
  cv::Mat lum(g.grid, g.grid, CV_32F);
  double mean = 0;
  for (int y = 0; y < g.grid; ++y)
    for (int x = 0; x < g.grid; ++x) {
      const std::uint8_t* px = small.row(y) + 3 * x;
      const float v = (0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]) / 255.0f;
      lum.at<float>(y, x) = v;
      mean += v;
    }
  lum -= static_cast<float>(mean / (g.grid * g.grid));  // contrast, not luminance, drives the energy
  cv::Mat spectrum;
  cv::dft(lum, spectrum, cv::DFT_COMPLEX_OUTPUT);
  const int cells = g.cells(), F = g.filters();
  std::vector<float> out(static_cast<std::size_t>(F) * cells * cells, 0.0f);
  cv::Mat product(g.grid, g.grid, CV_32FC2), response;
  for (int f = 0; f < F; ++f) {
    const float* gain = net_->gabor_filters[f].data();
    for (int y = 0; y < g.grid; ++y) {
      const cv::Vec2f* s = spectrum.ptr<cv::Vec2f>(y);
      cv::Vec2f* d = product.ptr<cv::Vec2f>(y);
      for (int x = 0; x < g.grid; ++x) d[x] = s[x] * gain[y * g.grid + x];
    }
    cv::idft(product, response, cv::DFT_COMPLEX_OUTPUT | cv::DFT_SCALE);
    float* dst = out.data() + static_cast<std::size_t>(f) * cells * cells;
    for (int y = 0; y < g.grid; ++y) {
      const cv::Vec2f* r = response.ptr<cv::Vec2f>(y);
      for (int x = 0; x < g.grid; ++x) {
        dst[(y / g.pool) * cells + x / g.pool] += std::sqrt(r[x][0] * r[x][0] + r[x][1] * r[x][1]);
      }
    }
    for (int c = 0; c < cells * cells; ++c) dst[c] /= static_cast<float>(g.pool * g.pool);
  }
  return out;
}

void VirtualCortex::drives(const std::vector<image::RgbImage>& images, std::vector<float>* drive,
                           std::vector<float>* features) {
  const std::int64_t B = static_cast<std::int64_t>(images.size()), V = p_.voxels();
  drive->assign(static_cast<std::size_t>(B * V), 0.0f);
  if (B == 0) {
    features->clear();
    return;
  }
  at::NoGradGuard no_grad;

  // 1. Gabor-energy voxels: energies pooled by each receptive field, weighted by the voxel's tuning.
  const int F = p_.gabor.filters(), cells2 = p_.gabor.cells() * p_.gabor.cells();
  const std::int64_t VG = static_cast<std::int64_t>(net_->gabor_voxels.size());
  if (VG > 0) {
    std::vector<float> energy;
    energy.reserve(static_cast<std::size_t>(B) * F * cells2);
    for (const auto& img : images) {
      const auto e = gabor_energy(img);
      energy.insert(energy.end(), e.begin(), e.end());
    }
    const at::Tensor E = at::from_blob(energy.data(), {B * F, cells2}, at::kFloat);
    const at::Tensor P = E.mm(net_->gabor_rf).contiguous();  // [B*F, VG]
    const float* pp = P.data_ptr<float>();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < VG; ++j) {
        const std::int64_t v = net_->gabor_voxels[j];
        double lin = 0;
        for (int f = 0; f < F; ++f)
          lin += static_cast<double>(p_.tuning[v * F + f]) * pp[(b * F + f) * VG + j];
        (*drive)[b * V + v] =
            static_cast<float>(std::pow(std::max(lin, 0.0), static_cast<double>(p_.exponent[v])));
      }
  }

  // 2. Network: one forward pass for the three readout layers and the classifier layer.
  const int S = p_.input_size;
  std::vector<float> input(static_cast<std::size_t>(B) * 3 * S * S);
  const auto norm = image::parse_normalization(p_.normalization);
  for (std::int64_t b = 0; b < B; ++b) image::preprocess(images[b], S, norm, input.data() + b * 3 * S * S);
  std::vector<std::string> taps = p_.layers;
  taps.push_back(p_.classifier_layer);
  const auto out = net_->network->forward(at::from_blob(input.data(), {B, 3, S, S}, at::kFloat), taps);
  const int K = p_.channels_per_voxel;
  for (std::size_t l = 0; l < p_.layers.size(); ++l) {
    const auto& voxels = net_->layer_voxels[l];
    if (voxels.empty()) continue;
    const at::Tensor A = out.at(p_.layers[l]).to(at::kFloat).contiguous();  // [B, C, h, w]
    const std::int64_t C = A.size(1), h = A.size(2), w = A.size(3),
                       VL = static_cast<std::int64_t>(voxels.size());
    if (net_->layer_hw[l] != std::make_pair(h, w)) {
      net_->layer_rf[l] = rf_matrix(p_, voxels, static_cast<int>(h), static_cast<int>(w));
      net_->layer_hw[l] = {h, w};
    }
    const at::Tensor P = A.view({B * C, h * w}).mm(net_->layer_rf[l]).contiguous();  // [B*C, VL]
    const float* pp = P.data_ptr<float>();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t j = 0; j < VL; ++j) {
        const std::int64_t v = voxels[j];
        double lin = 0;
        for (int k = 0; k < K; ++k) {
          const std::int64_t c = p_.channels[v * K + k];
          lin += static_cast<double>(p_.channel_weights[v * K + k]) * pp[(b * C + c) * VL + j];
        }
        (*drive)[b * V + v] =
            static_cast<float>(std::pow(std::max(lin, 0.0), static_cast<double>(p_.exponent[v])));
      }
  }
  const at::Tensor pooled = out.at(p_.classifier_layer).to(at::kFloat).mean({2, 3}).contiguous();  // [B, F]
  features->assign(pooled.data_ptr<float>(), pooled.data_ptr<float>() + pooled.numel());
}

std::vector<float> VirtualCortex::category_evidence(const std::vector<float>& features,
                                                    std::int64_t n) const {
  const std::int64_t C = p_.categories(), F = static_cast<std::int64_t>(p_.clf_feat_mean.size());
  if (p_.clf_weight.size() != static_cast<std::size_t>(C * F) || F == 0) {
    throw std::logic_error("virtual cortex: the category classifier is not fitted");
  }
  std::vector<float> out(static_cast<std::size_t>(n * C));
  std::vector<double> z(F), logit(C);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t f = 0; f < F; ++f) {
      z[f] = (static_cast<double>(features[i * F + f]) - p_.clf_feat_mean[f]) / p_.clf_feat_sd[f];
    }
    double top = -1e300;
    for (std::int64_t c = 0; c < C; ++c) {
      double s = p_.clf_bias[c];
      for (std::int64_t f = 0; f < F; ++f) s += p_.clf_weight[c * F + f] * z[f];
      logit[c] = s;
      top = std::max(top, s);
    }
    double total = 0;
    for (std::int64_t c = 0; c < C; ++c) total += (logit[c] = std::exp(logit[c] - top));
    for (std::int64_t c = 0; c < C; ++c) out[i * C + c] = static_cast<float>(logit[c] / total);
  }
  return out;
}

std::vector<float> VirtualCortex::signal(const std::vector<float>& drive, const std::vector<float>& evidence,
                                         std::int64_t n) const {
  const std::int64_t V = p_.voxels(), C = p_.categories();
  if (p_.mix_sd.size() != static_cast<std::size_t>(V)) {
    throw std::logic_error("virtual cortex: the standardization is not fitted");
  }
  std::vector<float> out(static_cast<std::size_t>(n * V));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t v = 0; v < V; ++v) {
      double cat = 0;
      for (std::int64_t c = 0; c < C; ++c) cat += evidence[i * C + c] * p_.category_weights[v * C + c];
      const double s = p_.category_share[v];
      const double zd = p_.drive_sd[v] > 0 ? (drive[i * V + v] - p_.drive_mean[v]) / p_.drive_sd[v] : 0.0;
      const double zc = p_.cat_sd[v] > 0 ? (cat - p_.cat_mean[v]) / p_.cat_sd[v] : 0.0;
      const double mix = std::sqrt(1 - s) * zd + std::sqrt(s) * zc;
      out[i * V + v] = p_.mix_sd[v] > 0 ? static_cast<float>((mix - p_.mix_mean[v]) / p_.mix_sd[v]) : 0.0f;
    }
  return out;
}

std::vector<float> VirtualCortex::respond(const std::vector<image::RgbImage>& images) {
  std::vector<float> drive, features;
  drives(images, &drive, &features);
  const std::int64_t n = static_cast<std::int64_t>(images.size());
  return signal(drive, category_evidence(features, n), n);
}

}  // namespace deepvox::import
