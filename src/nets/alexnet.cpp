#include "nets/alexnet.h"

#include <torch/script.h>

#include <stdexcept>

#include "nets/keras_weights.h"  // shape_string

namespace deepvox::nets {

namespace nn = torch::nn;

AlexNetImpl::AlexNetImpl(int64_t num_classes) {
  // ReLUs are not in place (torchvision's are): a tapped convolution output must keep its values.
  features = register_module(
      "features", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 64, 11).stride(4).padding(2)), nn::ReLU(),
                                 nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)),
                                 nn::Conv2d(nn::Conv2dOptions(64, 192, 5).padding(2)), nn::ReLU(),
                                 nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)),
                                 nn::Conv2d(nn::Conv2dOptions(192, 384, 3).padding(1)), nn::ReLU(),
                                 nn::Conv2d(nn::Conv2dOptions(384, 256, 3).padding(1)), nn::ReLU(),
                                 nn::Conv2d(nn::Conv2dOptions(256, 256, 3).padding(1)), nn::ReLU(),
                                 nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2))));
  avgpool = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({6, 6})));
  classifier =
      register_module("classifier", nn::Sequential(nn::Dropout(0.5), nn::Linear(256 * 6 * 6, 4096),
                                                   nn::ReLU(), nn::Dropout(0.5), nn::Linear(4096, 4096),
                                                   nn::ReLU(), nn::Linear(4096, num_classes)));
}

void AlexNetImpl::forward(const at::Tensor& input, Taps& taps) {
  // N x 3 x 224 x 224 -> features.0: 64 x 55 x 55, .2: 64 x 27 x 27, .3: 192 x 27 x 27, .5: 192 x 13 x 13,
  // .6: 384 x 13 x 13, .8/.10: 256 x 13 x 13, .12: 256 x 6 x 6
  at::Tensor x = input;
  size_t i = 0;
  for (auto& layer : *features) {
    x = layer.forward(x);
    taps.offer("features." + std::to_string(i++), x);
    if (taps.complete()) return;
  }
  x = avgpool(x);  // N x 256 x 6 x 6
  taps.offer("avgpool", x);
  if (taps.complete()) return;
  x = x.flatten(1);  // N x 9216
  i = 0;
  for (auto& layer : *classifier) {
    x = layer.forward(x);  // .1/.2: N x 4096, .4/.5: N x 4096, .6: N x num_classes
    taps.offer("classifier." + std::to_string(i++), x);
    if (taps.complete()) return;
  }
}

std::vector<std::string> AlexNetImpl::tap_names() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < features->size(); ++i) names.push_back("features." + std::to_string(i));
  names.push_back("avgpool");
  for (int i : {1, 2, 4, 5, 6}) names.push_back("classifier." + std::to_string(i));  // not the dropouts
  return names;
}

void AlexNetImpl::load_torchscript(const std::string& path) {
  torch::jit::Module source;
  try {
    source = torch::jit::load(path, at::kCPU);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot load TorchScript file " + path + ": " + e.what_without_backtrace());
  }
  std::map<std::string, at::Tensor> found;
  for (const auto& p : source.named_parameters(/*recurse=*/true)) found[p.name] = p.value;
  at::NoGradGuard no_grad;
  for (auto& p : named_parameters(/*recurse=*/true)) {
    auto it = found.find(p.key());
    if (it == found.end()) {
      // A wrapping module (e.g. one exported with --layers) keeps the model under a prefix.
      for (auto f = found.begin(); f != found.end(); ++f) {
        const std::string& n = f->first;
        if (n.size() > p.key().size() &&
            n.compare(n.size() - p.key().size() - 1, std::string::npos, "." + p.key()) == 0) {
          it = f;
          break;
        }
      }
    }
    if (it == found.end()) {
      throw std::runtime_error("AlexNet weights " + path + " have no parameter '" + p.key() +
                               "' (not a torchvision AlexNet?)");
    }
    if (it->second.sizes() != p.value().sizes()) {
      throw std::runtime_error("AlexNet weights " + path + ": layer '" + p.key() + "' has shape " +
                               shape_string(it->second.sizes()) + ", the network expects " +
                               shape_string(p.value().sizes()));
    }
    p.value().copy_(it->second.to(at::kFloat));
  }
}

}  // namespace deepvox::nets
