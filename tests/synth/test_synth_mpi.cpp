// Stage synth on the planted run (make_planted.py), at any rank count: predictions, the refitted
// held-out-category model, residual variances and the repetition analysis against numpy/scikit-learn
// references; ROI-correlated noise; a feature layout that does not match the model.
// usage: test_synth_mpi FIXTURE_DIR WORK_DIR
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "planted.h"
#include "synth/augment.h"
#include "synth/stats.h"
#include "synth/synth.h"

using namespace deepvox;
using namespace deepvox::testing;
namespace fs = std::filesystem;

namespace {

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b, double* scale) {
  double d = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    s = std::max(s, std::fabs(b[i]));
  }
  *scale = s;
  return d;
}

}  // namespace

TEST(Synth, PlantedRunMatchesReferences) {
  const std::string dir = fresh_run("planted");
  Config cfg = config(dir, {"synth.noise=roi", "synth.repetitions=2", "synth.holdout_categories=[vehicle]"});
  synth::run(cfg, MPI_COMM_WORLD);
  if (!is_root()) return;
  const std::string out = dir + "/synthetic.h5", ref = g_fixture + "/reference.h5";
  ASSERT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".partial"));

  // Predictions for every features row (train, test and the 160 images outside the fMRI set).
  auto pred = read<float>(out, "responses");
  auto pred_ref = read<double>(ref, "pred_all");
  ASSERT_EQ(pred.size(), pred_ref.size());
  double scale = 0;
  double diff = max_abs_diff(pred, pred_ref, &scale);
  EXPECT_LE(diff, 1e-5 * scale);

  // The model refitted without `vehicle` (dual form, per-voxel lambda) against scikit-learn's Ridge.
  auto hold = read<float>(out, "holdout/responses");
  auto hold_ref = read<double>(ref, "holdout_all");
  diff = max_abs_diff(hold, hold_ref, &scale);
  EXPECT_LE(diff, 1e-4 * scale);
  std::printf("predictions: max |error| / max |value| %.2g; held-out-category model %.2g\n",
              max_abs_diff(pred, pred_ref, &scale) / scale, diff / scale);

  // Residual variance from the training trials.
  auto var = read<double>(out, "noise/residual_var");
  auto var_ref = read<double>(ref, "residual_var");
  for (size_t v = 0; v < var.size(); ++v)
    EXPECT_NEAR(var[v], var_ref[v], 1e-4 * var_ref[v] + 1e-9) << "voxel " << v;

  // Repetition analysis: voxelwise measures and the per-ROI pattern means.
  auto voxel_ref = read<double>(ref, "repetition/voxel");  // [4, V]
  const size_t V = var.size();
  const char* names[4] = {"syn_vs_rep", "rep_vs_rep", "rep_vs_mean_others", "syn_vs_mean"};
  for (int m = 0; m < 4; ++m) {
    auto got = read<float>(out, std::string("repetition/voxel/") + names[m]);
    for (size_t v = 0; v < V; ++v) {
      const double want = voxel_ref[m * V + v];
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(got[v]));
      else
        EXPECT_NEAR(got[v], want, 1e-4) << names[m] << " voxel " << v;
    }
  }
  auto pattern_ref = read<double>(ref, "repetition/pattern_means");  // [groups, 4]: all, LOC, V1
  for (int m = 0; m < 4; ++m) {
    auto got = read<double>(out, std::string("repetition/summary/pattern_") + names[m]);
    ASSERT_EQ(got.size(), 3u);
    for (size_t g = 0; g < 3; ++g)
      EXPECT_NEAR(got[g], pattern_ref[g * 4 + m], 1e-4) << names[m] << " group " << g;
  }

  // Categories of images outside the fMRI set come from the manifest.
  auto cats = read<std::int64_t>(out, "categories/index");
  auto resp_rows = read<std::int64_t>(out, "responses_index");
  ASSERT_EQ(cats.size(), 480u);
  for (size_t i = 320; i < 480; ++i) {
    EXPECT_EQ(cats[i], static_cast<std::int64_t>(i % 4)) << i;
    EXPECT_EQ(resp_rows[i], -1);
  }

  // Synthetic repetitions: noise variance per voxel is the residual variance (diagonal kept by the
  // shrinkage), zero for the invalid voxel; neighbouring voxels of an ROI share noise.
  auto trials = read<float>(out, "trials/responses");
  const size_t M = 480, R = 2;
  ASSERT_EQ(trials.size(), M * R * V);
  std::vector<double> sum(V, 0), sumsq(V, 0);
  for (size_t m = 0; m < M; ++m)
    for (size_t r = 0; r < R; ++r)
      for (size_t v = 0; v < V; ++v) {
        const double e = trials[(m * R + r) * V + v] - pred[m * V + v];
        sum[v] += e;
        sumsq[v] += e * e;
      }
  double ratio = 0;
  for (size_t v = 0; v + 1 < V; ++v) {
    const double n = static_cast<double>(M * R), mean = sum[v] / n, sample_var = sumsq[v] / n - mean * mean;
    ratio += sample_var / var_ref[v];
  }
  ratio /= static_cast<double>(V - 1);
  EXPECT_NEAR(ratio, 1.0, 0.1) << "noise variance over residual variance, averaged over voxels";
  EXPECT_EQ(sumsq[V - 1], 0.0);

  EXPECT_TRUE(fs::exists(dir + "/synthetic_repetition.png"));
}

