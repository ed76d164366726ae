// MobileNetV2 as Keras builds it (keras.applications.mobilenet_v2, alpha 1.0, 224 px; the nsfwjs model):
// Conv2D/DepthwiseConv2D without bias + BatchNormalization (with gamma, eps 1e-3) + ReLU6, and
// ZeroPadding2D(((0,1),(0,1))) before Conv1 and every stride-2 depthwise convolution, which are "valid".
// Inverted residual blocks follow torchvision's mobilenet_v2 with Keras's layer names.
//
// Taps (Keras layer names): Conv1_relu; expanded_conv_depthwise_relu, expanded_conv_project_BN;
// block_N_expand_relu, block_N_depthwise_relu, block_N_project_BN and, where the block is residual,
// block_N_add (N = 1..16); out_relu.
#pragma once

#include <torch/nn.h>

#include <string>
#include <vector>

#include "nets/keras_layers.h"

namespace deepvox::nets {

// One inverted residual block: 1x1 expand (absent in block 0), 3x3 depthwise, 1x1 linear projection,
// and an identity shortcut when the stride is 1 and the channel count is unchanged.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int block_id, int64_t in, int64_t out, int64_t stride, int64_t expansion);
  at::Tensor forward(const at::Tensor& x, Taps& taps);
  std::vector<std::string> tap_names() const;
  void load(const KerasWeights& weights);

 private:
  std::string prefix_;  // "expanded_conv_" or "block_N_"
  bool residual_;
  KerasConvBn expand{nullptr}, depthwise{nullptr}, project{nullptr};
};
TORCH_MODULE(InvertedResidual);

class KerasMobileNetV2Impl : public torch::nn::Module {
 public:
  KerasMobileNetV2Impl();
  // Offers every tap to `taps`; returns as soon as taps.complete().
  void forward(const at::Tensor& x, Taps& taps);
  std::vector<std::string> tap_names() const;
  void load(const KerasWeights& weights);

 private:
  KerasConvBn Conv1{nullptr};
  std::vector<InvertedResidual> blocks_;  // registered as expanded_conv, block_1 .. block_16
  KerasConvBn Conv_1{nullptr};
};
TORCH_MODULE(KerasMobileNetV2);

}  // namespace deepvox::nets
