// Keras building blocks in LibTorch: a Conv2D (or DepthwiseConv2D) followed by BatchNormalization and an
// activation, with TensorFlow's padding rules. Shared by the Keras Inception V3 and MobileNetV2.
//
// The batch normalization is folded into the convolution when the weights are loaded
// (w' = w * gamma / sqrt(var + eps), b' = beta - mean * gamma / sqrt(var + eps)): in inference it is the
// same affine map, computed in one pass instead of two.
#pragma once

#include <torch/nn.h>

#include <string>

#include "nets/keras_weights.h"
#include "nets/taps.h"

namespace deepvox::nets {

enum class TfPadding {
  Same,             // TF "same": output = ceil(in / stride); an odd extra row/column goes bottom/right
  Valid,            // no padding
  ZeroBottomRight,  // Keras ZeroPadding2D(((0,1),(0,1))) and then "valid" (MobileNetV2's stride-2 layers)
};
enum class Activation { None, Relu, Relu6 };

struct KerasConvOptions {
  std::string conv_name;  // Keras layer holding the kernel, e.g. "conv2d_7" / "block_3_depthwise"
  std::string bn_name;    // Keras BatchNormalization layer, e.g. "batch_normalization_7"
  std::string tap_name;   // name of this unit's output (after the activation), e.g. "activation_7"
  int64_t in = 0, out = 0, kh = 1, kw = 1, stride = 1;
  bool depthwise = false;  // DepthwiseConv2D, multiplier out / in
  TfPadding padding = TfPadding::Valid;
  bool bn_scale = false;  // does the BatchNormalization have gamma? (Inception V3: no; MobileNetV2: yes)
  double bn_eps = 1e-3;
  Activation activation = Activation::Relu;
};

class KerasConvBnImpl : public torch::nn::Module {
 public:
  explicit KerasConvBnImpl(KerasConvOptions options);
  at::Tensor forward(const at::Tensor& x, Taps& taps);
  // Loads the kernel and folds the batch normalization into the convolution.
  void load(const KerasWeights& weights);
  const KerasConvOptions& options() const { return options_; }

 private:
  KerasConvOptions options_;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(KerasConvBn);

// TF "same" padding for one spatial dimension: {before, after}.
std::pair<int64_t, int64_t> tf_same_padding(int64_t size, int64_t kernel, int64_t stride);

// Freezes a module for inference: eval mode, no parameter gradients (inputs can still have them).
void freeze(torch::nn::Module& module);

}  // namespace deepvox::nets
