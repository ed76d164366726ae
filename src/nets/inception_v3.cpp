#include "nets/inception_v3.h"

namespace deepvox::nets {

namespace {
// Keras AveragePooling2D(3, strides=1, padding="same"): TF divides by the real (unpadded) cells.
at::Tensor avg_pool_same_3x3(const at::Tensor& x) {
  return at::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false, /*count_include_pad=*/false);
}
// Keras MaxPooling2D(3, strides=2), "valid".
at::Tensor max_pool_3x3_s2(const at::Tensor& x) { return at::max_pool2d(x, {3, 3}, {2, 2}); }
}  // namespace

// ---------------- blocks ----------------
KerasConvBn InceptionBlockImpl::unit(const std::string& member, int index, int64_t in, int64_t out,
                                     int64_t kh, int64_t kw, int64_t stride, TfPadding padding) {
  KerasConvOptions o;
  o.conv_name = "conv2d_" + std::to_string(index);
  o.bn_name = "batch_normalization_" + std::to_string(index);
  o.tap_name = "activation_" + std::to_string(index);
  o.in = in, o.out = out, o.kh = kh, o.kw = kw, o.stride = stride, o.padding = padding;
  auto u = register_module(member, KerasConvBn(o));
  units_.push_back(u);
  return u;
}

std::vector<std::string> InceptionBlockImpl::tap_names() const {
  std::vector<std::string> names;
  for (const auto& u : units_) names.push_back(u->options().tap_name);
  names.push_back(name_);
  return names;
}

void InceptionBlockImpl::load(const KerasWeights& weights) {
  for (auto& u : units_) u->load(weights);
}

InceptionAImpl::InceptionAImpl(const std::string& name, int first, int64_t in, int64_t pool_features)
    : InceptionBlockImpl(name) {
  branch1x1 = unit("branch1x1", first, in, 64, 1, 1);
  branch5x5_1 = unit("branch5x5_1", first + 1, in, 48, 1, 1);
  branch5x5_2 = unit("branch5x5_2", first + 2, 48, 64, 5, 5);
  branch3x3dbl_1 = unit("branch3x3dbl_1", first + 3, in, 64, 1, 1);
  branch3x3dbl_2 = unit("branch3x3dbl_2", first + 4, 64, 96, 3, 3);
  branch3x3dbl_3 = unit("branch3x3dbl_3", first + 5, 96, 96, 3, 3);
  branch_pool = unit("branch_pool", first + 6, in, pool_features, 1, 1);
}

at::Tensor InceptionAImpl::forward(const at::Tensor& x, Taps& taps) {
  // N x in x 35 x 35
  at::Tensor b1 = branch1x1(x, taps);                                                   // N x 64 x 35 x 35
  at::Tensor b5 = branch5x5_2(branch5x5_1(x, taps), taps);                              // N x 64 x 35 x 35
  at::Tensor b3 = branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x, taps), taps), taps);  // N x 96 x 35 x 35
  at::Tensor bp = branch_pool(avg_pool_same_3x3(x), taps);                              // N x pool x 35 x 35
  at::Tensor out = at::cat({b1, b5, b3, bp}, 1);  // N x (256|288) x 35 x 35
  taps.offer(name_, out);
  return out;
}

InceptionBImpl::InceptionBImpl(const std::string& name, int first, int64_t in) : InceptionBlockImpl(name) {
  branch3x3 = unit("branch3x3", first, in, 384, 3, 3, 2, TfPadding::Valid);
  branch3x3dbl_1 = unit("branch3x3dbl_1", first + 1, in, 64, 1, 1);
  branch3x3dbl_2 = unit("branch3x3dbl_2", first + 2, 64, 96, 3, 3);
  branch3x3dbl_3 = unit("branch3x3dbl_3", first + 3, 96, 96, 3, 3, 2, TfPadding::Valid);
}

