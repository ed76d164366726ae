// The evaluation network: a second network, not the one reconstructions were optimized against, in whose
// feature space reconstructions are identified (so a reconstruction cannot score by fooling one network).
// Each tapped layer is average-pooled to a grid x grid map and flattened.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "reconstruct/options.h"

namespace deepvox::extract {
class FeatureModel;
}

namespace deepvox::reconstruct {

class EvalNetwork {
 public:
  EvalNetwork(const EvalNetworkOptions& options, const std::string& device);
  // RGB [N, 3, H, W] in 0..255 (resized to the network's input size) -> one [N, D_l] tensor per layer, on the
  // CPU.
  std::vector<at::Tensor> features(const at::Tensor& rgb255) const;
  const std::vector<std::string>& layers() const { return layers_; }
  std::string description() const;

 private:
  std::shared_ptr<extract::FeatureModel> model_;
  std::vector<std::string> layers_;
  std::string name_;
  int input_size_ = 0;
};

}  // namespace deepvox::reconstruct
