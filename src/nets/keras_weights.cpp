// KerasWeights: the TF.js layers-model reader and the Keras -> LibTorch layout conversions.
// (The Keras HDF5 reader is in keras_h5.cpp.)
#include "nets/keras_weights.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace deepvox::nets {

namespace fs = std::filesystem;
using nlohmann::json;

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? "," : "") << shape[i];
  s << "]";
  return s.str();
}

namespace {

std::vector<char> read_binary(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open weights shard " + path.string());
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

size_t bytes_per_element(const std::string& dtype, const std::string& where) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint16" || dtype == "float16") return 2;
  if (dtype == "uint8") return 1;
  throw std::runtime_error(where + ": unsupported TF.js weight dtype '" + dtype + "'");
}

// One manifest entry's bytes -> float32 tensor of the entry's shape. TF.js dequantizes uint8/uint16 as
// q*scale+min in double precision and stores float32; doing the same gives bit-identical weights.
at::Tensor decode_tensor(const json& spec, const char* bytes, int64_t numel, const std::string& where) {
  std::vector<int64_t> shape = spec.at("shape").get<std::vector<int64_t>>();
  auto out = at::empty(shape, at::kFloat);
  float* dst = out.data_ptr<float>();
  std::string dtype = spec.at("dtype").get<std::string>();
  if (dtype != "float32")
    throw std::runtime_error(where + ": only float32 weights are supported, not " + dtype);
  if (spec.contains("quantization")) {
    const json& q = spec["quantization"];
    std::string qtype = q.at("dtype").get<std::string>();
    if (qtype == "float16") {
      auto half = at::from_blob(const_cast<char*>(bytes), {numel}, at::kHalf);
      out.view({numel}).copy_(half.to(at::kFloat));
      return out;
    }
    double scale = q.at("scale").get<double>();
    double min = q.at("min").get<double>();
    if (qtype == "uint8") {
      auto* src = reinterpret_cast<const uint8_t*>(bytes);
      for (int64_t i = 0; i < numel; ++i) dst[i] = static_cast<float>(src[i] * scale + min);
    } else if (qtype == "uint16") {
      for (int64_t i = 0; i < numel; ++i) {
        uint16_t v;
        std::memcpy(&v, bytes + 2 * i, 2);
        dst[i] = static_cast<float>(v * scale + min);
      }
    } else {
      throw std::runtime_error(where + ": unsupported quantization dtype '" + qtype + "'");
    }
  } else {
    std::memcpy(dst, bytes, static_cast<size_t>(numel) * 4);
  }
  return out;
}

}  // namespace

KerasWeights KerasWeights::read_tfjs(const std::string& model_json) {
  std::ifstream in(model_json);
  if (!in) throw std::runtime_error("cannot open TF.js model " + model_json);
  json model;
  try {
    in >> model;
  } catch (const json::exception& e) {
    throw std::runtime_error("TF.js model " + model_json + " is not valid JSON: " + e.what());
  }
  if (!model.contains("weightsManifest")) {
    throw std::runtime_error("TF.js model " + model_json + " has no weightsManifest");
  }
  KerasWeights w;
  w.source_ = model_json;
  fs::path dir = fs::path(model_json).parent_path();
  for (const json& group : model["weightsManifest"]) {
    // A group's shards are one buffer cut into files; tensors follow each other in manifest order.
    std::vector<char> buffer;
    std::string files;
    for (const json& p : group.at("paths")) {
      auto part = read_binary(dir / p.get<std::string>());
      buffer.insert(buffer.end(), part.begin(), part.end());
      files += (files.empty() ? "" : "+") + p.get<std::string>();
    }
    size_t offset = 0;
    for (const json& spec : group.at("weights")) {
      std::string name = spec.at("name").get<std::string>();
      std::string where = model_json + " tensor " + name;
      int64_t numel = 1;
      for (const json& d : spec.at("shape")) numel *= d.get<int64_t>();
      std::string stored = spec.contains("quantization") ? spec["quantization"].at("dtype").get<std::string>()
                                                         : spec.at("dtype").get<std::string>();
      size_t bytes = static_cast<size_t>(numel) * bytes_per_element(stored, where);
      if (offset + bytes > buffer.size()) {
        throw std::runtime_error(where + " needs bytes " + std::to_string(offset) + ".." +
                                 std::to_string(offset + bytes) + " but " + files + " holds only " +
                                 std::to_string(buffer.size()) + " (truncated weights?)");
      }
      w.tensors_[name] = decode_tensor(spec, buffer.data() + offset, numel, where);
      offset += bytes;
    }
  }
  return w;
}

