// AlexNet in torchvision's layout (torchvision/models/alexnet.py): features.0..features.12, avgpool,
// classifier.0..classifier.6, so parameters are named exactly as in torchvision ("features.0.weight").
// Weights come by name from a TorchScript file of torchvision's AlexNet (tools/export_torchscript.py
// --model alexnet --plain).
//
// Taps: features.0..features.12 (conv, ReLU and max-pool outputs), avgpool, classifier.1 (fc6),
// classifier.2 (ReLU), classifier.4 (fc7), classifier.5 (ReLU), classifier.6 (fc8 logits).
#pragma once

#include <torch/nn.h>

#include <string>
#include <vector>

#include "nets/taps.h"

namespace deepvox::nets {

class AlexNetImpl : public torch::nn::Module {
 public:
  explicit AlexNetImpl(int64_t num_classes = 1000);
  void forward(const at::Tensor& x, Taps& taps);
  std::vector<std::string> tap_names() const;
  // Copies every parameter from a TorchScript module by name; errors name the parameter and both shapes.
  void load_torchscript(const std::string& path);

 private:
  torch::nn::Sequential features{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool{nullptr};
  torch::nn::Sequential classifier{nullptr};
};
TORCH_MODULE(AlexNet);

}  // namespace deepvox::nets
