// The explain stage on a planted problem (run at 2 ranks). Images hold one coloured disc (its mask is known):
// red discs are the preferred category "animal", orange discs ("fruit") share some redness, blue discs
// ("vehicle") do not. A TorchScript network has a fixed red-detector channel, and the planted ROI reads out
// only that channel. Checks: the top-k out-of-category images are the orange ones with the highest predicted
// response (recomputed here independently), the shared-feature maps land on the discs (overlap far above
// the mask's area share), integrated gradients are complete (the map sums to the response difference), the
// files are bit-identical at 2 or 4 ranks and at 1 rank, and bad inputs give clear errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/mpi.h"
#include "explain/explain.h"
#include "explain/overlap.h"
#include "explain/parallel_backprop.h"
#include "extract/feature_model.h"
#include "io/h5.h"
#include "reconstruct/image_tensor.h"
#include "test_support.h"

using namespace deepvox;
namespace fs = std::filesystem;

namespace {

constexpr int kImages = 120, kSize = 32, kVoxels = 10;
const char* kCategories[3] = {"animal", "fruit", "vehicle"};

struct Fixture {
  std::string root, run;
  std::string single(int r) const { return root + "/single" + std::to_string(r); }  // per-rank 1-rank reruns
  std::vector<std::int64_t> category;
};

// One run directory (features by the real extract stage; responses, model and truth written here).
const Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    MPI_Comm comm = MPI_COMM_WORLD;
    x.root = testkit::shared_temp_dir("explain", comm);
    x.run = x.root + "/run";
    const std::string net = x.root + "/net.pt";
    const std::uint8_t colours[3][3] = {{220, 30, 30}, {230, 130, 20}, {30, 30, 220}};
    std::vector<std::string> ids, cats;
    std::vector<image::RgbImage> imgs;
    std::vector<std::uint8_t> masks;
    for (int i = 0; i < kImages; ++i) {
      const int c = i % 3;
      char id[32];
      std::snprintf(id, sizeof(id), "disc%03d", i);
      ids.push_back(id);
      std::vector<std::uint8_t> m;
      imgs.push_back(testkit::disc_image(kSize, 500 + i, colours[c], &m));
      masks.insert(masks.end(), m.begin(), m.end());
      cats.push_back(kCategories[c]);
      x.category.push_back(c);
    }
    if (is_root(comm)) {
      // conv1 (1x1): red detector, blue detector, luminance, green detector; conv2 random.
      testkit::TinyNet tn = testkit::random_tiny_net(4, 4, 1, 3);
      const float w1[4][3] = {
          {1, -0.5f, -0.5f}, {-0.5f, -0.5f, 1}, {1 / 3.f, 1 / 3.f, 1 / 3.f}, {-0.5f, 1, -0.5f}};
      const float b1[4] = {-0.08f, -0.08f, -0.3f, -0.08f};
      for (int o = 0; o < 4; ++o) {
        for (int i = 0; i < 3; ++i) tn.w1[o][i][0][0] = w1[o][i];
        tn.b1[o] = b1[o];
      }
      testkit::save_tiny_network(net, tn);
      testkit::write_stimuli(x.root + "/stimuli", ids, imgs, cats);
    }
    MPI_Barrier(comm);
    testkit::run_extract(x.run, x.root + "/stimuli/manifest.csv", net, {"conv1", "conv2"}, kSize, 64, comm);
    if (is_root(comm)) {
      std::int64_t d1 = 0, d2 = 0;
      const auto f1 = testkit::read_features(x.run, "conv1", &d1),
                 f2 = testkit::read_features(x.run, "conv2", &d2);
      const std::int64_t p = d1 + d2;
      at::Tensor feats = at::cat({at::from_blob(const_cast<float*>(f1.data()), {kImages, d1}),
                                  at::from_blob(const_cast<float*>(f2.data()), {kImages, d2})},
                                 1);
      const at::Tensor mean = feats.mean(0), scale = feats.std(0, false).clamp_min(1e-3);
      // Voxels 0-4 (the ROI) read out the red channel of conv1 (its first d1/4 columns); 5-9 random.
      at::manual_seed(21);
      at::Tensor w = at::randn({p, kVoxels}) * 0.01;
      w.narrow(0, 0, d1 / 4).narrow(1, 0, 5).copy_(at::rand({d1 / 4, 5}) + 0.5);
      w.narrow(1, 5, 5).copy_(at::randn({p, 5}) * 0.2);
      auto m = h5::File::open(x.run + "/model.h5", h5::Mode::Create);
      m.write_array<float>(
          "weights", std::vector<float>(w.contiguous().data_ptr<float>(), w.data_ptr<float>() + w.numel()),
          {p, kVoxels});
      m.write_vector<float>("intercept", std::vector<float>(kVoxels, 0.0f));
      m.write_vector<float>("features/mean",
                            std::vector<float>(mean.data_ptr<float>(), mean.data_ptr<float>() + p));
      m.write_vector<float>("features/scale",
                            std::vector<float>(scale.data_ptr<float>(), scale.data_ptr<float>() + p));
      m.write_strings("layers/names", {"conv1", "conv2"});
      m.write_vector<std::int64_t>("layers/offset", {0, d1, p});
      m.close();
      testkit::ResponsesFile r;
      r.ids = ids;
      r.voxels = kVoxels;
      r.responses.assign(static_cast<size_t>(kImages * kVoxels), 0.0f);
      for (int i = 0; i < kImages; ++i) (i < 100 ? r.train : r.test).push_back(i);
      r.rois["animal_selective"] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0};
      r.rois["other"] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
      r.category_names = {"animal", "fruit", "vehicle"};
      r.category = x.category;
      testkit::write_responses(x.run + "/responses.h5", r);
      auto t = h5::File::open(x.run + "/truth.h5", h5::Mode::Create);
      t.write_strings("stimulus_ids", ids);
      t.write_array<std::uint8_t>("stimuli/masks", masks,
                                  {kImages, kSize, kSize});  // the virtual subject's layout
      t.close();
      for (int q = 0; q < size(comm); ++q) {
        fs::create_directories(x.single(q));
        for (const char* name : {"features.h5", "model.h5", "responses.h5", "truth.h5"})
          fs::copy_file(x.run + "/" + name, x.single(q) + "/" + name);
      }
    }
    MPI_Barrier(comm);
    return x;
  }();
  return f;
}

