// Folds, scores, the noise ceiling and band candidates, each against a closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/config.h"
#include "fit/folds.h"
#include "fit/options.h"
#include "fit/scores.h"

namespace deepvox::fit {
namespace {

TEST(Folds, ContiguousAsNumpyArraySplit) {
  // numpy.array_split(range(11), 3) -> sizes 4, 4, 3.
  EXPECT_EQ(contiguous_folds(11, 3), (std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2}));
  EXPECT_THROW(contiguous_folds(4, 5), std::runtime_error);
  EXPECT_THROW(contiguous_folds(10, 1), ConfigError);
}

TEST(Folds, GroupsNeverStraddleFolds) {
  const std::vector<std::int64_t> session = {5, 1, 1, 3, 5, 2, 3, 2, 9};
  const auto f = grouped_folds(session, 3, "session");
  // Sorted groups 1,2,3,5,9 cut as array_split(5, 3) -> {1,2}, {3,5}, {9}.
  EXPECT_EQ(f, (std::vector<std::int64_t>{1, 0, 0, 1, 1, 0, 1, 0, 2}));
  EXPECT_THROW(grouped_folds({1, 1, 2, 2}, 3, "run"), std::runtime_error);
}

TEST(Scores, FoldScoresMatchClosedForms) {
  // Two voxels, one lambda, three evaluation rows.
  Mat<double> pred(3, 2);
  pred.v = {0.5, 1.0, 1.5, -1.0, 2.0, 0.0};
  const std::vector<double> y = {1.0, 0.0, 2.0, -2.0, 2.5, 1.0};
  const std::vector<double> ybar = {0.25, 0.0};
  const auto stats = eval_stats(y.data(), 3, 2);
  for (Score s : {Score::R2, Score::Pearson, Score::Sse}) {
    std::vector<double> acc(2, 0.0);
    accumulate_fold_scores(s, pred, y.data(), stats, ybar, 1, acc.data(), 2);
    for (int j = 0; j < 2; ++j) {
      double my = 0, mp = 0, sse = 0, sst = 0, spy = 0, spp = 0;
      for (int i = 0; i < 3; ++i) my += y[i * 2 + j] / 3, mp += (pred(i, j) + ybar[j]) / 3;
      for (int i = 0; i < 3; ++i) {
        const double p = pred(i, j) + ybar[j], yy = y[i * 2 + j];
        sse += (yy - p) * (yy - p);
        sst += (yy - my) * (yy - my);
        spy += (p - mp) * (yy - my);
        spp += (p - mp) * (p - mp);
      }
      const double want = s == Score::Sse ? sse : s == Score::R2 ? 1 - sse / sst : spy / std::sqrt(spp * sst);
      EXPECT_NEAR(acc[j], want, 1e-12);
    }
  }
}

TEST(Scores, NoiseCeilingRecoversPlantedNoise) {
  // 2000 stimuli x 4 trials: signal variance 1, trial noise variance 3; test stimuli average 4 trials.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0.0, 1.0);
  const int s = 2000, reps = 4;
  std::vector<float> trials(s * reps);
  std::vector<std::int64_t> stim(s * reps);
  for (int i = 0; i < s; ++i) {
    const double sig = n(rng);
    for (int r = 0; r < reps; ++r) {
      trials[i * reps + r] = static_cast<float>(sig + std::sqrt(3.0) * n(rng));
      stim[i * reps + r] = i;
    }
  }
  double ncsnr = 0, ceiling = 0;
  noise_ceiling(trials.data(), s * reps, 1, stim, 1.0 / reps, &ncsnr, &ceiling);
  EXPECT_NEAR(ncsnr, std::sqrt(1.0 / 3.0), 0.03);
  EXPECT_NEAR(ceiling, std::sqrt(1.0 / (1.0 + 3.0 / reps)), 0.02);
}

TEST(Options, BandCandidatesLieOnTheSimplex) {
  const auto grid = band_candidates(3, "grid", 0, 4, 0);
  EXPECT_EQ(grid.size(), 15u);  // C(4 + 2, 2)
  const auto random = band_candidates(3, "random", 10, 0, 42);
  EXPECT_EQ(random.size(), 1u + 3u + 10u);
  EXPECT_EQ(random, band_candidates(3, "random", 10, 0, 42));  // seeded
  for (const auto* set : {&grid, &random})
    for (const auto& g : *set) {
      double sum = 0;
      for (double v : g) sum += v;
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
}

TEST(Options, DefaultGridIsWide) {
  const auto l = default_lambdas();
  EXPECT_EQ(l.size(), 21u);
  EXPECT_DOUBLE_EQ(l.front(), 1e-2);
  EXPECT_NEAR(l.back(), 1e8, 1e-4);
}

}  // namespace
}  // namespace deepvox::fit
