// The networks deepvox taps, behind one interface: a forward pass that returns named intermediate
// activations (LibTorch modules have no forward hooks, so every network records its own taps).
//
//   inception_v3  Keras Inception V3 (nsfwjs weights by default; a Keras .h5 works too), 299 px
//   mobilenet_v2  Keras MobileNetV2, alpha 1.0 (nsfwjs weights by default), 224 px
//   alexnet       torchvision AlexNet; weights by name from a TorchScript file of it, 224 px
//   torchscript   any TorchScript module whose forward(x) returns Dict[str, Tensor]
//
// Layer names are the user-facing names of the original framework: Keras layer names (activation_N,
// mixed0..mixed10, block_N_project_BN, ...) and torchvision module paths (features.0, classifier.4).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace deepvox::nets {

struct NetworkSpec {
  std::string name;     // inception_v3 | mobilenet_v2 | alexnet | torchscript
  std::string weights;  // model.json, Keras .h5 or TorchScript .pt; "" = default_weights(name)
  std::string device = "cpu";
  int probe_size = 0;  // torchscript only: input size of the probe forward that finds its layers (0 = 224)
};

class Network {
 public:
  virtual ~Network() = default;
  // Every valid tap, in forward order.
  virtual std::vector<std::string> layer_names() const = 0;
  // x: float [N,3,H,W], already normalized. Returns the requested taps (NCHW, or [N,D] for fully connected
  // layers), computing no further than the deepest one. Differentiable with respect to x (the weights are
  // frozen); wrap calls in torch::NoGradGuard when no gradient is needed.
  virtual std::map<std::string, at::Tensor> forward(const at::Tensor& x,
                                                    const std::vector<std::string>& layers) = 0;
  virtual std::string weights_path() const = 0;
  virtual std::string name() const = 0;
};

// Builds the network and loads its weights. Throws std::invalid_argument for an unknown network name and
// std::runtime_error for unreadable or mismatched weights (naming the file and the layer).
std::unique_ptr<Network> load_network(const NetworkSpec& spec);

// Throws std::invalid_argument naming the first unknown layer and listing the valid ones.
void check_layers(const Network& net, const std::vector<std::string>& layers);

int default_input_size(const std::string& name);             // 299 inception_v3, 224 others, 0 torchscript
std::string default_normalization(const std::string& name);  // "keras" nsfwjs models, "imagenet" others
std::string default_weights(const std::string& name);        // file in models_dir(); "" for torchscript
std::vector<std::string> default_layers(const std::string& name);  // taps extract uses when none are given
std::string models_dir();                                          // $DEEPVOX_MODELS, else <repo>/models

}  // namespace deepvox::nets
