// The reconstruct stage end to end on a planted problem (run at 2 and 4 ranks): synthetic images, a tiny
// TorchScript encoding network run through the real extract stage, and voxels that are a planted linear
// function of its features. Checks: identification well above chance with the planted signal, at chance with
// the voxels shuffled across stimuli, bit-identical files at 2 or 4 ranks and at 1 rank, and clear errors for
// bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "core/mpi.h"
#include "io/h5.h"
#include "reconstruct/reconstruct.h"
#include "test_support.h"

using namespace deepvox;
namespace fs = std::filesystem;

namespace {

constexpr int kImages = 240, kTrain = 200, kSize = 32, kVoxels = 150;

struct Fixture {
  std::string root, planted, shuffled, eval_net, latent;
  // One folder per rank for the 1-rank reruns: every rank reruns alone, at the same time.
  std::string single(int r) const { return root + "/single" + std::to_string(r); }
};

// Builds the three run directories once (collective).
const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    MPI_Comm comm = MPI_COMM_WORLD;
    x.root = testkit::shared_temp_dir("recon_stage", comm);
    x.planted = x.root + "/planted";
    x.shuffled = x.root + "/shuffled";
    x.eval_net = x.root + "/eval.pt";
    x.latent = x.root + "/ae.pt";
    const std::string net = x.root + "/encoding.pt";
    std::vector<std::string> ids, cats;
    std::vector<image::RgbImage> imgs;
    for (int i = 0; i < kImages; ++i) {
      char id[32];
      std::snprintf(id, sizeof(id), "img%04d", i);
      ids.push_back(id);
      imgs.push_back(testkit::blob_image(kSize, 1000 + i));
      double r = 0, b = 0;
      for (size_t p = 0; p < imgs.back().pixels.size(); p += 3) {
        r += imgs.back().pixels[p];
        b += imgs.back().pixels[p + 2];
      }
      cats.push_back(r > b ? "warm" : "cool");
    }
    std::string manifest;
    if (is_root(comm)) {
      testkit::save_tiny_network(net, testkit::random_tiny_net(8, 16, 5, 1));
      testkit::save_tiny_network(x.eval_net, testkit::random_tiny_net(6, 12, 3, 2));
      manifest = testkit::write_stimuli(x.root + "/stimuli", ids, imgs, cats);
    }
    MPI_Barrier(comm);
    manifest = x.root + "/stimuli/manifest.csv";
    testkit::run_extract(x.planted, manifest, net, {"conv1", "conv2"}, kSize, 512, comm);

    if (is_root(comm)) {
      // Voxels: a planted linear function of the z-scored features, plus noise.
      std::vector<float> feats;
      std::int64_t total = 0;
      for (const std::string l : {"conv1", "conv2"}) {
        std::int64_t d = 0;
        const auto v = testkit::read_features(x.planted, l, &d);
        at::Tensor t = at::from_blob(const_cast<float*>(v.data()), {kImages, d}, at::kFloat).clone();
        t = (t - t.mean(0)) / (t.std(0) + 1e-6);
        feats.insert(feats.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        total += d;
      }
      at::manual_seed(9);
      at::Tensor z =
          at::cat({at::from_blob(feats.data(), {kImages, 512}, at::kFloat),
                   at::from_blob(feats.data() + kImages * 512, {kImages, total - 512}, at::kFloat)},
                  1);
      at::Tensor y = at::matmul(z, at::randn({total, kVoxels}) / std::sqrt(static_cast<double>(total)));
      y = y + 0.5 * y.std() * at::randn(y.sizes());
      testkit::ResponsesFile r;
      r.ids = ids;
      r.voxels = kVoxels;
      for (int i = 0; i < kImages; ++i) (i < kTrain ? r.train : r.test).push_back(i);
      r.rois["visual"] = std::vector<std::uint8_t>(kVoxels, 1);
      r.rois["half"] = std::vector<std::uint8_t>(kVoxels, 0);
      std::fill_n(r.rois["half"].begin(), kVoxels / 2, 1);
      r.category_names = {"cool", "warm"};
      for (const auto& c : cats) r.category.push_back(c == "warm" ? 1 : 0);
      y = y.contiguous();
      r.responses.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
      testkit::write_responses(x.planted + "/responses.h5", r);
      for (int q = 0; q < size(comm); ++q) {
        fs::create_directories(x.single(q));
        fs::copy_file(x.planted + "/features.h5", x.single(q) + "/features.h5");
        fs::copy_file(x.planted + "/responses.h5", x.single(q) + "/responses.h5");
      }
      // The control: the same voxels, rows shuffled across stimuli (within training and within test).
      std::vector<std::int64_t> perm(kImages);
      for (int i = 0; i < kImages; ++i) perm[i] = i;
      std::shuffle(perm.begin(), perm.begin() + kTrain, std::mt19937_64(4));
      std::shuffle(perm.begin() + kTrain, perm.end(), std::mt19937_64(5));
      const at::Tensor ys = y.index_select(0, at::tensor(perm)).contiguous();
      r.responses.assign(ys.data_ptr<float>(), ys.data_ptr<float>() + ys.numel());
      fs::create_directories(x.shuffled);
      fs::copy_file(x.planted + "/features.h5", x.shuffled + "/features.h5");
      testkit::write_responses(x.shuffled + "/responses.h5", r);
    }
    MPI_Barrier(comm);
    return x;
  }();
  return f;
}

