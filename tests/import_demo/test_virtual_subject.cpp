// The virtual subject end to end on a small config, at any rank count (ctest runs 1 and 2 ranks and
// then compares the two run folders byte for byte with compare_runs.py).
//   mpirun -n 2 test_import_demo_virtual --run-dir DIR [--config configs/demo.yaml]
// (with --config the subject is built from that file, e.g. the full demo, instead of the small one).
// Checks against the planted truth: the noise ceiling estimated from the repeats matches the
// configured SNR, trial means correlate with the noise-free signal as the ceiling predicts, every
// category is in the test set, the selective ROI prefers its categories, and truth.h5 re-evaluates.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include "core/config.h"
#include "core/mpi.h"
#include "import/demo_stimuli.h"
#include "import/virtual_cortex.h"
#include "import/virtual_subject.h"
#include "io/h5.h"
#include "io/image.h"
#include "io/manifest.h"
#include "nets/network.h"

namespace fs = std::filesystem;
using namespace deepvox;

namespace {

std::string g_run_dir, g_config;
std::int64_t g_images = 0, g_test_images = 0;

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n,
               mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

class VirtualSubject : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::ifstream(nets::default_weights("mobilenet_v2")).good()) return;  // skipped below
    const Config cfg =
        g_config.empty()
            ? Config::load("", {"run_dir=" + g_run_dir, "threads=1", "progress=never", "seed=3",
                                "import.format=virtual", "import.n_images=360", "import.test_images=90",
                                "import.image_size=128", "import.roi_sizes=[80, 80, 60, 60, 60]",
                                "import.sessions=4", "import.runs_per_session=3", "import.batch_size=8"})
            : Config::load(g_config, {"run_dir=" + g_run_dir});
    g_images = cfg.integer("import.n_images");
    g_test_images = import::demo_options(cfg).test_images;
    import::build_virtual_subject(cfg, MPI_COMM_WORLD);
    built_ = true;
  }
  void SetUp() override {
    if (!built_) GTEST_SKIP() << "MobileNetV2 weights missing: run tools/fetch_models.sh";
    if (!is_root()) GTEST_SKIP() << "checks run on rank 0";
  }
  static bool built_;
};
bool VirtualSubject::built_ = false;

}  // namespace

TEST_F(VirtualSubject, FilesAndSplit) {
  const auto m = read_manifest(g_run_dir + "/stimuli/manifest.csv");
  ASSERT_EQ(static_cast<std::int64_t>(m.entries.size()), g_images);
  const auto r = h5::File::open(g_run_dir + "/responses.h5", h5::Mode::Read);
  const auto ids = r.dataset("stimulus_ids").read_strings();
  ASSERT_EQ(static_cast<std::int64_t>(ids.size()), g_images);
  const auto test = r.dataset("split/test").read_all<std::int64_t>();
  const auto cat = r.dataset("categories/index").read_all<std::int64_t>();
  const auto names = r.dataset("categories/names").read_strings();
  EXPECT_GE(names.size(), 8u);
  EXPECT_GE(static_cast<std::int64_t>(test.size()), g_test_images);
  std::set<std::int64_t> test_cats;
  std::map<std::string, std::set<std::string>> sides;
  for (auto s : test) test_cats.insert(cat[s]);
  EXPECT_EQ(test_cats.size(), names.size()) << "a category is missing from the test set";
  for (const auto& e : m.entries) sides[e.fields.at("source_group")].insert(e.fields.at("split"));
  for (const auto& [g, s] : sides) EXPECT_EQ(s.size(), 1u) << "source group " << g << " on both sides";
  for (const auto& e : m.entries) {
    EXPECT_TRUE(fs::exists(e.path)) << e.path;
    EXPECT_NE(e.fields.at("licence").find("GPL"), std::string::npos);
  }
}

