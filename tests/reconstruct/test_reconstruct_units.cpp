// Unit tests of reconstruct's parts against independent references: identification statistics against closed
// forms, the feature decoder against ridge solved directly in double precision (LibTorch's linalg_solve) with
// brute-force cross-validation, voxel selection on a planted problem, the autoencoder/generator round trip,
// and the pixel optimizer recovering an image from its own features.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "extract/feature_model.h"
#include "extract/pooling.h"
#include "nets/network.h"
#include "reconstruct/autoencoder.h"
#include "reconstruct/feature_decoder.h"
#include "reconstruct/generator.h"
#include "reconstruct/identification.h"
#include "reconstruct/image_tensor.h"
#include "reconstruct/pixel_optimizer.h"
#include "test_support.h"

using namespace deepvox;
using namespace deepvox::reconstruct;

TEST(Identification, PairwiseAndBinomial) {
  // Prediction i matches item i best except prediction 2, which prefers item 0.
  const std::vector<double> s = {0.9, 0.1, 0.2,  //
                                 0.3, 0.8, 0.1,  //
                                 0.7, 0.5, 0.6};
  const auto id = pairwise_identification(s, 3);
  EXPECT_EQ(id.comparisons, 6);
  EXPECT_DOUBLE_EQ(id.correct, 5.0);  // row 2: 0.6 > 0.5 but < 0.7
  EXPECT_DOUBLE_EQ(id.per_item[2], 0.5);
  // Ties count one half.
  EXPECT_DOUBLE_EQ(pairwise_identification({1, 1, 1, 1}, 2).accuracy, 0.5);
  // P(X >= 8), X ~ B(10, 1/2) = (45 + 10 + 1) / 1024.
  EXPECT_NEAR(binomial_tail(8, 10, 0.5), 56.0 / 1024.0, 1e-12);
  EXPECT_DOUBLE_EQ(binomial_tail(0, 10, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(binomial_tail(11, 10, 0.5), 0.0);
  // Large n against the normal approximation with continuity correction (z = 1.99, tail 0.0233).
  EXPECT_NEAR(binomial_tail(5100, 10000, 0.5), 0.0233, 0.001);
  // VanRullen & Reddy's pairwise decoding: pair (0, 2): 0.9 + 0.6 > 0.2 + 0.7.
  const auto pd = pairwise_decoding(s, 3);
  EXPECT_EQ(pd.comparisons, 3);
  EXPECT_DOUBLE_EQ(pd.correct, 3.0);

  // Permutation p-values: tiny for a clean diagonal, not small for an unrelated similarity matrix.
  std::mt19937_64 rng(2);
  std::vector<double> clean(400), noise(400);
  for (int i = 0; i < 20; ++i)
    for (int j = 0; j < 20; ++j) {
      noise[i * 20 + j] = static_cast<double>(rng() % 1000);
      clean[i * 20 + j] = noise[i * 20 + j] + (i == j ? 2000 : 0);
    }
  EXPECT_NEAR(pairwise_identification(clean, 20).permutation_p, 1.0 / (kPermutations + 1), 1e-12);
  EXPECT_NEAR(pairwise_decoding(clean, 20).permutation_p, 1.0 / (kPermutations + 1), 1e-12);
  EXPECT_GT(pairwise_identification(noise, 20).permutation_p, 0.05);
  EXPECT_GT(pairwise_decoding(noise, 20).permutation_p, 0.05);
}

namespace {

// Ridge with an intercept in double precision, solved directly: predictions of eval rows.
at::Tensor ridge_predict(const at::Tensor& xt, const at::Tensor& yt, const at::Tensor& xe, double lambda) {
  const at::Tensor mx = xt.mean(0), my = yt.mean(0);
  const at::Tensor xc = xt - mx, yc = yt - my;
  const at::Tensor a = at::matmul(xc.t(), xc) + lambda * at::eye(xt.size(1), at::kDouble);
  const at::Tensor w = at::linalg_solve(a, at::matmul(xc.t(), yc));
  return at::matmul(xe - mx, w) + my;
}

}  // namespace

TEST(FeatureDecoder, MatchesDirectRidgeWithBruteForceCrossValidation) {
  const std::int64_t nt = 60, ne = 20, v = 15, d = 37, folds = 4;
  at::manual_seed(3);
  const at::Tensor x = at::randn({nt + ne, v}, at::kDouble) * 2 + 1;
  const at::Tensor b = at::randn({v, d}, at::kDouble) * (at::rand({1, d}, at::kDouble) > 0.3).to(at::kDouble);
  const at::Tensor y = at::matmul(x, b) + at::randn({nt + ne, d}, at::kDouble) * 3 + 5;
  const std::vector<double> lambdas = {0.1, 1, 10, 100, 1000};

  fit::Mat<float> xm(nt + ne, v), ym(nt + ne, d);
  const at::Tensor xf = x.to(at::kFloat).contiguous(), yf = y.to(at::kFloat).contiguous();
  std::copy_n(xf.data_ptr<float>(), xf.numel(), xm.data());
  std::copy_n(yf.data_ptr<float>(), yf.numel(), ym.data());
  const DecodeDesign design = make_design(xm, nt, folds, lambdas, fit::Score::R2);
  auto loader = [&](std::int64_t c0, std::int64_t w) {
    fit::Mat<float> out(nt + ne, w);
    for (std::int64_t i = 0; i < nt + ne; ++i) std::copy_n(ym.row(i) + c0, w, out.row(i));
    return out;
  };
  const Decoded dec = decode_targets(design, d, 8, loader, MPI_COMM_SELF, "test");

  // Reference: z-score voxels with the training statistics, contiguous folds as numpy.array_split cuts them.
  const at::Tensor xtr = x.narrow(0, 0, nt);
  const at::Tensor z = (x - xtr.mean(0)) / xtr.std(0, /*unbiased=*/false);
  const at::Tensor ytr = y.narrow(0, 0, nt);
  std::vector<std::int64_t> bounds = {0};
  for (std::int64_t f = 0; f < folds; ++f)
    bounds.push_back(bounds.back() + nt / folds + (f < nt % folds ? 1 : 0));
  at::Tensor score = at::zeros({static_cast<std::int64_t>(lambdas.size()), d}, at::kDouble);
  for (std::int64_t f = 0; f < folds; ++f) {
    std::vector<std::int64_t> tr, ev;
    for (std::int64_t i = 0; i < nt; ++i) (i >= bounds[f] && i < bounds[f + 1] ? ev : tr).push_back(i);
    const at::Tensor ti = at::tensor(tr), ei = at::tensor(ev);
    const at::Tensor yev = ytr.index_select(0, ei);
    for (size_t l = 0; l < lambdas.size(); ++l) {
      const at::Tensor p =
          ridge_predict(z.index_select(0, ti), ytr.index_select(0, ti), z.index_select(0, ei), lambdas[l]);
      const at::Tensor r2 = 1 - (yev - p).pow(2).sum(0) / (yev - yev.mean(0)).pow(2).sum(0);
      score[static_cast<std::int64_t>(l)] += r2 / static_cast<double>(folds);
    }
  }
  for (std::int64_t j = 0; j < d; ++j) {
    std::int64_t best = 0;
    for (std::int64_t l = 0; l < static_cast<std::int64_t>(lambdas.size()); ++l)
      if (score[l][j].item<double>() >= score[best][j].item<double>() - 1e-9)
        best = l;  // ties: larger lambda
    EXPECT_DOUBLE_EQ(dec.lambda[j], lambdas[best]) << "target " << j;
    EXPECT_NEAR(dec.cv_score[j], score[best][j].item<double>(), 1e-3);
    const at::Tensor p =
        ridge_predict(z.narrow(0, 0, nt), ytr.narrow(1, j, 1), z.narrow(0, nt, ne), dec.lambda[j]);
    const double scale = p.abs().max().item<double>();
    for (std::int64_t i = 0; i < ne; ++i) EXPECT_NEAR(dec.test(i, j), p[i][0].item<double>(), 1e-4 * scale);
  }

  // Rescaling gives each decoded column the training mean and s.d. across the test stimuli.
  Decoded r = dec;
  rescale_to_training(r);
  for (std::int64_t j = 0; j < d; ++j) {
    double m = 0, ss = 0;
    for (std::int64_t i = 0; i < ne; ++i) m += r.test(i, j) / static_cast<double>(ne);
    for (std::int64_t i = 0; i < ne; ++i)
      ss += (r.test(i, j) - m) * (r.test(i, j) - m) / static_cast<double>(ne);
    EXPECT_NEAR(m, r.train_mean[j], 1e-3 * (1 + std::abs(m)));
    EXPECT_NEAR(std::sqrt(ss), r.train_sd[j], 1e-3 * r.train_sd[j]);
    EXPECT_NEAR(r.train_mean[j], ytr.narrow(1, j, 1).mean().item<double>(),
                1e-3 * (1 + std::abs(r.train_mean[j])));
  }
  // Planted targets decode far better than chance on the test stimuli.
  EXPECT_GT(score_decoding(dec).identification, 0.8);
}

TEST(FeatureDecoder, VoxelSelectionFindsThePlantedVoxels) {
  const std::int64_t n = 200, v = 30, m = 12;
  at::manual_seed(5);
  const at::Tensor t = at::randn({n, m});
  at::Tensor x = at::randn({n, v});
  const std::vector<std::int64_t> planted = {3, 7, 11, 20, 28};
  for (auto p : planted)
    x.select(1, p).copy_(at::matmul(t, at::randn({m})) / std::sqrt(double(m)) + 0.3 * at::randn({n}));
  fit::Mat<float> xm(n, v), tm(n, m);
  std::copy_n(x.contiguous().data_ptr<float>(), n * v, xm.data());
  std::copy_n(t.contiguous().data_ptr<float>(), n * m, tm.data());
  EXPECT_EQ(select_voxels(xm, tm, 5), planted);
  EXPECT_EQ(select_voxels(xm, tm, 0).size(), static_cast<size_t>(v));
}

TEST(ImageTensor, BlurRollResize) {
  at::Tensor flat = at::full({1, 3, 16, 16}, 77.0f);
  EXPECT_TRUE(at::allclose(gaussian_blur(flat, 1.5), flat, 1e-4, 1e-3));
  at::Tensor x = at::rand({2, 3, 16, 16});
  EXPECT_TRUE(at::equal(roll2d(roll2d(x, 3, -2), -3, 2), x));
  EXPECT_NEAR(gaussian_blur(x, 1.0).mean().item<double>(), x.mean().item<double>(), 1e-3);
  EXPECT_EQ(resize_square(x, 32).size(2), 32);
  EXPECT_TRUE(at::allclose(resize_square(x, 8), at::avg_pool2d(x, 2)));
}

class Models : public ::testing::Test {
 protected:
  static std::string dir() {
    static const std::string d = testkit::shared_temp_dir("recon_units", MPI_COMM_SELF);
    return d;
  }
};

TEST_F(Models, AutoencoderTrainsAndLoadsAsGenerator) {
  std::vector<at::Tensor> imgs;
  for (int i = 0; i < 64; ++i) imgs.push_back(image_tensor(testkit::blob_image(16, 100 + i), 16) / 255.0);
  AutoencoderOptions o;
  o.image_size = 16;
  o.latent_dim = 8;
  o.epochs = 40;
  o.batch_size = 16;
  const std::string g = dir() + "/gen.pt", e = dir() + "/enc.pt";
  const auto rep = train_autoencoder(at::stack(imgs), o, g, e);
  EXPECT_LT(rep.last_epoch_loss, 0.6 * rep.first_epoch_loss);
  const Generator gen(g, "cpu");
  const Encoder enc(e, "cpu", 0);
  EXPECT_EQ(gen.latent_dim(), 8);
  EXPECT_EQ(gen.image_size(), 16);
  EXPECT_EQ(enc.image_size(), 16);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::stack(imgs).narrow(0, 0, 4);
  const at::Tensor rec = gen.render(enc.encode(x));
  EXPECT_EQ(rec.sizes(), x.sizes());
  EXPECT_GE(rec.min().item<float>(), 0.0f);
  EXPECT_LE(rec.max().item<float>(), 1.0f);
  EXPECT_LT((rec - x).pow(2).mean().item<double>(), rep.first_epoch_loss);
  EXPECT_THROW(Generator(dir() + "/missing.pt", "cpu"), std::runtime_error);
}

TEST_F(Models, PixelOptimizerRecoversAnImageFromItsFeatures) {
  const std::string path = dir() + "/tiny.pt";
  testkit::save_tiny_network(path, testkit::random_tiny_net(12, 16, 3, 7));
  std::shared_ptr<nets::Network> net = nets::load_network({"torchscript", path, "cpu", 32});
  std::vector<extract::LayerPlan> plans;
  {
    at::NoGradGuard no_grad;
    const auto probe = net->forward(at::zeros({1, 3, 32, 32}), {"conv1", "conv2"});
    for (const std::string l : {"conv1", "conv2"}) {
      auto s = probe.at(l).sizes().vec();
      s.erase(s.begin());
      plans.push_back(extract::plan_layer(l, s, 1024, "avg", 1));
    }
  }
  const extract::FeatureModel fm(net, plans, 32, image::Normalization::Raw);
  std::vector<at::Tensor> imgs;
  for (int i = 0; i < 3; ++i) imgs.push_back(image_tensor(testkit::blob_image(32, 900 + i), 32));
  const at::Tensor truth = at::stack(imgs);
  MatchTargets t;
  t.layers = {"conv1", "conv2"};
  {
    at::NoGradGuard no_grad;
    const auto f = fm.layer_features(fm.normalize(truth));
    t.features = {f.at("conv1"), f.at("conv2")};
  }
  OptimizerOptions o;
  o.image_size = 32;
  o.iterations = 150;
  o.jitter = 1;
  o.blur_start = 0.5;
  o.blur_end = 0.0;
  o.lr_start = 3.0;
  o.lr_end = 0.1;
  for (const std::string opt : {"sgd", "adam"}) {
    o.optimizer = opt;
    const auto res = optimize_images(fm, t, o, nullptr, 11);
    ASSERT_EQ(res.images.sizes(), truth.sizes());
    EXPECT_LT(res.loss.select(1, o.iterations - 1).max().item<float>(),
              0.1 * res.loss.select(1, 0).min().item<float>())
        << opt;
    for (int i = 0; i < 3; ++i) {
      const at::Tensor a = res.images[i].flatten(), b = truth[i].flatten(), c = truth[(i + 1) % 3].flatten();
      auto r = [](const at::Tensor& u, const at::Tensor& v) {
        return at::corrcoef(at::stack({u, v}))[0][1].item<double>();
      };
      EXPECT_GT(r(a, b), 0.7) << opt << " image " << i;
      EXPECT_GT(r(a, b), r(a, c) + 0.2) << opt << " image " << i;
    }
  }
  // Same seed, same result (what makes the stage rank-count independent).
  o.optimizer = "sgd";
  o.iterations = 5;
  EXPECT_TRUE(
      at::equal(optimize_images(fm, t, o, nullptr, 3).images, optimize_images(fm, t, o, nullptr, 3).images));
}