Config stage_config(const std::string& run_dir, const std::vector<std::string>& extra = {}) {
  const auto& f = fixture();
  std::vector<std::string> o = {"reconstruct.layers=[conv1, conv2]",
                                "reconstruct.folds=3",
                                "reconstruct.target_block=128",
                                "reconstruct.image_size=32",
                                "reconstruct.iterations=80",
                                "reconstruct.max_images=12",
                                "reconstruct.batch_size=4",
                                "reconstruct.jitter=1",
                                "reconstruct.blur=[0.5, 0.0]",
                                "reconstruct.eval_network=torchscript",
                                "reconstruct.eval_weights=" + f.eval_net,
                                "reconstruct.eval_input_size=32",
                                "reconstruct.eval_layers=[conv1, conv2]",
                                "reconstruct.eval_normalization=raw",
                                "reconstruct.latent=" + f.latent,
                                "reconstruct.latent_train=true",
                                "reconstruct.latent_dim=8",
                                "reconstruct.latent_image_size=16",
                                "reconstruct.latent_train_epochs=15",
                                "reconstruct.latent_attribute=[warm]"};
  o.insert(o.end(), extra.begin(), extra.end());
  return testkit::make_config(run_dir, o);
}

std::vector<double> read_doubles(const std::string& file, const std::string& name) {
  auto f = h5::File::open(file, h5::Mode::Read);
  return f.dataset(name).read_all<double>();
}

}  // namespace