TEST(Synth, ResumeRedoesOnlyUnfinishedChunks) {
  // A .partial whose first three chunks are not recorded as done (and hold garbage): a rerun with the
  // same inputs resumes it, recomputes exactly those chunks and publishes the same responses.
  const std::string dir = g_work + "/planted";
  const std::string final_path = dir + "/synthetic.h5", partial = final_path + ".partial";
  std::vector<float> before;
  if (is_root()) {
    before = read<float>(final_path, "responses");
    fs::rename(final_path, partial);
    auto f = h5::File::open(partial, h5::Mode::ReadWrite);
    auto done = f.dataset("chunks/done").read_all<std::uint8_t>();
    for (int c = 0; c < 3; ++c) done[static_cast<size_t>(c)] = 0;
    f.dataset("chunks/done").write_all(done);
    std::vector<float> garbage(static_cast<size_t>(48 * 48), -7.0f);
    f.dataset("responses").write_block<float>({0, 48, 0, 48}, garbage.data());
  }
  MPI_Barrier(MPI_COMM_WORLD);
  Config cfg = config(dir, {"synth.noise=roi", "synth.repetitions=2", "synth.holdout_categories=[vehicle]"});
  synth::run(cfg, MPI_COMM_WORLD);
  if (!is_root()) return;
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_EQ(read<float>(final_path, "responses"), before);
  for (auto d : read<std::uint8_t>(final_path, "chunks/done")) EXPECT_EQ(d, 1);
}

TEST(Synth, LayoutMismatchIsAClearErrorAndWritesNothing) {
  const std::string dir = fresh_run("mismatch");
  Config cfg = config(dir, {"synth.features=" + g_fixture + "/bad_features.h5"});
  try {
    synth::run(cfg, MPI_COMM_WORLD);
    FAIL() << "synth accepted features whose layout differs from the model";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layerB"), std::string::npos) << what;
    EXPECT_NE(what.find("17"), std::string::npos) << what;
    EXPECT_NE(what.find("18"), std::string::npos) << what;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(dir + "/synthetic.h5"));
  EXPECT_FALSE(fs::exists(dir + "/synthetic.h5.partial"));
}

TEST(Synth, AugmentationIsSeededAndInBounds) {
  image::RgbImage img;
  img.width = 40;
  img.height = 30;
  img.pixels.resize(40 * 30 * 3);
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i * 7);
  for (int copy = 1; copy <= 6; ++copy) {
    auto a = synth::plan_augmentation(5, 11, copy, img.width, img.height);
    auto b = synth::plan_augmentation(5, 11, copy, img.width, img.height);
    EXPECT_EQ(a.describe(), b.describe());
    EXPECT_EQ(a.flip, copy % 2 == 1);
    EXPECT_GE(a.x0, 0);
    EXPECT_LE(a.x0 + a.width, img.width);
    EXPECT_LE(a.y0 + a.height, img.height);
    EXPECT_GE(a.width, 30);  // 75% of 40
    auto out = synth::apply_augmentation(img, a);
    ASSERT_EQ(out.width, a.width);
    // Pixel (0, 0) of the copy is the crop's top-left, or its top-right when mirrored.
    const int sx = a.flip ? a.x0 + a.width - 1 : a.x0;
    EXPECT_EQ(out.pixels[0], img.row(a.y0)[3 * sx]);
  }
  EXPECT_NE(synth::plan_augmentation(5, 11, 2, 40, 30).describe(),
            synth::plan_augmentation(6, 11, 2, 40, 30).describe());
}

TEST(Synth, BinomialTailsMatchClosedForms) {
  // P(X >= 3), X ~ Bin(4, 0.5) = 5/16; P(X >= 0) = 1; sign test of 10/10 = 2 / 2^10.
  EXPECT_NEAR(synth::binomial_upper_tail(3, 4, 0.5), 5.0 / 16, 1e-12);
  EXPECT_DOUBLE_EQ(synth::binomial_upper_tail(0, 4, 0.3), 1.0);
  EXPECT_NEAR(synth::sign_test(10, 10), 2.0 / 1024, 1e-12);
  EXPECT_NEAR(synth::binomial_upper_tail(2, 3, 0.25), 3 * 0.25 * 0.25 * 0.75 + 0.25 * 0.25 * 0.25, 1e-12);
}
