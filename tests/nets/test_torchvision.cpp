// AlexNet (built-in, torchvision layout) and the generic TorchScript network against torchvision itself
// (alexnet_reference.py: seeded random weights, same inputs).
#include <gtest/gtest.h>
#include <torch/types.h>

#include "fixtures.h"
#include "nets/network.h"
#include "nets/torchscript_network.h"

namespace deepvox::nets {
namespace {

using test::fixture_dir;
using test::read_f32;
using test::relative_error;

at::Tensor alexnet_reference(const std::string& layer) {
  auto shapes = test::read_json(fixture_dir() + "/alexnet.json");
  return read_f32(fixture_dir() + "/alexnet_" + layer + ".f32", shapes.at(layer).get<std::vector<int64_t>>());
}

// The AlexNet file holds 61 M parameters: load it once.
Network& alexnet() {
  static auto net = load_network({"alexnet", fixture_dir() + "/alexnet.pt"});
  return *net;
}

TEST(AlexNet, MatchesTorchvisionAtEveryTap) {
  Network* net = &alexnet();
  auto names = net->layer_names();
  ASSERT_EQ(names.size(), 19u);
  EXPECT_EQ(names.front(), "features.0");
  EXPECT_EQ(names.back(), "classifier.6");
  at::Tensor x = test::read_inputs(224, 3);
  torch::NoGradGuard no_grad;
  auto out = net->forward(x, names);
  ASSERT_EQ(out.size(), names.size());
  for (const auto& name : names) {
    at::Tensor ref = alexnet_reference(name);
    ASSERT_EQ(out[name].sizes(), ref.sizes()) << name;
    double err = relative_error(out[name], ref);
    EXPECT_LE(err, 1e-4) << name;
    std::cout << "alexnet " << name << " " << ref.sizes() << " rel err " << err << "\n";
  }
}

TEST(AlexNet, ShallowTapAlone) {
  Network* net = &alexnet();
  torch::NoGradGuard no_grad;
  auto out = net->forward(test::read_inputs(224, 3), {"features.0"});
  ASSERT_EQ(out.size(), 1u);
  // features.0 is the convolution before the ReLU: negative values survive (no in-place ReLU).
  EXPECT_LT(out["features.0"].min().item<float>(), 0.f);
  EXPECT_LE(relative_error(out["features.0"], alexnet_reference("features.0")), 1e-4);
}

TEST(AlexNet, WrongShapeNamesTheLayer) {
  try {
    load_network({"alexnet", fixture_dir() + "/alexnet_wrong.pt"});
    FAIL() << "an AlexNet with 32 first-layer filters loaded as torchvision's (64)";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("features.0.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[32,3,11,11]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[64,3,11,11]"), std::string::npos) << msg;
  }
}

TEST(TorchScript, DictModuleMatchesTorchvision) {
  auto net = load_network({"torchscript", fixture_dir() + "/alexnet_dict.pt"});
  EXPECT_EQ(net->layer_names(), (std::vector<std::string>{"features.0", "features.5", "classifier.4"}));
  torch::NoGradGuard no_grad;
  auto out = net->forward(test::read_inputs(224, 3), {"features.5", "classifier.4"});
  ASSERT_EQ(out.size(), 2u);
  for (const auto& name : {"features.5", "classifier.4"}) {
    EXPECT_LE(relative_error(out[name], alexnet_reference(name)), 1e-4) << name;
  }
}

TEST(TorchScript, ProbeFindsLayersWithoutLayerNamesMethod) {
  auto net = load_network({"torchscript", fixture_dir() + "/probe_dict.pt"});
  EXPECT_EQ(net->layer_names(), (std::vector<std::string>{"conv", "pool"}));
  auto out = net->forward(at::zeros({2, 3, 16, 16}), {"pool"});
  EXPECT_EQ(out.at("pool").sizes(), (at::IntArrayRef{2, 4, 1, 1}));
}

TEST(TorchScript, NeedsAWeightsFile) {
  EXPECT_THROW(load_network({"torchscript", ""}), std::invalid_argument);
  EXPECT_THROW(load_network({"torchscript", fixture_dir() + "/no_such.pt"}), std::runtime_error);
}

TEST(TorchScript, GradientReachesTheInput) {
  auto net = load_network({"torchscript", fixture_dir() + "/alexnet_dict.pt"});
  at::Tensor x = test::read_inputs(224, 1).requires_grad_(true);
  net->forward(x, {"features.5"}).at("features.5").sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

// TorchScript networks are frozen, and maximize, reconstruct and explain run them with the graph executor's
// optimizations off. Frozen that way, LibTorch 1.13 kept calls to the removed submodule methods and the
// forward failed. Check the input gradient in both modes against torchvision's (alexnet_reference.py).
TEST(TorchScript, FrozenInputGradientMatchesTorchvisionInBothExecutorModes) {
  const at::Tensor reference = read_f32(fixture_dir() + "/alexnet_grad_features.5.f32", {1, 3, 224, 224});
  for (const bool optimize : {false, true}) {
    const GraphExecutorOptimizeScope scope(optimize);
    auto net = load_network({"torchscript", fixture_dir() + "/alexnet_dict.pt"});
    at::Tensor x = test::read_inputs(224, 1).requires_grad_(true);
    for (int pass = 0; pass < 3; ++pass) {  // the profiling executor changes plans after its first runs
      x.mutable_grad() = at::Tensor();
      net->forward(x, {"features.5"}).at("features.5").sum().backward();
      ASSERT_TRUE(x.grad().defined()) << "optimize=" << optimize;
      EXPECT_LE(relative_error(x.grad(), reference), 1e-4) << "optimize=" << optimize << " pass " << pass;
    }
  }
}

}  // namespace
}  // namespace deepvox::nets