TEST(ReconstructStage, PlantedSignalIsIdentifiedAndRanksAgree) {
  const auto& f = fixture();
  reconstruct::run(stage_config(f.planted), MPI_COMM_WORLD);
  const std::string out = f.planted + "/reconstruct.h5";
  ASSERT_TRUE(fs::exists(out));

  const auto dec = read_doubles(out, "decoding/summary/identification");
  for (double v : dec) EXPECT_GT(v, 0.85);
  const auto acc = read_doubles(out, "identification/accuracy");
  const auto p = read_doubles(out, "identification/p_value");
  ASSERT_EQ(acc.size(), 2u);  // multi_layer, baseline
  EXPECT_GT(acc[0], 0.8);
  EXPECT_LT(p[0], 1e-6);
  EXPECT_LT(read_doubles(out, "identification/permutation_p_value")[0], 0.01);
  EXPECT_GT(acc[1], 0.6);
  EXPECT_GT(read_doubles(out, "pixel/mean_correlation")[0], 0.3);
  const auto latent = read_doubles(out, "latent/summary/latent_pairwise_accuracy");
  const auto image = read_doubles(out, "latent/summary/image_pairwise_accuracy");
  EXPECT_GT(latent[0], 0.75);  // generator
  EXPECT_GT(latent[1], 0.75);  // PCA baseline
  EXPECT_GT(image[0], 0.7);
  // The attribute (warm vs cool images) is read out above chance where the latent space encodes it: the
  // PCA space does by construction (mean colour is a leading component); the tiny autoencoder's only weakly.
  const auto attr = read_doubles(out, "latent/summary/attribute_accuracy");
  const auto ceiling = read_doubles(out, "latent/summary/attribute_accuracy_true_latents");
  const auto chance = read_doubles(out, "latent/summary/attribute_chance");
  EXPECT_GT(ceiling[1], 0.85);
  EXPECT_GT(attr[1], chance[1] + 0.1);
  EXPECT_GE(attr[0], 0.0);
  EXPECT_LE(attr[0], 1.0);
  if (is_root()) {
    EXPECT_TRUE(fs::exists(f.planted + "/reconstruct/reconstructions_00.png"));
    EXPECT_TRUE(fs::exists(f.planted + "/reconstruct/latent.png"));
  }

  // The same run on each rank alone (a communicator of one) gives the same bytes in every dataset.
  MPI_Comm alone;
  MPI_Comm_split(MPI_COMM_WORLD, rank(), 0, &alone);
  const std::string single = f.single(rank());
  reconstruct::run(stage_config(single), alone);
  MPI_Comm_free(&alone);
  const auto a = testkit::dataset_bytes(out), b = testkit::dataset_bytes(single + "/reconstruct.h5");
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a)
    EXPECT_TRUE(b.count(name) && bytes == b.at(name))
        << name << " differs between " << deepvox::size() << " ranks and 1 rank";
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(ReconstructStage, ShuffledVoxelsAreAtChance) {
  const auto& f = fixture();
  reconstruct::run(stage_config(f.shuffled, {"reconstruct.baseline=false"}), MPI_COMM_WORLD);
  const std::string out = f.shuffled + "/reconstruct.h5";
  for (double v : read_doubles(out, "decoding/summary/identification")) {
    EXPECT_GT(v, 0.35);
    EXPECT_LT(v, 0.65);
  }
  const auto acc = read_doubles(out, "identification/accuracy");
  ASSERT_EQ(acc.size(), 1u);
  EXPECT_GT(acc[0], 0.25);
  EXPECT_LT(acc[0], 0.75);
  // The valid (permutation) p-values do not call chance results significant (at 1%).
  EXPECT_GT(read_doubles(out, "identification/permutation_p_value")[0], 0.01);
  for (double v : read_doubles(out, "decoding/summary/identification_permutation_p_value"))
    EXPECT_GT(v, 0.01);
  const auto latent = read_doubles(out, "latent/summary/latent_pairwise_accuracy");
  for (double v : latent) {
    EXPECT_GT(v, 0.3);
    EXPECT_LT(v, 0.7);
  }
}

namespace {
// Runs the stage expecting a ConfigError whose message contains every fragment.
void expect_config_error(const Config& cfg, const std::vector<std::string>& fragments) {
  try {
    reconstruct::run(cfg, MPI_COMM_WORLD);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    for (const auto& frag : fragments)
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(ReconstructStage, BadInputsGiveClearErrors) {
  const auto& f = fixture();
  expect_config_error(stage_config(f.root + "/empty"), {"responses.h5", "deepvox import"});
  expect_config_error(stage_config(f.planted, {"reconstruct.layers=[conv1, conv9]"}),
                      {"conv9", "conv1, conv2"});
  expect_config_error(stage_config(f.planted, {"reconstruct.roi=[V9]"}), {"V9", "half", "visual"});
  expect_config_error(stage_config(f.planted, {"reconstruct.optimizer=lbfgs"}),
                      {"reconstruct.optimizer", "lbfgs"});
  expect_config_error(stage_config(f.planted, {"reconstruct.lr=[1.0]"}), {"reconstruct.lr"});
  expect_config_error(stage_config(f.planted, {"reconstruct.latent=" + f.root + "/none.pt",
                                               "reconstruct.latent_train=false"}),
                      {"none.pt", "latent_train"});
  expect_config_error(stage_config(f.planted, {"reconstruct.latent=~", "reconstruct.baseline_layer=conv7",
                                               "reconstruct.iterations=1", "reconstruct.max_images=2"}),
                      {"conv7"});
  expect_config_error(stage_config(f.planted, {"reconstruct.latent=~", "reconstruct.eval_layers=[fc9]"}),
                      {"fc9"});
}