KerasWeights KerasWeights::load(const std::string& path) {
  if (!fs::exists(path)) throw std::runtime_error("weights file " + path + " does not exist");
  if (fs::is_directory(path)) {
    // A TF.js model folder (what tools/fetch_models.sh writes).
    if (fs::exists(fs::path(path) / "model.json")) return read_tfjs((fs::path(path) / "model.json").string());
    throw std::runtime_error("weights folder " + path + " has no model.json");
  }
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return read_tfjs(path);
  if (ext == ".h5" || ext == ".hdf5" || ext == ".keras") return read_keras_h5(path);
  throw std::runtime_error("weights file " + path +
                           ": expected a TF.js model.json or a Keras .h5 weight file (by extension)");
}

bool KerasWeights::has(const std::string& layer, const std::string& param) const {
  return tensors_.count(layer + "/" + param) > 0;
}

const at::Tensor& KerasWeights::get(const std::string& layer, const std::string& param) const {
  auto it = tensors_.find(layer + "/" + param);
  if (it == tensors_.end()) {
    throw std::runtime_error("weights " + source_ + " have no tensor '" + layer + "/" + param +
                             "' (wrong weights for this network?)");
  }
  return it->second;
}

void KerasWeights::shape_error(const std::string& name, at::IntArrayRef expected, at::IntArrayRef found,
                               const std::string& layout) const {
  throw std::runtime_error("weights " + source_ + ": layer '" + name + "' has shape " + shape_string(found) +
                           ", the network expects " + shape_string(expected) +
                           (layout.empty() ? "" : " (" + layout + ")") +
                           " (wrong weights for this network?)");
}

at::Tensor KerasWeights::conv_kernel(const std::string& layer, at::IntArrayRef expected_oihw) const {
  const at::Tensor& k = get(layer, "kernel");
  // HWIO [kh,kw,in,out] -> OIHW [out,in,kh,kw]
  std::vector<int64_t> want = {expected_oihw[2], expected_oihw[3], expected_oihw[1], expected_oihw[0]};
  if (k.sizes() != at::IntArrayRef(want)) shape_error(layer + "/kernel", want, k.sizes(), "HWIO");
  return k.permute({3, 2, 0, 1}).contiguous();
}

at::Tensor KerasWeights::depthwise_kernel(const std::string& layer, at::IntArrayRef expected_oihw) const {
  const at::Tensor& k = get(layer, "depthwise_kernel");
  // [kh,kw,in,mult] -> [in*mult,1,kh,kw]; output channel c*mult+m reads input channel c, as grouped convs do.
  if (k.dim() != 4 || k.size(2) * k.size(3) != expected_oihw[0] || k.size(0) != expected_oihw[2] ||
      k.size(1) != expected_oihw[3]) {
    std::vector<int64_t> want = {expected_oihw[2], expected_oihw[3], expected_oihw[0], 1};
    shape_error(layer + "/depthwise_kernel", want, k.sizes(), "[kh,kw,in,multiplier]");
  }
  return k.permute({2, 3, 0, 1}).reshape({k.size(2) * k.size(3), 1, k.size(0), k.size(1)}).contiguous();
}

at::Tensor KerasWeights::vector(const std::string& layer, const std::string& param,
                                int64_t expected_size) const {
  const at::Tensor& v = get(layer, param);
  if (v.dim() != 1 || v.size(0) != expected_size)
    shape_error(layer + "/" + param, {expected_size}, v.sizes(), "");
  return v;
}

}  // namespace deepvox::nets