TEST_F(VirtualSubject, NoiseCeilingMatchesConfiguredSnr) {
  const auto r = h5::File::open(g_run_dir + "/responses.h5", h5::Mode::Read);
  const auto t = h5::File::open(g_run_dir + "/truth.h5", h5::Mode::Read);
  const auto trials = r.dataset("trials/responses").read_all<float>();
  const auto stim = r.dataset("trials/stimulus_index").read_all<std::int64_t>();
  const auto snr = t.dataset("voxels/snr").read_all<float>();
  const auto ceiling = t.dataset("voxels/noise_ceiling").read_all<float>();
  const auto noise_free = t.dataset("noise_free").read_all<float>();
  const std::int64_t V = static_cast<std::int64_t>(snr.size()), T = static_cast<std::int64_t>(stim.size());
  std::map<std::int64_t, std::vector<std::int64_t>> reps;
  for (std::int64_t k = 0; k < T; ++k) reps[stim[k]].push_back(k);
  std::vector<std::int64_t> test;
  for (const auto& [s, ks] : reps)
    if (ks.size() == 4) test.push_back(s);
  ASSERT_GE(static_cast<std::int64_t>(test.size()), g_test_images);

  // Per voxel: noise variance from the spread of repeats, signal variance from the spread of means
  // (the standard ncsnr estimate, e.g. Allen et al. 2022, NSD), against the planted SNR and ceiling.
  std::vector<double> log_est, log_true, nc_est, nc_true, ratio, r_mean, sqrt_nc;
  const double n = static_cast<double>(test.size());
  for (std::int64_t v = 0; v < V; ++v) {
    double noise = 0, sum = 0, sumsq = 0;
    std::vector<double> means, truth;
    for (auto s : test) {
      double m = 0;
      for (auto k : reps[s]) m += trials[k * V + v];
      m /= 4;
      double var = 0;
      for (auto k : reps[s]) var += (trials[k * V + v] - m) * (trials[k * V + v] - m);
      noise += var / 3;
      means.push_back(m);
      truth.push_back(noise_free[s * V + v]);
      sum += m;
      sumsq += m * m;
    }
    noise /= n;
    const double var_means = (sumsq - sum * sum / n) / (n - 1);
    const double est = std::max(var_means - noise / 4, 0.0) / noise;
    log_est.push_back(std::log(std::max(est, 0.02)));  // a voxel with no detectable signal reads as 0.02
    log_true.push_back(std::log(snr[v]));
    nc_est.push_back(est / (est + 0.25));
    nc_true.push_back(ceiling[v]);
    ratio.push_back(est / snr[v]);
    r_mean.push_back(pearson(means, truth));
    sqrt_nc.push_back(std::sqrt(ceiling[v]));
  }
  std::vector<double> nc_diff(V);
  for (std::int64_t v = 0; v < V; ++v) nc_diff[v] = std::fabs(nc_est[v] - nc_true[v]);
  const double corr = pearson(log_est, log_true), nc_corr = pearson(nc_est, nc_true), med = median(ratio);
  std::printf(
      "estimated vs planted: SNR log-correlation %.3f, median SNR ratio %.3f, noise ceiling correlation "
      "%.3f, "
      "median |difference| %.3f\n",
      corr, med, nc_corr, median(nc_diff));
  EXPECT_GT(corr, 0.85);
  EXPECT_GT(nc_corr, 0.85);
  EXPECT_LT(median(nc_diff), 0.08);
  EXPECT_GT(med, 0.8);
  EXPECT_LT(med, 1.25);
  // The correlation of 4-trial means with the noise-free signal approaches sqrt(noise ceiling).
  const double mean_r = std::accumulate(r_mean.begin(), r_mean.end(), 0.0) / V;
  const double mean_sqrt_nc = std::accumulate(sqrt_nc.begin(), sqrt_nc.end(), 0.0) / V;
  std::printf("mean r(trial means, noise-free) %.3f vs mean sqrt(ceiling) %.3f\n", mean_r, mean_sqrt_nc);
  EXPECT_NEAR(mean_r, mean_sqrt_nc, 0.06);
}

TEST_F(VirtualSubject, PlantedCategorySignal) {
  const auto t = h5::File::open(g_run_dir + "/truth.h5", h5::Mode::Read);
  const auto by_roi = t.dataset("planted/category_r2_by_roi").read_all<float>();
  ASSERT_EQ(by_roi.size(), 5u);
  std::printf("category R^2 by ROI: V1 %.3f V2 %.3f V4 %.3f LOC %.3f selective %.3f\n", by_roi[0], by_roi[1],
              by_roi[2], by_roi[3], by_roi[4]);
  EXPECT_GT(by_roi[4], by_roi[3]);
  EXPECT_GT(by_roi[3], by_roi[0]);
  EXPECT_GT(by_roi[4], 0.4);
  // The selective ROI responds more to its preferred categories.
  const auto roi = t.dataset("voxels/roi").read_all<std::int64_t>();
  const auto cat = t.dataset("stimuli/category").read_all<std::int64_t>();
  const auto names = t.dataset("categories/names").read_strings();
  const auto preferred = t.dataset("planted/selective_categories").read_strings();
  const auto noise_free = t.dataset("noise_free").read_all<float>();
  const std::int64_t V = static_cast<std::int64_t>(roi.size()), S = static_cast<std::int64_t>(cat.size());
  double in = 0, out = 0, n_in = 0, n_out = 0;
  for (std::int64_t s = 0; s < S; ++s) {
    const bool pref = std::count(preferred.begin(), preferred.end(), names[cat[s]]) > 0;
    for (std::int64_t v = 0; v < V; ++v) {
      if (roi[v] != 4) continue;
      (pref ? in : out) += noise_free[s * V + v];
      (pref ? n_in : n_out) += 1;
    }
  }
  EXPECT_GT(in / n_in - out / n_out, 1.0) << "selective ROI does not prefer " << preferred[0];
}

TEST_F(VirtualSubject, TruthFileReevaluates) {
  auto cortex = import::VirtualCortex::from_truth_file(g_run_dir + "/truth.h5");
  const auto t = h5::File::open(g_run_dir + "/truth.h5", h5::Mode::Read);
  const auto ids = t.dataset("stimulus_ids").read_strings();
  const auto noise_free = t.dataset("noise_free").read_rows<float>(0, 8);
  std::vector<image::RgbImage> images;
  for (int i = 0; i < 8; ++i)
    images.push_back(image::decode_image_file(g_run_dir + "/stimuli/images/" + ids[i] + ".jpg"));
  const auto again = cortex->respond(images);
  ASSERT_EQ(again.size(), noise_free.size());
  double worst = 0;
  for (std::size_t k = 0; k < again.size(); ++k)
    worst = std::max(worst, std::fabs(double(again[k]) - noise_free[k]));
  EXPECT_LT(worst, 1e-4);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--run-dir")
      g_run_dir = argv[i + 1];
    else if (std::string(argv[i]) == "--config")
      g_config = argv[i + 1];
  if (g_run_dir.empty()) g_run_dir = (fs::temp_directory_path() / "deepvox_virtual_subject").string();
  if (is_root()) fs::remove_all(g_run_dir);  // a stale .partial would be resumed
  MPI_Barrier(MPI_COMM_WORLD);
  if (!is_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int result = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