at::Tensor InceptionBImpl::forward(const at::Tensor& x, Taps& taps) {
  // N x 288 x 35 x 35
  at::Tensor b3 = branch3x3(x, taps);                                                   // N x 384 x 17 x 17
  at::Tensor bd = branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x, taps), taps), taps);  // N x 96 x 17 x 17
  at::Tensor bp = max_pool_3x3_s2(x);                                                   // N x 288 x 17 x 17
  at::Tensor out = at::cat({b3, bd, bp}, 1);                                            // N x 768 x 17 x 17
  taps.offer(name_, out);
  return out;
}

InceptionCImpl::InceptionCImpl(const std::string& name, int first, int64_t in, int64_t c7)
    : InceptionBlockImpl(name) {
  branch1x1 = unit("branch1x1", first, in, 192, 1, 1);
  branch7x7_1 = unit("branch7x7_1", first + 1, in, c7, 1, 1);
  branch7x7_2 = unit("branch7x7_2", first + 2, c7, c7, 1, 7);
  branch7x7_3 = unit("branch7x7_3", first + 3, c7, 192, 7, 1);
  branch7x7dbl_1 = unit("branch7x7dbl_1", first + 4, in, c7, 1, 1);
  branch7x7dbl_2 = unit("branch7x7dbl_2", first + 5, c7, c7, 7, 1);
  branch7x7dbl_3 = unit("branch7x7dbl_3", first + 6, c7, c7, 1, 7);
  branch7x7dbl_4 = unit("branch7x7dbl_4", first + 7, c7, c7, 7, 1);
  branch7x7dbl_5 = unit("branch7x7dbl_5", first + 8, c7, 192, 1, 7);
  branch_pool = unit("branch_pool", first + 9, in, 192, 1, 1);
}

at::Tensor InceptionCImpl::forward(const at::Tensor& x, Taps& taps) {
  // N x 768 x 17 x 17
  at::Tensor b1 = branch1x1(x, taps);                                          // N x 192 x 17 x 17
  at::Tensor b7 = branch7x7_3(branch7x7_2(branch7x7_1(x, taps), taps), taps);  // N x 192 x 17 x 17
  at::Tensor bd = branch7x7dbl_1(x, taps);
  bd = branch7x7dbl_3(branch7x7dbl_2(bd, taps), taps);
  bd = branch7x7dbl_5(branch7x7dbl_4(bd, taps), taps);      // N x 192 x 17 x 17
  at::Tensor bp = branch_pool(avg_pool_same_3x3(x), taps);  // N x 192 x 17 x 17
  at::Tensor out = at::cat({b1, b7, bd, bp}, 1);            // N x 768 x 17 x 17
  taps.offer(name_, out);
  return out;
}

InceptionDImpl::InceptionDImpl(const std::string& name, int first, int64_t in) : InceptionBlockImpl(name) {
  branch3x3_1 = unit("branch3x3_1", first, in, 192, 1, 1);
  branch3x3_2 = unit("branch3x3_2", first + 1, 192, 320, 3, 3, 2, TfPadding::Valid);
  branch7x7x3_1 = unit("branch7x7x3_1", first + 2, in, 192, 1, 1);
  branch7x7x3_2 = unit("branch7x7x3_2", first + 3, 192, 192, 1, 7);
  branch7x7x3_3 = unit("branch7x7x3_3", first + 4, 192, 192, 7, 1);
  branch7x7x3_4 = unit("branch7x7x3_4", first + 5, 192, 192, 3, 3, 2, TfPadding::Valid);
}

at::Tensor InceptionDImpl::forward(const at::Tensor& x, Taps& taps) {
  // N x 768 x 17 x 17
  at::Tensor b3 = branch3x3_2(branch3x3_1(x, taps), taps);  // N x 320 x 8 x 8
  at::Tensor b7 = branch7x7x3_2(branch7x7x3_1(x, taps), taps);
  b7 = branch7x7x3_4(branch7x7x3_3(b7, taps), taps);  // N x 192 x 8 x 8
  at::Tensor bp = max_pool_3x3_s2(x);                 // N x 768 x 8 x 8
  at::Tensor out = at::cat({b3, b7, bp}, 1);          // N x 1280 x 8 x 8
  taps.offer(name_, out);
  return out;
}

