// Stages synth + decode on the planted run (tests/synth/make_planted.py) at any rank count:
//   - the decoder trained on synthetic responses classifies real test responses at least halfway from
//     chance to the Bayes-optimal accuracy the planted category signal allows (per ROI);
//   - shuffled training labels fall to chance;
//   - unseen categories (a model refitted without `vehicle`) are still decoded above chance;
//   - the learning curve uses the images outside the fMRI set but never one sharing a test photo.
// usage: test_decode_mpi FIXTURE_DIR WORK_DIR
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "../synth/planted.h"
#include "decode/decode.h"
#include "synth/synth.h"

using namespace deepvox;
using namespace deepvox::testing;
namespace fs = std::filesystem;

TEST(Decode, PlantedSubject) {
  const std::string dir = fresh_run("planted");
  Config cfg = config(dir, {"synth.holdout_categories=[vehicle]"});
  synth::run(cfg, MPI_COMM_WORLD);
  decode::run(cfg, MPI_COMM_WORLD);
  if (!is_root()) return;
  const std::string out = dir + "/decoding.h5", ref = g_fixture + "/reference.h5";
  ASSERT_TRUE(fs::exists(out));
  auto f = h5::File::open(out, h5::Mode::Read);
  EXPECT_EQ(f.dataset("rois").read_strings(), (std::vector<std::string>{"LOC", "V1"}));
  auto oracle = read<double>(ref, "oracle_accuracy");  // LOC, V1

  // 1. Unseen images: synthetic-trained decoders on real test responses.
  auto acc = read<double>(out, "experiments/unseen_images/accuracy");
  auto chance = read<double>(out, "experiments/unseen_images/chance");
  auto p = read<double>(out, "experiments/unseen_images/p_value");
  auto n_test = read<std::int64_t>(out, "experiments/unseen_images/n_test");
  auto confusion = read<std::int64_t>(out, "experiments/unseen_images/confusion");
  ASSERT_EQ(acc.size(), 2u);
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_DOUBLE_EQ(chance[r], 0.25);
    EXPECT_EQ(n_test[r], 80);
    EXPECT_GE(acc[r], chance[r] + 0.5 * (oracle[r] - chance[r])) << "ROI " << r << " oracle " << oracle[r];
    EXPECT_LT(p[r], 1e-6);
    EXPECT_EQ(std::accumulate(confusion.begin() + 16 * r, confusion.begin() + 16 * (r + 1), std::int64_t{0}),
              80);
  }
  auto tacc = read<double>(out, "experiments/unseen_images/template_accuracy");
  for (size_t r = 0; r < 2; ++r) EXPECT_GT(tacc[r], 0.4) << "template baseline, ROI " << r;

  // 2. Negative control: shuffled labels fall to chance (within 3 binomial standard errors).
  auto shuffled = read<double>(out, "controls/shuffled_labels/accuracy");
  auto shuffled_p = read<double>(out, "controls/shuffled_labels/p_value");
  const double se = std::sqrt(0.25 * 0.75 / 80);
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_NEAR(shuffled[r], 0.25, 3 * se) << "ROI " << r;
    EXPECT_GT(shuffled_p[r], 1e-3);
  }

  // 3. Unseen categories: the held-out category's 20 test responses, decoded from a model that never saw it.
  EXPECT_EQ(f.dataset("experiments/unseen_categories/held_out").read_strings(),
            (std::vector<std::string>{"vehicle"}));
  auto unseen = read<double>(out, "experiments/unseen_categories/accuracy");
  auto unseen_p = read<double>(out, "experiments/unseen_categories/p_value");
  auto unseen_n = read<std::int64_t>(out, "experiments/unseen_categories/n_test");
  for (size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(unseen_n[r], 20);
    EXPECT_LT(unseen_p[r], 0.01) << "ROI " << r << " accuracy " << unseen[r];
  }

  // 4. Real vs synthetic: 1x = the 240 training images, 2x = plus the 152 new images that share no photo
  // with a test image (8 do); 5x and 10x would be the same set and are dropped.
  EXPECT_EQ(f.dataset("experiments/real_vs_synthetic/conditions").read_strings(),
            (std::vector<std::string>{"real", "synthetic_1x", "synthetic_2x"}));
  const auto extras = read<std::int64_t>(ref, "usable_extras")[0];
  EXPECT_EQ(read<std::int64_t>(out, "experiments/real_vs_synthetic/n_train"),
            (std::vector<std::int64_t>{240, 240, 240 + extras}));
  EXPECT_EQ(f.dataset("experiments/real_vs_synthetic/learning_curve").shape(), (h5::Shape{2, 2}));
  // The 1x synthetic decoder is the unseen-images decoder (the same job, computed once).
  auto rvs = read<double>(out, "experiments/real_vs_synthetic/accuracy");
  for (size_t r = 0; r < 2; ++r) EXPECT_DOUBLE_EQ(rvs[r * 3 + 1], acc[r]);

  EXPECT_TRUE(fs::exists(dir + "/decoding_learning_curve.png"));
  EXPECT_TRUE(fs::exists(dir + "/decoding_confusion.png"));
}

TEST(Decode, LearningCurveFromABalancedRealSubset) {
  // Reuses the planted run's synthetic.h5 (the test above), with a real decoder on 80 training stimuli.
  const std::string dir = fresh_run("base");
  if (is_root()) fs::copy_file(fs::path(g_work) / "planted" / "synthetic.h5", fs::path(dir) / "synthetic.h5");
  MPI_Barrier(MPI_COMM_WORLD);
  Config cfg = config(dir, {"decode.experiments=[real_vs_synthetic]", "decode.learning_curve_base=80",
                            "decode.shuffle_control=false", "decode.rois=[LOC]", "decode.figures=false"});
  decode::run(cfg, MPI_COMM_WORLD);
  if (!is_root()) return;
  const std::string out = dir + "/decoding.h5";
  auto f = h5::File::open(out, h5::Mode::Read);
  // 1x = the same 80 images, 2x = 160, 5x = 400 capped at the pool (240 + 152 = 392), 10x = the same:
  // dropped.
  EXPECT_EQ(f.dataset("experiments/real_vs_synthetic/conditions").read_strings(),
            (std::vector<std::string>{"real", "synthetic_1x", "synthetic_2x", "synthetic_5x"}));
  EXPECT_EQ(read<std::int64_t>(out, "experiments/real_vs_synthetic/n_train"),
            (std::vector<std::int64_t>{80, 80, 160, 392}));
  EXPECT_EQ(read<double>(out, "experiments/real_vs_synthetic/learning_curve_multiple"),
            (std::vector<double>{1, 2, 5}));
  auto acc = read<double>(out, "experiments/real_vs_synthetic/accuracy");
  for (double a : acc) EXPECT_GT(a, 0.5);
}
