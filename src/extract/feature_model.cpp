#include "extract/feature_model.h"

#include <stdexcept>

#include "core/run_file.h"
#include "io/h5.h"

namespace deepvox::extract {

FeatureModel::FeatureModel(std::shared_ptr<nets::Network> net, std::vector<LayerPlan> plans, int input_size,
                           image::Normalization norm)
    : net_(std::move(net)), plans_(std::move(plans)), input_size_(input_size), norm_(norm) {}

FeatureModel FeatureModel::from_features_file(const std::string& path, const std::vector<std::string>& layers,
                                              const std::string& device) {
  auto f = h5::File::open(path, h5::Mode::Read);
  nets::NetworkSpec spec;
  spec.name = f.read_attr_string("network");
  spec.weights = f.read_attr_string("weights");
  spec.device = device;
  const std::string sha = f.read_attr_string("weights_sha256");
  if (sha256_file(spec.weights) != sha)
    throw std::runtime_error("weights " + spec.weights + " changed since " + path + " was written (sha256 differs)");
  std::vector<std::string> names = layers;
  if (names.empty()) names = f.dataset("layers").read_strings();
  std::vector<LayerPlan> plans;
  for (const auto& name : names) {
    if (!f.exists("features/" + name)) throw std::runtime_error(path + " has no layer " + name);
    auto d = f.dataset("features/" + name);
    LayerPlan p;
    p.layer = name;
    p.source_shape = d.read_attr_vector<std::int64_t>("source_shape");
    p.pooled_shape = d.read_attr_vector<std::int64_t>("pooled_shape");
    p.pooling = d.read_attr_string("pooling");
    p.out_dim = d.cols();
    if (d.has_attr("projection_seed")) {
      p.projection_seed = d.read_attr<std::int64_t>("projection_seed");
      std::int64_t in_dim = 1;
      for (auto s : p.pooled_shape) in_dim *= s;
      p.projection = random_projection(in_dim, p.out_dim, p.projection_seed);
    }
    plans.push_back(std::move(p));
  }
  auto net = std::shared_ptr<nets::Network>(nets::load_network(spec));
  return FeatureModel(net, plans, static_cast<int>(f.read_attr<std::int64_t>("input_size")),
                      image::parse_normalization(f.read_attr_string("normalization")));
}

at::Tensor FeatureModel::normalize(const at::Tensor& rgb) const {
  switch (norm_) {
    case image::Normalization::Keras:
      return rgb / 127.5 - 1.0;
    case image::Normalization::Raw:
      return rgb / 255.0;
    case image::Normalization::Imagenet: {
      auto opts = rgb.options();
      auto mean = at::tensor({0.485f, 0.456f, 0.406f}, opts).view({1, 3, 1, 1});
      auto std = at::tensor({0.229f, 0.224f, 0.225f}, opts).view({1, 3, 1, 1});
      return (rgb / 255.0 - mean) / std;
    }
  }
  throw std::logic_error("unknown normalization");
}

std::vector<std::string> FeatureModel::layers() const {
  std::vector<std::string> out;
  for (const auto& p : plans_) out.push_back(p.layer);
  return out;
}

std::int64_t FeatureModel::dim() const {
  std::int64_t d = 0;
  for (const auto& p : plans_) d += p.out_dim;
  return d;
}

std::map<std::string, at::Tensor> FeatureModel::layer_features(const at::Tensor& x) const {
  auto taps = net_->forward(x, layers());
  std::map<std::string, at::Tensor> out;
  for (const auto& p : plans_) out[p.layer] = apply_plan(p, taps.at(p.layer));
  return out;
}

at::Tensor FeatureModel::features(const at::Tensor& x) const {
  auto per_layer = layer_features(x);
  std::vector<at::Tensor> parts;
  for (const auto& p : plans_) parts.push_back(per_layer.at(p.layer));
  return at::cat(parts, 1);
}

}  // namespace deepvox::extract
