#include "reconstruct/eval_network.h"

#include <ATen/ATen.h>

#include "core/config.h"
#include "extract/feature_model.h"
#include "nets/network.h"
#include "reconstruct/image_tensor.h"

namespace deepvox::reconstruct {

EvalNetwork::EvalNetwork(const EvalNetworkOptions& o, const std::string& device) : name_(o.network) {
  nets::NetworkSpec spec;
  spec.name = o.network;
  spec.weights = o.weights;
  spec.device = device;
  spec.probe_size = o.input_size;
  std::shared_ptr<nets::Network> net;
  try {
    net = nets::load_network(spec);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("reconstruct.eval_network: ") + e.what());
  }
  input_size_ = o.input_size > 0 ? o.input_size : nets::default_input_size(o.network);
  if (input_size_ <= 0)
    throw ConfigError("reconstruct.eval_input_size is required for a torchscript eval network");
  layers_ = o.layers.empty() ? nets::default_layers(o.network) : o.layers;
  if (layers_.empty())
    throw ConfigError("reconstruct.eval_layers must be given for eval network " + o.network);
  try {
    nets::check_layers(*net, layers_);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("reconstruct.eval_layers: ") + e.what());
  }
  const std::string norm_name =
      o.normalization.empty() ? nets::default_normalization(o.network) : o.normalization;
  image::Normalization norm;
  try {
    norm = image::parse_normalization(norm_name);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("reconstruct.eval_normalization: ") + e.what());
  }
  // Pooling plans from one probe pass: every 4-D tap to grid x grid, flat taps as they are.
  std::vector<extract::LayerPlan> plans;
  {
    at::NoGradGuard no_grad;
    auto probe = net->forward(
        at::zeros({1, 3, input_size_, input_size_}, at::TensorOptions(at::Device(device))), layers_);
    for (const auto& l : layers_) {
      const at::Tensor& a = probe.at(l);
      extract::LayerPlan p;
      p.layer = l;
      if (a.dim() == 4) {
        const int g = static_cast<int>(std::min<std::int64_t>({o.grid, a.size(2), a.size(3)}));
        p.source_shape = {a.size(1), a.size(2), a.size(3)};
        p.pooled_shape = {a.size(1), g, g};
        p.pooling = "adaptive_avg";
        p.out_dim = a.size(1) * g * g;
      } else {
        p.source_shape = {a.size(1)};
        p.pooled_shape = p.source_shape;
        p.pooling = "none";
        p.out_dim = a.size(1);
      }
      plans.push_back(std::move(p));
    }
  }
  model_ = std::make_shared<extract::FeatureModel>(net, plans, input_size_, norm);
}

std::vector<at::Tensor> EvalNetwork::features(const at::Tensor& rgb255) const {
  at::NoGradGuard no_grad;
  auto per_layer = model_->layer_features(model_->normalize(resize_square(rgb255, input_size_)));
  std::vector<at::Tensor> out;
  for (const auto& l : layers_) out.push_back(per_layer.at(l).to(at::kCPU).contiguous());
  return out;
}

std::string EvalNetwork::description() const {
  std::string s = name_ + " at " + std::to_string(input_size_) + " px, layers";
  for (const auto& l : layers_) s += " " + l;
  return s;
}

}  // namespace deepvox::reconstruct
