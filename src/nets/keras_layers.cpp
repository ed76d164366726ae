#include "nets/keras_layers.h"

#include <stdexcept>

namespace deepvox::nets {

std::pair<int64_t, int64_t> tf_same_padding(int64_t size, int64_t kernel, int64_t stride) {
  int64_t out = (size + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};  // TF puts the odd one after (bottom/right)
}

namespace {
// With stride 1 and an odd kernel, TF "same" is symmetric and fixed: the convolution pads by itself.
bool pads_itself(const KerasConvOptions& o) {
  return o.padding == TfPadding::Same && o.stride == 1 && o.kh % 2 == 1 && o.kw % 2 == 1;
}
}  // namespace

KerasConvBnImpl::KerasConvBnImpl(KerasConvOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  TORCH_CHECK(!o.depthwise || o.out % o.in == 0, o.conv_name,
              ": depthwise output channels must be a multiple of ", o.in);
  auto conv_options = torch::nn::Conv2dOptions(o.in, o.out, {o.kh, o.kw}).stride(o.stride).bias(true);
  if (o.depthwise) conv_options.groups(o.in);
  if (pads_itself(o)) conv_options.padding(torch::ExpandingArray<2>({(o.kh - 1) / 2, (o.kw - 1) / 2}));
  conv = register_module("conv", torch::nn::Conv2d(conv_options));
}

at::Tensor KerasConvBnImpl::forward(const at::Tensor& x, Taps& taps) {
  const auto& o = options_;
  at::Tensor y = x;
  if (o.padding == TfPadding::ZeroBottomRight) {
    y = at::constant_pad_nd(y, {0, 1, 0, 1});  // {left, right, top, bottom}
  } else if (o.padding == TfPadding::Same && !pads_itself(o)) {
    auto [top, bottom] = tf_same_padding(y.size(2), o.kh, o.stride);
    auto [left, right] = tf_same_padding(y.size(3), o.kw, o.stride);
    y = at::constant_pad_nd(y, {left, right, top, bottom});
  }
  y = conv(y);
  if (o.activation == Activation::Relu) {
    y = at::relu_(y);
  } else if (o.activation == Activation::Relu6) {
    y = at::hardtanh_(y, 0.0, 6.0);
  }
  taps.offer(o.tap_name, y);
  return y;
}

void KerasConvBnImpl::load(const KerasWeights& weights) {
  const auto& o = options_;
  at::Tensor kernel = o.depthwise ? weights.depthwise_kernel(o.conv_name, conv->weight.sizes())
                                  : weights.conv_kernel(o.conv_name, conv->weight.sizes());
  // Fold in double precision, then store float32.
  auto d = [](const at::Tensor& t) { return t.to(at::kDouble); };
  at::Tensor beta = d(weights.vector(o.bn_name, "beta", o.out));
  at::Tensor mean = d(weights.vector(o.bn_name, "moving_mean", o.out));
  at::Tensor var = d(weights.vector(o.bn_name, "moving_variance", o.out));
  at::Tensor gamma = o.bn_scale ? d(weights.vector(o.bn_name, "gamma", o.out)) : at::ones_like(beta);
  at::Tensor scale = gamma / at::sqrt(var + o.bn_eps);
  at::NoGradGuard no_grad;
  conv->weight.copy_((d(kernel) * scale.view({-1, 1, 1, 1})).to(at::kFloat));
  conv->bias.copy_((beta - mean * scale).to(at::kFloat));
}

void freeze(torch::nn::Module& module) {
  module.eval();
  for (auto& p : module.parameters()) p.set_requires_grad(false);
}

}  // namespace deepvox::nets
