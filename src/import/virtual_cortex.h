// The virtual subject's cortex: the generating model of the demo's voxels, re-evaluable on any image.
//
// Five ROIs, each driven by a mechanism other than the default encoding network (Inception V3), so
// that recovering them is not circular:
//   V1, V2    retinotopic Gabor-energy model: the luminance image is filtered by a bank of quadrature
//             Gabor pairs (4 frequencies x 8 orientations, built as one-sided Gaussians in the Fourier
//             domain, so |complex response| is the pair's energy), pooled over a Gaussian receptive
//             field and across the voxel's frequency/orientation tuning, then raised to a compressive
//             exponent < 1 (compressive spatial summation: Kay et al. 2013, J Neurophysiol 110:481).
//             V2 has larger receptive fields, lower preferred frequencies, broader tuning and stronger
//             compression than V1.
//   V4, LOC,  a factorized readout of MobileNetV2 activations (Klindt et al. 2017, NeurIPS): a Gaussian
//   selective receptive field on one layer's grid times positive weights on a few channels, at layers of
//             increasing depth (import.truth_layers: the planted layer-to-ROI hierarchy), plus
//             category evidence: softmax class probabilities of a linear classifier on MobileNetV2's
//             pooled out_relu, fitted to the demo's labels. The selective ROI weights the evidence for
//             import.selective_categories strongly.
// Each voxel's drive and its category evidence are standardized over the stimulus set and mixed with
// the ROI's category share; the noise-free signal has unit variance per voxel. Noise and sessions are
// added by the subject builder (virtual_subject.cpp); everything here is deterministic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/h5.h"
#include "io/image.h"

namespace deepvox::import {

constexpr int kVirtualRois = 5;  // V1, V2, V4, LOC, category-selective

struct GaborBank {
  int grid = 64;  // side of the luminance image the filters run on
  int pool = 2;   // energy averaged over pool x pool cells: maps of grid/pool cells a side
  std::vector<double> frequencies = {3, 6, 12, 24};  // cycles per image
  int orientations = 8;
  double bandwidth = 0.3;  // s.d. of each Fourier-domain Gaussian as a fraction of its centre frequency
  int filters() const { return static_cast<int>(frequencies.size()) * orientations; }
  int cells() const { return grid / pool; }
};

struct CortexParams {
  std::vector<std::string> roi_names;       // [5] V1, V2, V4, LOC, <selective>
  std::vector<std::string> category_names;  // [C]
  std::vector<std::int64_t> selective_categories;
  GaborBank gabor;
  std::string network = "mobilenet_v2", weights;  // weights "" = the default file
  int input_size = 224;
  std::string normalization = "keras";
  std::vector<std::string> layers;  // [3]: the layers driving V4, LOC and the selective ROI
  std::string classifier_layer = "out_relu";
  int channels_per_voxel = 12;

  // Per voxel [V] (or [V, *], row-major).
  std::vector<std::int64_t> roi;            // index into roi_names
  std::vector<std::int64_t> layer;          // index into layers; -1 = Gabor-energy voxel
  std::vector<float> rf_x, rf_y, rf_sigma;  // receptive field centre and s.d., fractions of the image side
  std::vector<float> exponent;              // compressive exponent on the drive
  std::vector<float> category_share;        // share of signal variance from category evidence
  std::vector<float> snr;                   // single-trial signal variance / noise variance
  std::vector<float> pref_frequency, pref_orientation, orientation_bias;  // Gabor voxels (0 otherwise)
  std::vector<float> tuning;            // [V, gabor.filters()]: weight of each filter's energy
  std::vector<std::int64_t> channels;   // [V, channels_per_voxel]: feature voxels' channels
  std::vector<float> channel_weights;   // [V, channels_per_voxel]
  std::vector<float> category_weights;  // [V, C]: weight of each category's evidence

