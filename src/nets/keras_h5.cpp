// Keras HDF5 weight files (the layout keras.applications publishes, e.g.
// inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5, and what Model.save_weights writes):
//   root attr  layer_names = [b"input_1", b"conv2d_1", ...]    (or in group model_weights of a full model)
//   /<layer>   attr weight_names = [b"conv2d_1/kernel:0", ...] (an empty float array when none)
//   /<layer>/<weight name>  the tensor, Keras layout.
#include <hdf5.h>

#include <regex>
#include <stdexcept>

#include "io/h5.h"
#include "nets/keras_weights.h"

namespace deepvox::nets {

namespace {

std::vector<std::string> split_commas(const std::string& joined) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= joined.size()) {
    size_t end = joined.find(',', start);
    if (end == std::string::npos) end = joined.size();
    out.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

size_t attr_points(const h5::Object& obj, const std::string& name) {
  h5::Handle attr(H5Aopen(obj.id(), name.c_str(), H5P_DEFAULT),
                  "open attribute " + name + " of " + obj.path());
  h5::Handle space(H5Aget_space(attr.id()), "get space of attribute " + name);
  return static_cast<size_t>(H5Sget_simple_extent_npoints(space.id()));
}

// Keras stores lists of names as byte-string arrays; one over 64 KiB is split into name0, name1, ...
// An empty list is stored as an empty (float) array.
std::vector<std::string> name_list(const h5::Object& obj, const std::string& name) {
  std::vector<std::string> chunks;
  if (obj.has_attr(name)) {
    chunks.push_back(name);
  } else {
    for (int i = 0; obj.has_attr(name + std::to_string(i)); ++i) chunks.push_back(name + std::to_string(i));
  }
  if (chunks.empty())
    throw std::runtime_error("Keras weight file: " + obj.path() + " has no attribute '" + name + "'");
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    if (attr_points(obj, c) == 0) continue;
    // read_attr_string joins an array with commas; Keras names never contain one.
    for (auto& s : split_commas(obj.read_attr_string(c))) out.push_back(s);
  }
  return out;
}

// Keras in TF 2 names the first layer of a kind "conv2d" and the next "conv2d_1"; Keras 2.0-2.2 (and the
// published ImageNet files) start at "conv2d_1". Files of the newer kind are renumbered to the older one.
std::string renumber_layer(const std::string& layer, const std::vector<std::string>& layers) {
  static const std::regex numbered("^(conv2d|batch_normalization|depthwise_conv2d|dense)(_([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(layer, m, numbered)) return layer;
  bool zero_based = false;
  for (const auto& l : layers) zero_based = zero_based || l == m[1].str();
  if (!zero_based) return layer;
  int index = m[3].matched ? std::stoi(m[3].str()) + 1 : 1;
  return m[1].str() + "_" + std::to_string(index);
}

}  // namespace

KerasWeights KerasWeights::read_keras_h5(const std::string& path) {
  if (!h5::is_hdf5(path)) throw std::runtime_error("Keras weight file " + path + " is not an HDF5 file");
  KerasWeights w;
  w.source_ = path;
  try {
    h5::File file = h5::File::open(path, h5::Mode::Read);
    h5::Group root = file;
    if (!root.has_attr("layer_names") && !root.has_attr("layer_names0") && root.exists("model_weights")) {
      root = root.group("model_weights");  // a full model saved with Model.save
    }
    auto layers = name_list(root, "layer_names");
    for (const auto& layer : layers) {
      h5::Group g = root.group(layer);
      std::string key_layer = renumber_layer(layer, layers);
      for (const auto& weight_name : name_list(g, "weight_names")) {
        // "conv2d_1/kernel:0" -> "kernel"
        std::string param = weight_name.substr(weight_name.rfind('/') + 1);
        param = param.substr(0, param.rfind(':'));
        h5::Dataset d = g.dataset(weight_name);
        auto data = d.read_all<float>();
        h5::Shape dims = d.shape();
        std::vector<int64_t> shape(dims.begin(), dims.end());
        w.tensors_[key_layer + "/" + param] = at::from_blob(data.data(), shape, at::kFloat).clone();
      }
    }
  } catch (const h5::Error& e) {
    throw std::runtime_error("Keras weight file " + path + ": " + e.what());
  }
  if (w.tensors_.empty()) throw std::runtime_error("Keras weight file " + path + " holds no weights");
  return w;
}

}  // namespace deepvox::nets
