#include "maximize/scoring.h"

#include <stdexcept>

#include "maximize/optimize.h"
#include "maximize/transforms.h"

namespace deepvox::maximize {

std::map<std::string, at::Tensor> clean_features(const extract::FeatureModel& model,
                                                 const std::uint8_t* images, std::int64_t b, std::int64_t s,
                                                 at::Device device) {
  at::NoGradGuard no_grad;
  auto x = resize_to(from_uint8_hwc(images, b, s).to(device), model.input_size());
  auto out = model.layer_features(model.normalize(x * 255.0));
  for (auto& [name, t] : out) t = t.to(at::kCPU).to(at::kFloat).contiguous();
  return out;
}

std::vector<double> score_features(const LinearReadout& readout,
                                   const std::map<std::string, at::Tensor>& features) {
  std::vector<at::Tensor> parts;
  for (size_t l = 0; l < readout.layers.size(); ++l) {
    auto it = features.find(readout.layers[l]);
    if (it == features.end()) throw std::logic_error("maximize: no features of layer " + readout.layers[l]);
    if (it->second.size(1) != readout.dims[l])
      throw std::runtime_error("maximize: layer " + readout.layers[l] + " gives " +
                               std::to_string(it->second.size(1)) + " features but the readout expects " +
                               std::to_string(readout.dims[l]));
    parts.push_back(it->second);
  }
  auto x = at::cat(parts, 1).contiguous();
  return apply_readout(readout, x.data_ptr<float>(), x.size(0));
}

extract::FeatureModel sub_model(const extract::FeatureModel& model, const std::vector<std::string>& layers) {
  std::vector<extract::LayerPlan> plans;
  for (const auto& name : layers) {
    bool found = false;
    for (const auto& p : model.plans())
      if (p.layer == name) {
        plans.push_back(p);
        found = true;
      }
    if (!found) throw std::logic_error("maximize: sub_model: no layer " + name);
  }
  // Non-owning: the caller keeps `model` (and so the network) alive.
  std::shared_ptr<nets::Network> net(&model.network(), [](nets::Network*) {});
  return extract::FeatureModel(net, plans, model.input_size(), model.normalization());
}

}  // namespace deepvox::maximize