Config explain_config(const std::string& run_dir, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> o = {"explain.targets=[animal_selective, voxel:7]",
                                "explain.preferred_categories=[animal]", "explain.top_k=4",
                                "explain.heatmap_size=32"};
  o.insert(o.end(), extra.begin(), extra.end());
  return testkit::make_config(run_dir, o);
}

template <typename T>
std::vector<T> read(const std::string& file, const std::string& name) {
  auto f = h5::File::open(file, h5::Mode::Read);
  return f.dataset(name).read_all<T>();
}

}  // namespace

TEST(Overlap, MatchesBruteForceAuc) {
  std::mt19937_64 rng(1);
  std::vector<float> heat(200);
  std::vector<std::uint8_t> mask(200);
  for (size_t i = 0; i < heat.size(); ++i) {
    mask[i] = rng() % 3 == 0;
    heat[i] = static_cast<float>(rng() % 7) - 2.0f + (mask[i] ? 1.5f : 0.0f);  // many ties
  }
  double wins = 0, pairs = 0, pos = 0, pos_in = 0, area = 0;
  for (size_t i = 0; i < heat.size(); ++i) {
    pos += std::max(0.0f, heat[i]);
    if (mask[i]) {
      pos_in += std::max(0.0f, heat[i]);
      area += 1.0 / heat.size();
    }
    for (size_t j = 0; j < heat.size(); ++j)
      if (mask[i] && !mask[j]) {
        wins += heat[i] > heat[j] ? 1 : (heat[i] == heat[j] ? 0.5 : 0);
        pairs += 1;
      }
  }
  const auto s = explain::overlap_score(heat.data(), mask.data(), static_cast<std::int64_t>(heat.size()));
  EXPECT_NEAR(s.auc, wins / pairs, 1e-12);
  EXPECT_NEAR(s.mass_inside, pos_in / pos, 1e-12);
  EXPECT_NEAR(s.area, area, 1e-12);
  std::vector<std::uint8_t> none(200, 0);
  EXPECT_TRUE(std::isnan(explain::overlap_score(heat.data(), none.data(), 200).auc));
}

