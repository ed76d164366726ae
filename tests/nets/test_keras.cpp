// The Keras networks on the real nsfwjs weights against TensorFlow.js (tfjs_reference.js), the Keras .h5
// reader against the TF.js reader, and the errors for bad weights and unknown layers.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "fixtures.h"
#include "nets/keras_weights.h"
#include "nets/network.h"

namespace deepvox::nets {
namespace {

namespace fs = std::filesystem;
using test::fixture_dir;
using test::relative_error;

#define SKIP_WITHOUT_MODEL(net)                                                                             \
  if (!fs::exists(default_weights(net))) {                                                                  \
    GTEST_SKIP() << default_weights(net) << " not fetched (run tools/fetch_models.sh): nothing to compare"; \
  }

// Loading Inception V3 costs about a second: the tests share one instance per network.
Network& shared_network(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Network>> cache;
  auto& net = cache[name];
  if (!net) net = load_network({name});
  return *net;
}

// Compares every TF.js reference layer of `net` (NHWC) with deepvox's output (NCHW).
void expect_matches_tfjs(const std::string& net_name, int size) {
  auto shapes = test::read_json(fixture_dir() + "/tfjs_" + net_name + "_.json");
  std::vector<std::string> layers;
  for (auto it = shapes.begin(); it != shapes.end(); ++it) layers.push_back(it.key());
  int count = shapes.begin()->at(0).get<int>();
  torch::NoGradGuard no_grad;
  auto out = shared_network(net_name).forward(test::read_inputs(size, count), layers);
  for (const auto& layer : layers) {
    at::Tensor ref = test::read_f32(fixture_dir() + "/tfjs_" + net_name + "_" + layer + ".f32",
                                    shapes[layer].get<std::vector<int64_t>>())
                         .permute({0, 3, 1, 2});
    ASSERT_EQ(out.at(layer).sizes(), ref.sizes()) << layer;
    double err = relative_error(out[layer], ref);
    EXPECT_LE(err, 1e-4) << net_name << " " << layer;
    std::cout << net_name << " " << layer << " " << ref.sizes() << " rel err vs TF.js " << err << "\n";
  }
}

TEST(InceptionV3, MatchesTensorflowJs) {
  SKIP_WITHOUT_MODEL("inception_v3");
  expect_matches_tfjs("inception_v3", 299);
}

TEST(MobileNetV2, MatchesTensorflowJs) {
  SKIP_WITHOUT_MODEL("mobilenet_v2");
  expect_matches_tfjs("mobilenet_v2", 224);
}

TEST(MobileNetV2, WeightsFolderMeansItsModelJson) {
  SKIP_WITHOUT_MODEL("mobilenet_v2");
  std::string folder = fs::path(default_weights("mobilenet_v2")).parent_path().string();
  auto net = load_network({"mobilenet_v2", folder});
  torch::NoGradGuard no_grad;
  at::Tensor x = test::read_inputs(224, 1);
  EXPECT_TRUE(at::equal(net->forward(x, {"block_5_add"})["block_5_add"],
                        shared_network("mobilenet_v2").forward(x, {"block_5_add"})["block_5_add"]));
}

TEST(KerasH5, SameWeightsAndActivationsAsTfjsReader) {
  SKIP_WITHOUT_MODEL("inception_v3");
  std::string h5 = fixture_dir() + "/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5";
  auto from_h5 = KerasWeights::read_keras_h5(h5);
  auto from_tfjs = KerasWeights::read_tfjs(default_weights("inception_v3"));
  size_t compared = 0;
  for (const auto& [name, tensor] : from_tfjs.tensors()) {
    if (name.rfind("dense_", 0) == 0) continue;  // the classifier head is not in a notop file
    auto it = from_h5.tensors().find(name);
    ASSERT_NE(it, from_h5.tensors().end()) << name;
    EXPECT_TRUE(at::equal(it->second, tensor)) << name;
    ++compared;
  }
  EXPECT_EQ(compared, 94u * 4);  // 94 kernels + 94 x (beta, moving_mean, moving_variance)
  auto a = load_network({"inception_v3", h5});
  torch::NoGradGuard no_grad;
  at::Tensor x = test::read_inputs(299, 1);
  EXPECT_TRUE(at::equal(a->forward(x, {"mixed10"})["mixed10"],
                        shared_network("inception_v3").forward(x, {"mixed10"})["mixed10"]));
}

TEST(InceptionV3, LayerNamesInForwardOrder) {
  SKIP_WITHOUT_MODEL("inception_v3");
  auto names = shared_network("inception_v3").layer_names();
  EXPECT_EQ(names.size(), 94u + 2 + 11 + 1);
  EXPECT_EQ(names.front(), "activation_1");
  EXPECT_EQ(names.back(), "avg_pool");
  auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_LT(pos("mixed0"), pos("activation_13"));
  EXPECT_LT(pos("activation_12"), pos("mixed0"));
  EXPECT_LT(pos("mixed9"), pos("mixed10"));
}

TEST(InceptionV3, GradientReachesTheInput) {
  SKIP_WITHOUT_MODEL("inception_v3");
  // A 160 px crop keeps the backward pass short; every layer still has a valid size (mixed10: 3 x 3).
  at::Tensor x =
      test::read_inputs(299, 1).narrow(2, 0, 160).narrow(3, 0, 160).contiguous().requires_grad_(true);
  auto out = shared_network("inception_v3").forward(x, {"mixed2", "avg_pool"});
  EXPECT_EQ(out.at("avg_pool").sizes(), (at::IntArrayRef{1, 2048}));
  out.at("mixed2").mean().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
}

TEST(BadInput, UnknownLayerListsValidOnes) {
  SKIP_WITHOUT_MODEL("mobilenet_v2");
  try {
    shared_network("mobilenet_v2").forward(at::zeros({1, 3, 224, 224}), {"block_3_project_BN", "mixed5"});
    FAIL() << "unknown layer accepted";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'mixed5'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Conv1_relu, expanded_conv_depthwise_relu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("block_16_project_BN, out_relu"), std::string::npos) << msg;
  }
}

TEST(BadInput, UnknownNetworkAndDevice) {
  EXPECT_THROW(load_network({"resnet9000"}), std::invalid_argument);
  EXPECT_THROW(default_input_size("vgg"), std::invalid_argument);
  if (!at::hasCUDA()) EXPECT_THROW(load_network({"inception_v3", "", "cuda"}), std::invalid_argument);
}

TEST(BadInput, MissingWeightsFileNamesIt) {
  try {
    load_network({"inception_v3", "/nonexistent/model.json"});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.json"), std::string::npos) << e.what();
  }
}

// A copy of the Inception V3 model in a temp folder, with its manifest edited.
std::string edited_model(const std::string& tag, const std::string& from, const std::string& to,
                         size_t truncate_weights = 0) {
  std::string src = default_weights("inception_v3");
  fs::path dir = fs::temp_directory_path() / ("deepvox_nets_" + tag + "_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ifstream in(src);
  std::string json((std::istreambuf_iterator<char>(in)), {});
  auto at = json.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' not in " + src);
  json.replace(at, from.size(), to);
  std::ofstream(dir / "model.json") << json;
  fs::path bin = fs::path(src).parent_path() / "weights.bin";
  fs::copy_file(bin, dir / "weights.bin", fs::copy_options::overwrite_existing);
  if (truncate_weights > 0) fs::resize_file(dir / "weights.bin", fs::file_size(bin) - truncate_weights);
  return (dir / "model.json").string();
}

TEST(BadInput, ShapeMismatchNamesTheLayer) {
  SKIP_WITHOUT_MODEL("inception_v3");
  // conv2d_5 with 96 filters instead of 192 (the manifest then holds fewer bytes, which still fit).
  std::string path = edited_model("shape", R"("name":"conv2d_5/kernel","shape":[3,3,80,192])",
                                  R"("name":"conv2d_5/kernel","shape":[3,3,80,96])");
  try {
    load_network({"inception_v3", path});
    FAIL() << "mismatched weights loaded";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("conv2d_5/kernel"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3,3,80,96]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3,3,80,192]"), std::string::npos) << msg;
  }
  fs::remove_all(fs::path(path).parent_path());
}

TEST(BadInput, MissingTensorAndTruncatedShard) {
  SKIP_WITHOUT_MODEL("inception_v3");
  std::string renamed = edited_model("missing", R"("name":"batch_normalization_40/moving_mean")",
                                     R"("name":"batch_normalization_40/moving_average")");
  try {
    load_network({"inception_v3", renamed});
    FAIL() << "weights without batch_normalization_40/moving_mean loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("batch_normalization_40/moving_mean"), std::string::npos)
        << e.what();
  }
  fs::remove_all(fs::path(renamed).parent_path());
  std::string truncated = edited_model("truncated", "\"format\"", "\"format\"", 1000);
  try {
    load_network({"inception_v3", truncated});
    FAIL() << "truncated weights loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  fs::remove_all(fs::path(truncated).parent_path());
  // MobileNetV2 weights for Inception V3: the first tensor it needs is missing.
  SKIP_WITHOUT_MODEL("mobilenet_v2");
  EXPECT_THROW(load_network({"inception_v3", default_weights("mobilenet_v2")}), std::runtime_error);
}

TEST(Defaults, PerNetwork) {
  EXPECT_EQ(default_input_size("inception_v3"), 299);
  EXPECT_EQ(default_input_size("mobilenet_v2"), 224);
  EXPECT_EQ(default_input_size("alexnet"), 224);
  EXPECT_EQ(default_input_size("torchscript"), 0);
  EXPECT_EQ(default_normalization("inception_v3"), "keras");
  EXPECT_EQ(default_normalization("alexnet"), "imagenet");
  EXPECT_EQ(default_weights("torchscript"), "");
  EXPECT_NE(default_weights("mobilenet_v2").find("mobilenet_v2/model.json"), std::string::npos);
}

}  // namespace
}  // namespace deepvox::nets
