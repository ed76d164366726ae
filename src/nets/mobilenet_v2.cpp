#include "nets/mobilenet_v2.h"

namespace deepvox::nets {

namespace {
KerasConvOptions unit(const std::string& conv, const std::string& bn, const std::string& tap, int64_t in,
                      int64_t out, int64_t k, int64_t stride, bool depthwise, Activation activation) {
  KerasConvOptions o;
  o.conv_name = conv, o.bn_name = bn, o.tap_name = tap;
  o.in = in, o.out = out, o.kh = k, o.kw = k, o.stride = stride;
  o.depthwise = depthwise;
  o.padding = stride == 1 ? TfPadding::Same : TfPadding::ZeroBottomRight;
  o.bn_scale = true;
  o.activation = activation;
  return o;
}
}  // namespace

InvertedResidualImpl::InvertedResidualImpl(int block_id, int64_t in, int64_t out, int64_t stride,
                                           int64_t expansion)
    : prefix_(block_id == 0 ? "expanded_conv_" : "block_" + std::to_string(block_id) + "_"),
      residual_(stride == 1 && in == out) {
  const std::string& p = prefix_;
  int64_t hidden = in * expansion;
  if (expansion != 1) {
    expand = register_module("expand", KerasConvBn(unit(p + "expand", p + "expand_BN", p + "expand_relu", in,
                                                        hidden, 1, 1, false, Activation::Relu6)));
  }
  depthwise =
      register_module("depthwise", KerasConvBn(unit(p + "depthwise", p + "depthwise_BN", p + "depthwise_relu",
                                                    hidden, hidden, 3, stride, true, Activation::Relu6)));
  project = register_module("project", KerasConvBn(unit(p + "project", p + "project_BN", p + "project_BN",
                                                        hidden, out, 1, 1, false, Activation::None)));
}

at::Tensor InvertedResidualImpl::forward(const at::Tensor& x, Taps& taps) {
  at::Tensor y = expand ? expand(x, taps) : x;  // N x in*t x H x W
  y = depthwise(y, taps);                       // N x in*t x H/s x W/s
  y = project(y, taps);                         // N x out x H/s x W/s
  if (residual_) {
    y = y + x;
    taps.offer(prefix_ + "add", y);
  }
  return y;
}

std::vector<std::string> InvertedResidualImpl::tap_names() const {
  std::vector<std::string> names;
  if (expand) names.push_back(prefix_ + "expand_relu");
  names.push_back(prefix_ + "depthwise_relu");
  names.push_back(prefix_ + "project_BN");
  if (residual_) names.push_back(prefix_ + "add");
  return names;
}

void InvertedResidualImpl::load(const KerasWeights& weights) {
  if (expand) expand->load(weights);
  depthwise->load(weights);
  project->load(weights);
}

KerasMobileNetV2Impl::KerasMobileNetV2Impl() {
  Conv1 = register_module(
      "Conv1", KerasConvBn(unit("Conv1", "bn_Conv1", "Conv1_relu", 3, 32, 3, 2, false, Activation::Relu6)));
  // (expansion t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper's Table 2.
  struct Stage {
    int64_t t, c, n, s;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t in = 32;
  int block_id = 0;
  for (const auto& st : stages) {
    for (int64_t i = 0; i < st.n; ++i, ++block_id) {
      std::string member = block_id == 0 ? "expanded_conv" : "block_" + std::to_string(block_id);
      blocks_.push_back(
          register_module(member, InvertedResidual(block_id, in, st.c, i == 0 ? st.s : 1, st.t)));
      in = st.c;
    }
  }
  Conv_1 = register_module("Conv_1", KerasConvBn(unit("Conv_1", "Conv_1_bn", "out_relu", 320, 1280, 1, 1,
                                                      false, Activation::Relu6)));
}

void KerasMobileNetV2Impl::forward(const at::Tensor& input, Taps& taps) {
  // N x 3 x 224 x 224
  at::Tensor x = Conv1(input, taps);  // N x 32 x 112 x 112
  // Sizes after each block: 16x112, 24x56 (1-2), 32x28 (3-5), 64x14 (6-9), 96x14 (10-12), 160x7 (13-15),
  // 320x7 (16).
  for (auto& block : blocks_) {
    if (taps.complete()) return;
    x = block(x, taps);
  }
  if (taps.complete()) return;
  Conv_1(x, taps);  // N x 1280 x 7 x 7
}

std::vector<std::string> KerasMobileNetV2Impl::tap_names() const {
  std::vector<std::string> names = {"Conv1_relu"};
  for (const auto& block : blocks_) {
    for (auto& n : block->tap_names()) names.push_back(n);
  }
  names.push_back("out_relu");
  return names;
}

void KerasMobileNetV2Impl::load(const KerasWeights& weights) {
  Conv1->load(weights);
  for (auto& block : blocks_) block->load(weights);
  Conv_1->load(weights);
}

}  // namespace deepvox::nets