TEST(ExplainStage, SharedFeatureMapsLandOnThePlantedObjects) {
  const auto& f = fixture();
  explain::run(explain_config(f.run), MPI_COMM_WORLD);
  const std::string out = f.run + "/explain.h5";
  const auto pairs = read<std::int64_t>(out, "pairs");
  const auto target = read<std::int64_t>(out, "pair_target");
  ASSERT_EQ(target.size(), 8u);

  // Independent top-k: responses recomputed from features.h5 and model.h5.
  std::int64_t d1 = 0, d2 = 0;
  const auto f1 = testkit::read_features(f.run, "conv1", &d1),
             f2 = testkit::read_features(f.run, "conv2", &d2);
  const auto w = read<float>(f.run + "/model.h5", "weights");
  const auto mean = read<float>(f.run + "/model.h5", "features/mean");
  const auto scale = read<float>(f.run + "/model.h5", "features/scale");
  std::vector<double> resp(kImages, 0.0);
  for (int i = 0; i < kImages; ++i)
    for (std::int64_t j = 0; j < d1 + d2; ++j) {
      const float x = j < d1 ? f1[i * d1 + j] : f2[i * d2 + (j - d1)];
      double roi = 0;
      for (int v = 0; v < 5; ++v) roi += w[j * kVoxels + v] / 5.0;
      resp[i] += roi * (x - mean[j]) / scale[j];
    }
  std::vector<std::int64_t> outside;
  for (int i = 0; i < kImages; ++i)
    if (f.category[i] != 0) outside.push_back(i);
  std::stable_sort(outside.begin(), outside.end(),
                   [&](std::int64_t a, std::int64_t b) { return resp[a] > resp[b]; });
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(target[k], 0);
    EXPECT_EQ(pairs[2 * k], outside[k]);
    EXPECT_EQ(f.category[pairs[2 * k]], 1) << "the top out-of-category images are the orange ones";
    EXPECT_EQ(f.category[pairs[2 * k + 1]], 0) << "references come from the preferred category";
  }
  // Overlap with the discs for the planted ROI: far above the discs' area share.
  const auto overlap = read<float>(out, "overlap"), chance = read<float>(out, "overlap_chance");
  const auto auc = read<float>(out, "overlap_auc"), ref = read<float>(out, "reference_overlap");
  for (int k = 0; k < 4; ++k) {
    EXPECT_GT(overlap[k], 3 * chance[k]) << "pair " << k;
    EXPECT_GT(overlap[k], 0.6);
    EXPECT_GT(auc[k], 0.55);  // shared maps keep only the co-located part of the disc
    EXPECT_GT(ref[k], 0.6);
  }
  EXPECT_EQ(read<float>(out, "heatmaps").size(), static_cast<size_t>(8 * kSize * kSize));
  EXPECT_EQ(read<float>(out, "baseline/overlap").size(), 8u);
  if (is_root()) EXPECT_TRUE(fs::exists(f.run + "/explain/pairs_00.png"));

  // The same run on each rank alone (a communicator of one) gives the same bytes in every dataset.
  MPI_Comm alone;
  MPI_Comm_split(MPI_COMM_WORLD, rank(), 0, &alone);
  explain::run(explain_config(f.single(rank())), alone);
  MPI_Comm_free(&alone);
  const auto a = testkit::dataset_bytes(out), b = testkit::dataset_bytes(f.single(rank()) + "/explain.h5");
  EXPECT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a)
    EXPECT_TRUE(b.count(name) && bytes == b.at(name))
        << name << " differs between " << deepvox::size() << " ranks and 1 rank";
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(ExplainStage, IntegratedGradientsAreCompleteAndOnTarget) {
  const auto& f = fixture();
  explain::run(explain_config(f.run, {"explain.method=integrated_gradients", "explain.ig_steps=8",
                                      "explain.targets=[animal_selective]"}),
               MPI_COMM_WORLD);
  const auto overlap = read<float>(f.run + "/explain.h5", "overlap");
  const auto chance = read<float>(f.run + "/explain.h5", "overlap_chance");
  for (size_t k = 0; k < overlap.size(); ++k) EXPECT_GT(overlap[k], 3 * chance[k]);

  // Completeness: the plain map of integrated gradients sums to r(x) - r(grey).
  if (!is_root()) return;
  const auto fm =
      extract::FeatureModel::from_features_file(f.run + "/features.h5", {"conv1", "conv2"}, "cpu");
  const auto wv = read<float>(f.run + "/model.h5", "weights");
  const auto mv = read<float>(f.run + "/model.h5", "features/mean");
  const auto sv = read<float>(f.run + "/model.h5", "features/scale");
  const std::int64_t p = static_cast<std::int64_t>(mv.size());
  at::Tensor w = at::zeros({p});
  for (std::int64_t j = 0; j < p; ++j)
    for (int v = 0; v < 5; ++v) w[j] += wv[j * kVoxels + v] / 5.0;
  const at::Tensor mean = at::tensor(mv), scale = at::tensor(sv);
  std::vector<std::uint8_t> m;
  const std::uint8_t orange[3] = {230, 130, 20}, red[3] = {220, 30, 30};
  const at::Tensor x = reconstruct::image_tensor(testkit::disc_image(kSize, 7, orange, &m), kSize);
  const at::Tensor y = reconstruct::image_tensor(testkit::disc_image(kSize, 8, red, &m), kSize);
  explain::PixelProjection proj;
  proj.integrated_gradients = true;
  proj.steps = 256;
  const auto maps = explain::parallel_backprop(fm, x, y, w, mean, scale, proj, true);
  at::NoGradGuard no_grad;
  auto response = [&](const at::Tensor& img) {
    return (((fm.features(fm.normalize(img.unsqueeze(0))) - mean) / scale) * w).sum().item<double>();
  };
  const double diff = response(x) - response(at::full_like(x, 128.0));
  EXPECT_NEAR(maps.plain_image.sum().item<double>(), diff, 0.02 * std::abs(diff));
  EXPECT_GT(maps.shared_dims, 0);
}

