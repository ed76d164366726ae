// Inception V3 as Keras builds it (keras.applications.inception_v3, Keras 2.2; the nsfwjs model):
// Conv2D without bias + BatchNormalization(scale=False, eps 1e-3) + ReLU units numbered conv2d_N /
// batch_normalization_N / activation_N (N = 1..94) in Keras's creation order, TF same/valid padding,
// "same" 3x3 average pools that average real cells only, and blocks mixed0..mixed10.
// Blocks follow torchvision's inception.cpp (InceptionA..E) with Keras's names and numbering.
//
// Taps: activation_1..activation_94, max_pooling2d_1, max_pooling2d_2, mixed0..mixed10, avg_pool
// (global average of mixed10, [N, 2048]).
#pragma once

#include <torch/nn.h>

#include <string>
#include <vector>

#include "nets/keras_layers.h"

namespace deepvox::nets {

// Base of the blocks: the Keras units in forward order (weights and tap names come from them).
class InceptionBlockImpl : public torch::nn::Module {
 public:
  explicit InceptionBlockImpl(std::string name) : name_(std::move(name)) {}
  std::vector<std::string> tap_names() const;
  void load(const KerasWeights& weights);
  const std::string& name() const { return name_; }

 protected:
  // conv2d_<index> + batch_normalization_<index> + activation_<index>, registered as `member`.
  KerasConvBn unit(const std::string& member, int index, int64_t in, int64_t out, int64_t kh, int64_t kw,
                   int64_t stride = 1, TfPadding padding = TfPadding::Same);
  std::string name_;
  std::vector<KerasConvBn> units_;
};

// 35x35: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1 (mixed0..mixed2).
class InceptionAImpl : public InceptionBlockImpl {
 public:
  InceptionAImpl(const std::string& name, int first, int64_t in, int64_t pool_features);
  at::Tensor forward(const at::Tensor& x, Taps& taps);

 private:
  KerasConvBn branch1x1{nullptr}, branch5x5_1{nullptr}, branch5x5_2{nullptr};
  KerasConvBn branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionA);

// 35x35 -> 17x17 (mixed3).
class InceptionBImpl : public InceptionBlockImpl {
 public:
  InceptionBImpl(const std::string& name, int first, int64_t in);
  at::Tensor forward(const at::Tensor& x, Taps& taps);

 private:
  KerasConvBn branch3x3{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr};
};
TORCH_MODULE(InceptionB);

// 17x17 with factorized 7x7 convolutions (mixed4..mixed7).
class InceptionCImpl : public InceptionBlockImpl {
 public:
  InceptionCImpl(const std::string& name, int first, int64_t in, int64_t channels_7x7);
  at::Tensor forward(const at::Tensor& x, Taps& taps);

 private:
  KerasConvBn branch1x1{nullptr}, branch7x7_1{nullptr}, branch7x7_2{nullptr}, branch7x7_3{nullptr};
  KerasConvBn branch7x7dbl_1{nullptr}, branch7x7dbl_2{nullptr}, branch7x7dbl_3{nullptr},
      branch7x7dbl_4{nullptr}, branch7x7dbl_5{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionC);

// 17x17 -> 8x8 (mixed8).
class InceptionDImpl : public InceptionBlockImpl {
 public:
  InceptionDImpl(const std::string& name, int first, int64_t in);
  at::Tensor forward(const at::Tensor& x, Taps& taps);

 private:
  KerasConvBn branch3x3_1{nullptr}, branch3x3_2{nullptr};
  KerasConvBn branch7x7x3_1{nullptr}, branch7x7x3_2{nullptr}, branch7x7x3_3{nullptr}, branch7x7x3_4{nullptr};
};
TORCH_MODULE(InceptionD);

// 8x8 with expanded 1x3/3x1 branches (mixed9, mixed10).
class InceptionEImpl : public InceptionBlockImpl {
 public:
  InceptionEImpl(const std::string& name, int first, int64_t in);
  at::Tensor forward(const at::Tensor& x, Taps& taps);

 private:
  KerasConvBn branch1x1{nullptr}, branch3x3_1{nullptr}, branch3x3_2a{nullptr}, branch3x3_2b{nullptr};
  KerasConvBn branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3a{nullptr},
      branch3x3dbl_3b{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionE);

class KerasInceptionV3Impl : public torch::nn::Module {
 public:
  KerasInceptionV3Impl();
  // Offers every tap to `taps`; returns as soon as taps.complete().
  void forward(const at::Tensor& x, Taps& taps);
  std::vector<std::string> tap_names() const;
  void load(const KerasWeights& weights);

 private:
  KerasConvBn conv2d_1{nullptr}, conv2d_2{nullptr}, conv2d_3{nullptr}, conv2d_4{nullptr}, conv2d_5{nullptr};
  InceptionA mixed0{nullptr}, mixed1{nullptr}, mixed2{nullptr};
  InceptionB mixed3{nullptr};
  InceptionC mixed4{nullptr}, mixed5{nullptr}, mixed6{nullptr}, mixed7{nullptr};
  InceptionD mixed8{nullptr};
  InceptionE mixed9{nullptr}, mixed10{nullptr};
};
TORCH_MODULE(KerasInceptionV3);

}  // namespace deepvox::nets