  // Fitted on the stimulus set (fit_standardization): signal =
  //   (sqrt(1-s) (drive - drive_mean)/drive_sd + sqrt(s) (cat - cat_mean)/cat_sd - mix_mean) / mix_sd
  std::vector<float> drive_mean, drive_sd, cat_mean, cat_sd, mix_mean, mix_sd;
  // Category evidence: softmax(W z + b), z = (pooled classifier-layer features - feat_mean) / feat_sd.
  std::vector<float> clf_weight;                  // [C, F]
  std::vector<float> clf_bias;                    // [C]
  std::vector<float> clf_feat_mean, clf_feat_sd;  // [F]

  std::int64_t voxels() const { return static_cast<std::int64_t>(roi.size()); }
  std::int64_t categories() const { return static_cast<std::int64_t>(category_names.size()); }
  void save(const h5::Group& g) const;  // serial file
  static CortexParams load(const h5::Group& g);
};

struct CortexOptions {
  std::vector<long> roi_sizes = {500, 500, 400, 400, 300};
  std::vector<double> snr_range = {0.1, 2.0};
  std::vector<double> category_share = {0, 0, 0, 0.25, 0.6};
  std::vector<std::string> selective_categories = {"mammals", "birds"};
  std::string selective_roi = "animal_selective";
  std::string network = "mobilenet_v2", weights;
  std::vector<std::string> layers = {"block_13_expand_relu", "block_16_expand_relu", "out_relu"};
  std::uint64_t seed = 0;
};

// Draws every voxel's parameters (receptive fields, tuning, channels, weights, SNR). Pure.
// layer_channels: the channel count of each of options.layers (probe_layer_channels).
CortexParams make_cortex_params(const CortexOptions& options, const std::vector<std::string>& category_names,
                                const std::vector<std::int64_t>& layer_channels);
// Loads the network and returns the channel count of each layer (one forward pass of a blank image).
std::vector<std::int64_t> probe_layer_channels(const std::string& network, const std::string& weights,
                                               const std::vector<std::string>& layers, int input_size);

// Evaluates the model. Not thread-safe; one per thread.
class VirtualCortex {
 public:
  explicit VirtualCortex(CortexParams params);  // loads the network
  ~VirtualCortex();
  // The cortex stored in a truth.h5 (group /cortex): the demo's ground truth, for any image.
  static std::unique_ptr<VirtualCortex> from_truth_file(const std::string& truth_path);

  // Raw drives [B, V] and the pooled classifier-layer features [B, F] of a batch of images.
  void drives(const std::vector<image::RgbImage>& images, std::vector<float>* drive,
              std::vector<float>* features);
  // Class probabilities [N, C] from pooled features [N, F] (needs the fitted classifier).
  std::vector<float> category_evidence(const std::vector<float>& features, std::int64_t n) const;
  // Noise-free signal [N, V] from drives and evidence (needs fit_standardization).
  std::vector<float> signal(const std::vector<float>& drive, const std::vector<float>& evidence,
                            std::int64_t n) const;
  // All three in one: the noise-free responses [B, V] to a batch of images.
  std::vector<float> respond(const std::vector<image::RgbImage>& images);

  // Gabor energy maps [filters, cells * cells] of one image (exposed for tests).
  std::vector<float> gabor_energy(const image::RgbImage& img) const;

  const CortexParams& params() const { return p_; }
  CortexParams& mutable_params() { return p_; }
  std::int64_t feature_dim() const { return feature_dim_; }

 private:
  struct Net;
  CortexParams p_;
  std::unique_ptr<Net> net_;
  std::int64_t feature_dim_ = 0;
};

// Multinomial logistic regression (L2, full-batch gradient descent with momentum, float64) of labels
// [N] on pooled features [N, F]; fills the clf_* fields. Deterministic for a fixed thread count.
void fit_category_classifier(CortexParams& p, const std::vector<float>& features, std::int64_t n,
                             const std::vector<std::int64_t>& labels);
// Fits the drive/category/mix standardization over the stimulus set (all N images).
void fit_standardization(CortexParams& p, const std::vector<float>& drive, const std::vector<float>& evidence,
                         std::int64_t n);

}  // namespace deepvox::import