namespace {
void expect_config_error(const Config& cfg, const std::vector<std::string>& fragments) {
  try {
    explain::run(cfg, MPI_COMM_WORLD);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    for (const auto& frag : fragments)
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(ExplainStage, BadInputsGiveClearErrors) {
  const auto& f = fixture();
  expect_config_error(explain_config(f.root + "/empty"), {"responses.h5"});
  fs::create_directories(f.root + "/nomodel");
  if (is_root())
    for (const char* name : {"features.h5", "responses.h5"})
      fs::copy_file(f.run + "/" + name, f.root + "/nomodel/" + name, fs::copy_options::overwrite_existing);
  MPI_Barrier(MPI_COMM_WORLD);
  expect_config_error(explain_config(f.root + "/nomodel"), {"model.h5", "deepvox fit"});
  expect_config_error(explain_config(f.run, {"explain.targets=[FFA]"}), {"FFA", "animal_selective", "other"});
  expect_config_error(explain_config(f.run, {"explain.targets=[voxel:99]"}), {"voxel:99"});
  expect_config_error(explain_config(f.run, {"explain.preferred_categories=[faces]"}),
                      {"faces", "animal, fruit, vehicle"});
  expect_config_error(explain_config(f.run, {"explain.method=saliency"}), {"explain.method", "saliency"});
  expect_config_error(explain_config(f.run, {"explain.masks=" + f.root + "/nothing.h5"}), {"nothing.h5"});
}
