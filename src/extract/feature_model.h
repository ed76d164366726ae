// The image -> feature map of an encoding model, rebuilt exactly as `extract` computed it:
// the same network, weights, input size, normalization, taps and per-layer pooling plans.
// Differentiable end to end, so maximize, reconstruct and explain backpropagate through it.
//
//   auto fm = FeatureModel::from_features_file(cfg.run_file("features"), {"mixed2", "mixed7"}, "cpu");
//   at::Tensor f = fm.features(fm.normalize(rgb));   // rgb: float [N,3,S,S] in 0..255
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "extract/pooling.h"
#include "io/image.h"
#include "nets/network.h"

namespace deepvox::extract {

class FeatureModel {
 public:
  FeatureModel(std::shared_ptr<nets::Network> net, std::vector<LayerPlan> plans, int input_size,
               image::Normalization norm);
  // Rebuilds the model a features.h5 was written with; `layers` picks and orders taps (empty = all, file order).
  // The weights file must still have the sha256 recorded in features.h5.
  static FeatureModel from_features_file(const std::string& path, const std::vector<std::string>& layers,
                                         const std::string& device);

  // RGB in 0..255, float [N,3,S,S] -> the network's normalized input.
  at::Tensor normalize(const at::Tensor& rgb255) const;
  // Normalized input -> pooled features per layer ([N, D_l]).
  std::map<std::string, at::Tensor> layer_features(const at::Tensor& x) const;
  // Normalized input -> the layers' pooled features concatenated in plan order ([N, sum D_l]).
  at::Tensor features(const at::Tensor& x) const;

  const std::vector<LayerPlan>& plans() const { return plans_; }
  std::vector<std::string> layers() const;
  int input_size() const { return input_size_; }
  image::Normalization normalization() const { return norm_; }
  nets::Network& network() const { return *net_; }
  std::int64_t dim() const;

 private:
  std::shared_ptr<nets::Network> net_;
  std::vector<LayerPlan> plans_;
  int input_size_;
  image::Normalization norm_;
};

}  // namespace deepvox::extract