InceptionEImpl::InceptionEImpl(const std::string& name, int first, int64_t in) : InceptionBlockImpl(name) {
  branch1x1 = unit("branch1x1", first, in, 320, 1, 1);
  branch3x3_1 = unit("branch3x3_1", first + 1, in, 384, 1, 1);
  branch3x3_2a = unit("branch3x3_2a", first + 2, 384, 384, 1, 3);
  branch3x3_2b = unit("branch3x3_2b", first + 3, 384, 384, 3, 1);
  branch3x3dbl_1 = unit("branch3x3dbl_1", first + 4, in, 448, 1, 1);
  branch3x3dbl_2 = unit("branch3x3dbl_2", first + 5, 448, 384, 3, 3);
  branch3x3dbl_3a = unit("branch3x3dbl_3a", first + 6, 384, 384, 1, 3);
  branch3x3dbl_3b = unit("branch3x3dbl_3b", first + 7, 384, 384, 3, 1);
  branch_pool = unit("branch_pool", first + 8, in, 192, 1, 1);
}

at::Tensor InceptionEImpl::forward(const at::Tensor& x, Taps& taps) {
  // N x (1280|2048) x 8 x 8
  at::Tensor b1 = branch1x1(x, taps);  // N x 320 x 8 x 8
  at::Tensor b3 = branch3x3_1(x, taps);
  b3 = at::cat({branch3x3_2a(b3, taps), branch3x3_2b(b3, taps)}, 1);  // N x 768 x 8 x 8 (Keras mixed9_0)
  at::Tensor bd = branch3x3dbl_2(branch3x3dbl_1(x, taps), taps);
  bd = at::cat({branch3x3dbl_3a(bd, taps), branch3x3dbl_3b(bd, taps)}, 1);  // N x 768 x 8 x 8
  at::Tensor bp = branch_pool(avg_pool_same_3x3(x), taps);                  // N x 192 x 8 x 8
  at::Tensor out = at::cat({b1, b3, bd, bp}, 1);                            // N x 2048 x 8 x 8
  taps.offer(name_, out);
  return out;
}

// ---------------- the network ----------------
KerasInceptionV3Impl::KerasInceptionV3Impl() {
  auto stem = [this](int index, int64_t in, int64_t out, int64_t k, int64_t stride, TfPadding padding) {
    KerasConvOptions o;
    o.conv_name = "conv2d_" + std::to_string(index);
    o.bn_name = "batch_normalization_" + std::to_string(index);
    o.tap_name = "activation_" + std::to_string(index);
    o.in = in, o.out = out, o.kh = k, o.kw = k, o.stride = stride, o.padding = padding;
    return register_module(o.conv_name, KerasConvBn(o));
  };
  conv2d_1 = stem(1, 3, 32, 3, 2, TfPadding::Valid);
  conv2d_2 = stem(2, 32, 32, 3, 1, TfPadding::Valid);
  conv2d_3 = stem(3, 32, 64, 3, 1, TfPadding::Same);
  conv2d_4 = stem(4, 64, 80, 1, 1, TfPadding::Valid);
  conv2d_5 = stem(5, 80, 192, 3, 1, TfPadding::Valid);
  mixed0 = register_module("mixed0", InceptionA("mixed0", 6, 192, 32));
  mixed1 = register_module("mixed1", InceptionA("mixed1", 13, 256, 64));
  mixed2 = register_module("mixed2", InceptionA("mixed2", 20, 288, 64));
  mixed3 = register_module("mixed3", InceptionB("mixed3", 27, 288));
  mixed4 = register_module("mixed4", InceptionC("mixed4", 31, 768, 128));
  mixed5 = register_module("mixed5", InceptionC("mixed5", 41, 768, 160));
  mixed6 = register_module("mixed6", InceptionC("mixed6", 51, 768, 160));
  mixed7 = register_module("mixed7", InceptionC("mixed7", 61, 768, 192));
  mixed8 = register_module("mixed8", InceptionD("mixed8", 71, 768));
  mixed9 = register_module("mixed9", InceptionE("mixed9", 77, 1280));
  mixed10 = register_module("mixed10", InceptionE("mixed10", 86, 2048));
}

