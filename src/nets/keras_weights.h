// Weights of a Keras model, by Keras weight name ("conv2d_1/kernel", "bn_Conv1/gamma", ...), in Keras
// layout (kernels HWIO [kh,kw,in,out], depthwise kernels [kh,kw,in,multiplier]), as float32 CPU tensors.
// Two readers fill it: a TF.js layers model (model.json + binary shards, quantized tensors dequantized
// as q*scale+min) and a Keras HDF5 weight file (the layout of keras.applications' *_notop.h5 files).
// The conversions to LibTorch layout check shapes and name the layer on a mismatch.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

namespace deepvox::nets {

class KerasWeights {
 public:
  // model.json (TF.js layers model) or .h5/.hdf5/.keras (Keras HDF5), by extension and content.
  static KerasWeights load(const std::string& path);
  static KerasWeights read_tfjs(const std::string& model_json);
  static KerasWeights read_keras_h5(const std::string& path);

  // "<layer>/<param>"; throws std::runtime_error naming the tensor and the file when it is missing.
  const at::Tensor& get(const std::string& layer, const std::string& param) const;
  bool has(const std::string& layer, const std::string& param) const;
  const std::string& source() const { return source_; }
  const std::map<std::string, at::Tensor>& tensors() const { return tensors_; }

  // LibTorch layouts, each checked against the shape the module expects (OIHW / [C] / [C,1,kh,kw]).
  at::Tensor conv_kernel(const std::string& layer, at::IntArrayRef expected_oihw) const;
  at::Tensor depthwise_kernel(const std::string& layer, at::IntArrayRef expected_oihw) const;
  at::Tensor vector(const std::string& layer, const std::string& param, int64_t expected_size) const;

 private:
  [[noreturn]] void shape_error(const std::string& name, at::IntArrayRef expected, at::IntArrayRef found,
                                const std::string& layout) const;
  std::string source_;
  std::map<std::string, at::Tensor> tensors_;
};

std::string shape_string(at::IntArrayRef shape);

}  // namespace deepvox::nets