void KerasInceptionV3Impl::forward(const at::Tensor& input, Taps& taps) {
  // N x 3 x 299 x 299
  at::Tensor x = conv2d_1(input, taps);  // N x 32 x 149 x 149
  x = conv2d_2(x, taps);                 // N x 32 x 147 x 147
  x = conv2d_3(x, taps);                 // N x 64 x 147 x 147
  if (taps.complete()) return;
  x = max_pool_3x3_s2(x);  // N x 64 x 73 x 73
  taps.offer("max_pooling2d_1", x);
  x = conv2d_4(x, taps);  // N x 80 x 73 x 73
  x = conv2d_5(x, taps);  // N x 192 x 71 x 71
  if (taps.complete()) return;
  x = max_pool_3x3_s2(x);  // N x 192 x 35 x 35
  taps.offer("max_pooling2d_2", x);
  if (taps.complete()) return;
  x = mixed0(x, taps);  // N x 256 x 35 x 35
  if (taps.complete()) return;
  x = mixed1(x, taps);  // N x 288 x 35 x 35
  if (taps.complete()) return;
  x = mixed2(x, taps);  // N x 288 x 35 x 35
  if (taps.complete()) return;
  x = mixed3(x, taps);  // N x 768 x 17 x 17
  if (taps.complete()) return;
  x = mixed4(x, taps);  // N x 768 x 17 x 17
  if (taps.complete()) return;
  x = mixed5(x, taps);  // N x 768 x 17 x 17
  if (taps.complete()) return;
  x = mixed6(x, taps);  // N x 768 x 17 x 17
  if (taps.complete()) return;
  x = mixed7(x, taps);  // N x 768 x 17 x 17
  if (taps.complete()) return;
  x = mixed8(x, taps);  // N x 1280 x 8 x 8
  if (taps.complete()) return;
  x = mixed9(x, taps);  // N x 2048 x 8 x 8
  if (taps.complete()) return;
  x = mixed10(x, taps);  // N x 2048 x 8 x 8
  if (taps.complete()) return;
  taps.offer("avg_pool", x.mean({2, 3}));  // N x 2048 (Keras GlobalAveragePooling2D "avg_pool")
}

std::vector<std::string> KerasInceptionV3Impl::tap_names() const {
  std::vector<std::string> names = {"activation_1", "activation_2", "activation_3",   "max_pooling2d_1",
                                    "activation_4", "activation_5", "max_pooling2d_2"};
  for (const auto& block : std::vector<const InceptionBlockImpl*>{
           mixed0.get(), mixed1.get(), mixed2.get(), mixed3.get(), mixed4.get(), mixed5.get(), mixed6.get(),
           mixed7.get(), mixed8.get(), mixed9.get(), mixed10.get()}) {
    for (auto& n : block->tap_names()) names.push_back(n);
  }
  names.push_back("avg_pool");
  return names;
}

void KerasInceptionV3Impl::load(const KerasWeights& weights) {
  for (auto* u : {&conv2d_1, &conv2d_2, &conv2d_3, &conv2d_4, &conv2d_5}) (*u)->load(weights);
  for (InceptionBlockImpl* block : std::vector<InceptionBlockImpl*>{
           mixed0.get(), mixed1.get(), mixed2.get(), mixed3.get(), mixed4.get(), mixed5.get(), mixed6.get(),
           mixed7.get(), mixed8.get(), mixed9.get(), mixed10.get()}) {
    block->load(weights);
  }
}

}  // namespace deepvox::nets
