// The maximize stage on a planted problem (planted_problem.h), at whatever rank count mpiexec gives:
// the optimized images raise the predicted response above every natural image, results are identical
// when the same targets run on 1, 2 or 4 ranks, bad targets give errors naming them, the folded readout
// equals model.h5's prediction computed directly, the independent model equals a primal ridge solve with
// a brute-force leave-one-out choice, and (1 rank) the same objective in PyTorch-Python gives the same
// trajectories.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/config.h"
#include "core/log.h"
#include "io/h5.h"
#include "maximize/image_param.h"
#include "maximize/independent.h"
#include "maximize/maximize.h"
#include "maximize/options.h"
#include "maximize/targets.h"
#include "planted_problem.h"

namespace deepvox::maximize {
namespace {
namespace fs = std::filesystem;
using testing::PlantedProblem;

std::string g_work;  // argv[1]: this rank count's scratch folder
PlantedProblem g_problem;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// Runs maximize on the first `ranks` ranks of the world (the others wait) into run_dir.
void run_on(int ranks, const std::string& run_dir, const std::vector<std::string>& overrides = {}) {
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() < ranks ? 0 : MPI_UNDEFINED, world_rank(), &sub);
  if (sub != MPI_COMM_NULL) {
    run(planted_config(g_problem, run_dir, overrides, sub), sub);
    MPI_Comm_free(&sub);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// Every dataset's bytes, by path (strings as their text).
void collect(const h5::Group& g, const std::string& prefix, std::map<std::string, std::vector<char>>& out) {
  for (const auto& name : g.children()) {
    const std::string path = prefix + "/" + name;
    if (g.is_group(name)) {
      collect(g.group(name), path, out);
      continue;
    }
    auto d = g.dataset(name);
    std::vector<char> bytes;
    auto append = [&](const auto& v) {
      const char* p = reinterpret_cast<const char*>(v.data());
      bytes.insert(bytes.end(), p, p + v.size() * sizeof(v[0]));
    };
    const std::string type = d.type_name();
    if (d.is_string()) {
      for (const auto& s : d.read_strings()) bytes.insert(bytes.end(), s.begin(), s.end() + 1);
    } else if (type == "float32") {
      append(d.read_all<float>());
    } else if (type == "float64") {
      append(d.read_all<double>());
    } else if (type == "int64") {
      append(d.read_all<std::int64_t>());
    } else if (type == "uint8") {
      append(d.read_all<std::uint8_t>());
    } else {
      FAIL() << "unexpected type " << type << " of " << path;
    }
    out[path] = bytes;
  }
}

std::map<std::string, std::vector<char>> datasets(const std::string& file) {
  std::map<std::string, std::vector<char>> out;
  collect(h5::File::open(file, h5::Mode::Read), "", out);
  return out;
}

TEST(Maximize, RaisesThePredictedResponseAboveEveryNaturalImage) {
  const std::string dir = g_work + "/raise";
  // The independent model here re-fits both layers (leave-one-out instead of the planted weights): with only
  // 52 training images, a single layer's model extrapolates too loosely to be a sharp check.
  run_on(world_size(), dir,
         {"maximize.steps=100", "maximize.diversity=0.05", "maximize.tv=0.01",
          "maximize.independent_layers=[conv2, conv1]"});
  if (world_rank() != 0) return;
  auto f = h5::File::open(dir + "/maximize.h5", h5::Mode::Read);
  const std::int64_t T = 5, R = 2;
  EXPECT_EQ(f.dataset("images").shape(), (h5::Shape{T, R, 24, 24, 3}));
  auto labels = f.dataset("targets").read_strings();
  ASSERT_EQ(labels.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(labels.begin(), labels.begin() + 4),
            (std::vector<std::string>{"roi:early", "roi:late", "voxel:3", "contrast:late-early"}));
  EXPECT_EQ(labels[4].rfind("late #1 (voxel ", 0), 0u) << labels[4];
  auto traj = f.dataset("trajectories").read_all<float>();
  const auto n_rec = f.dataset("trajectories").shape()[2];
  auto final_score = f.dataset("validation/model/final").read_all<float>();
  auto best_natural = f.dataset("validation/model/best_natural").read_all<float>();
  std::int64_t beating = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    bool any = false;
    for (std::int64_t r = 0; r < R; ++r) {
      const float start = traj[static_cast<size_t>((t * R + r) * n_rec)];
      const float last = final_score[static_cast<size_t>(t * R + r)];
      EXPECT_GT(last, start + 0.1f) << "target " << t << " restart " << r;
      any = any || last > best_natural[static_cast<size_t>(t)];
    }
    beating += any;
  }
  EXPECT_GE(static_cast<double>(beating) / T, 0.9) << "fraction of targets beating the best natural image";
  const double fraction =
      f.group("validation/model").read_attr<double>("fraction_targets_beating_best_natural");
  EXPECT_DOUBLE_EQ(fraction, static_cast<double>(beating) / T);
  // The independent model agrees that the images drive their targets hard.
  auto ind_pct = f.dataset("validation/independent/percentile").read_all<float>();
  double mean_pct = 0;
  for (float p : ind_pct) mean_pct += p / static_cast<double>(ind_pct.size());
  // Noise and grey images sit near the middle of the natural distribution; images that only exploited
  // the planted readout's quirks would stay there under a re-fitted model.
  EXPECT_GT(mean_pct, 0.6) << "mean percentile among natural images under the independent model";
  EXPECT_TRUE(fs::exists(dir + "/maximize/early.png"));
  EXPECT_TRUE(fs::exists(dir + "/maximize/late.png"));
}

TEST(Maximize, SameResultsAtOneTwoAndFourRanks) {
  std::vector<int> counts = {1};
  if (world_size() >= 2) counts.push_back(2);
  if (world_size() >= 4) counts.push_back(4);
  for (int n : counts) run_on(n, g_work + "/ranks" + std::to_string(n));
  if (world_rank() != 0) return;
  auto reference = datasets(g_work + "/ranks1/maximize.h5");
  EXPECT_GT(reference.size(), 20u);
  for (int n : counts) {
    auto other = datasets(g_work + "/ranks" + std::to_string(n) + "/maximize.h5");
    ASSERT_EQ(other.size(), reference.size());
    for (const auto& [path, bytes] : reference)
      EXPECT_TRUE(other.at(path) == bytes) << path << " differs at " << n << " ranks";
  }
}

TEST(Maximize, ResumesOnlyTheUnfinishedChunks) {
  const std::string dir = g_work + "/resume", file = dir + "/maximize.h5";
  run_on(world_size(), dir);
  std::vector<std::uint8_t> reference;
  const std::int64_t row = 2 * 24 * 24 * 3;  // one target's images (2 restarts)
  if (world_rank() == 0) {
    reference = h5::File::open(file, h5::Mode::Read).dataset("images").read_all<std::uint8_t>();
    // Turn the finished file into the .partial of a run killed during chunk 1 (targets 2, 3): only the
    // resume record survives; chunk 0 (targets 0, 1) is marked done but holds a marker value, so a
    // resume that recomputed it would show; chunk 1 is not done.
    fs::rename(file, file + ".partial");
    auto f = h5::File::open(file + ".partial", h5::Mode::ReadWrite);
    for (const auto& name : f.children())
      if (name != "chunks") ASSERT_GE(H5Ldelete(f.id(), name.c_str(), H5P_DEFAULT), 0) << name;
    // A killed run still has its per-chunk timings as a dataset (a finished one keeps them as an attribute).
    f.create_dataset<double>("chunks/seconds", {3}).write_all(std::vector<double>(3, 1.0));
    auto done = f.dataset("chunks/done");
    std::vector<std::uint8_t> flags = done.read_all<std::uint8_t>();
    ASSERT_EQ(flags, (std::vector<std::uint8_t>{1, 1, 1}));
    flags[1] = 0;
    done.write_all(flags);
    auto images = f.dataset("chunks/images");
    std::vector<std::uint8_t> marker(static_cast<size_t>(2 * row), 7), zeros(static_cast<size_t>(2 * row), 0);
    images.write_block<std::uint8_t>({0, 2, 0, row}, marker.data());
    images.write_block<std::uint8_t>({2, 2, 0, row}, zeros.data());
  }
  MPI_Barrier(MPI_COMM_WORLD);
  run_on(world_size(), dir, {"resume=true"});
  if (world_rank() != 0) return;
  EXPECT_FALSE(fs::exists(file + ".partial"));
  auto resumed = h5::File::open(file, h5::Mode::Read).dataset("images").read_all<std::uint8_t>();
  ASSERT_EQ(resumed.size(), reference.size());
  for (std::int64_t i = 0; i < 2 * row; ++i)
    ASSERT_EQ(resumed[static_cast<size_t>(i)], 7) << "chunk 0 was recomputed";
  for (size_t i = static_cast<size_t>(2 * row); i < reference.size(); ++i)
    ASSERT_EQ(resumed[i], reference[i]) << "byte " << i << " differs after the resume";
}

std::string error_of(const std::vector<std::string>& overrides) {
  try {
    run(planted_config(g_problem, g_work + "/errors", overrides, MPI_COMM_WORLD), MPI_COMM_WORLD);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Maximize, BadTargetsNameTheProblem) {
  auto e = error_of({"maximize.targets=[roi:early, roi:NOPE]"});
  EXPECT_NE(e.find("'roi:NOPE'"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown ROI 'NOPE'"), std::string::npos) << e;
  EXPECT_NE(e.find("early, late"), std::string::npos) << e;
  e = error_of({"maximize.targets=[voxel:12]"});
  EXPECT_NE(e.find("voxel index 12 is out of range"), std::string::npos) << e;
  EXPECT_NE(e.find("0..11"), std::string::npos) << e;
  e = error_of({"maximize.targets=[voxel:-1]"});
  EXPECT_NE(e.find("voxel index -1"), std::string::npos) << e;
  e = error_of({"maximize.targets=[top:late:7]"});
  EXPECT_NE(e.find("asks for 7 voxels"), std::string::npos) << e;
  e = error_of({"maximize.targets=[voxels:3]"});
  EXPECT_NE(e.find("'voxels:3'"), std::string::npos) << e;
  e = error_of({"maximize.device=cuda"});
  if (!at::hasCUDA()) EXPECT_NE(e.find("without CUDA"), std::string::npos) << e;
  e = error_of({"maximize.parameterization=wavelet"});
  EXPECT_NE(e.find("maximize.parameterization"), std::string::npos) << e;
}

TEST(Maximize, FoldedReadoutEqualsTheModelsPrediction) {
  const std::string dir = g_work + "/raise";  // written by the first test
  if (world_rank() != 0) return;
  auto m = h5::File::open(dir + "/model.h5", h5::Mode::Read);
  auto feat = h5::File::open(dir + "/features.h5", h5::Mode::Read);
  auto w = m.dataset("weights").read_all<float>();
  auto b = m.dataset("intercept").read_all<float>();
  auto mean = m.dataset("features/mean").read_all<float>();
  auto scale = m.dataset("features/scale").read_all<float>();
  auto f1 = feat.dataset("features/conv1").read_all<float>();
  auto f2 = feat.dataset("features/conv2").read_all<float>();
  const std::int64_t d1 = feat.dataset("features/conv1").cols(), P = static_cast<std::int64_t>(mean.size()),
                     V = 12, N = g_problem.n_images;
  auto natural = h5::File::open(dir + "/maximize.h5", h5::Mode::Read)
                     .dataset("validation/model/natural")
                     .read_all<float>();
  const std::int64_t T = 5;
  for (std::int64_t i = 0; i < N; ++i) {
    std::vector<double> pred(static_cast<size_t>(V));
    for (std::int64_t v = 0; v < V; ++v) {
      double acc = b[static_cast<size_t>(v)];
      for (std::int64_t j = 0; j < P; ++j) {
        const double x =
            j < d1 ? f1[static_cast<size_t>(i * d1 + j)] : f2[static_cast<size_t>(i * (P - d1) + j - d1)];
        acc += (x - mean[static_cast<size_t>(j)]) / scale[static_cast<size_t>(j)] *
               w[static_cast<size_t>(j * V + v)];
      }
      pred[static_cast<size_t>(v)] = acc;
    }
    double early = 0, late = 0;
    for (std::int64_t v = 0; v < 6; ++v)
      early += pred[static_cast<size_t>(v)] / 6, late += pred[static_cast<size_t>(v + 6)] / 6;
    const double expected[5] = {early, late, pred[3], late - early, pred[6]};
    for (std::int64_t t = 0; t < T; ++t) {
      if (t == 4) continue;  // top:late:1 is whichever late voxel predicts best; checked below
      EXPECT_NEAR(natural[static_cast<size_t>(i * T + t)], expected[t], 1e-4 * (1 + std::abs(expected[t])))
          << "stimulus " << i << " target " << t;
    }
  }
  // top:late:1 is the late voxel with the highest test_r.
  auto r = m.dataset("voxels/test_r").read_all<float>();
  std::int64_t best = 6;
  for (std::int64_t v = 7; v < 12; ++v)
    if (r[static_cast<size_t>(v)] > r[static_cast<size_t>(best)]) best = v;
  auto voxel = h5::File::open(dir + "/maximize.h5", h5::Mode::Read)
                   .dataset("objective/voxel")
                   .read_all<std::int64_t>();
  EXPECT_EQ(voxel[4], best);
}

TEST(Maximize, FourierAndPixelParametersInvertAndStartGrey) {
  for (auto kind : {Parameterization::Fourier, Parameterization::Pixel}) {
    for (bool decorrelate : {true, false}) {
      for (std::int64_t size : {16, 17}) {
        ImageParam param(kind, decorrelate, 1.0, size, at::kCPU);
        auto grey = param.to_rgb(at::zeros(param.shape(2)));
        EXPECT_NEAR((grey - 0.5).abs().max().item<double>(), 0.0, 1e-6);
        auto img = at::rand({2, 3, size, size}, at::kFloat) * 0.9 + 0.05;
        auto back = param.to_rgb(param.from_rgb(img));
        EXPECT_LT((back - img).abs().max().item<double>(), 1e-4) << "size " << size;
      }
    }
  }
  // Same seeds, same noise (one CPU generator per image, as torch.Generator().manual_seed(seed)).
  ImageParam param(Parameterization::Fourier, true, 1.0, 16, at::kCPU);
  EXPECT_TRUE(param.noise({5, 6}, 0.01).equal(param.noise({5, 6}, 0.01)));
  EXPECT_FALSE(param.noise({5, 6}, 0.01).equal(param.noise({5, 7}, 0.01)));
}

TEST(Maximize, IndependentModelIsARidgeWithLeaveOneOutLambda) {
  if (world_rank() != 0) return;
  const std::string dir = g_problem.dir;
  VoxelInfo info;
  info.n_voxels = 12;
  info.roi_names = {"early"};
  info.roi_masks = {std::vector<std::uint8_t>{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}};
  auto targets = expand_targets({"roi:early", "voxel:9"}, info, 1.0);
  const std::vector<double> lambdas = {0.01, 0.1, 1, 10, 100, 1000, 1e4};
  auto m = fit_independent(dir + "/features.h5", dir + "/responses.h5", {"conv1"}, targets, lambdas,
                           MPI_COMM_SELF);
  // Reference: z-scored train features, primal ridge with an intercept per lambda, brute-force leave-one-out.
  auto feat = h5::File::open(dir + "/features.h5", h5::Mode::Read);
  auto resp = h5::File::open(dir + "/responses.h5", h5::Mode::Read);
  const std::int64_t n = g_problem.n_train, d = feat.dataset("features/conv1").cols();
  auto x =
      at::tensor(feat.dataset("features/conv1").read_all<float>(), at::kDouble).view({-1, d}).narrow(0, 0, n);
  auto y_all =
      at::tensor(resp.dataset("responses").read_all<float>(), at::kDouble).view({-1, 12}).narrow(0, 0, n);
  auto mean = x.mean(0), sd = x.std(0, false);
  sd = at::where(sd > 0, sd, at::ones_like(sd));
  auto z = (x - mean) / sd;
  for (size_t t = 0; t < 2; ++t) {
    auto y = t == 0 ? y_all.narrow(1, 0, 6).mean(1) : y_all.select(1, 9);
    auto yc = y - y.mean();
    double best_sse = 1e300, best_lambda = 0;
    for (double lambda : lambdas) {
      double sse = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        auto keep = at::cat({at::arange(0, i, at::kLong), at::arange(i + 1, n, at::kLong)});
        // An unpenalized intercept refitted without stimulus i: centre the n-1 others by their own means.
        auto zi = z.index_select(0, keep), yi = y.index_select(0, keep);
        auto zm = zi.mean(0), ym = yi.mean();
        auto zic = zi - zm;
        auto wi = at::linalg_solve(at::mm(zic.t(), zic) + lambda * at::eye(d, at::kDouble),
                                   at::mv(zic.t(), yi - ym));
        sse += std::pow(y[i].item<double>() - (ym + at::dot(z[i] - zm, wi)).item<double>(), 2);
      }
      if (sse <= best_sse) best_sse = sse, best_lambda = lambda;
    }
    EXPECT_EQ(m.lambda[t], best_lambda) << "target " << t;
    auto w =
        at::linalg_solve(at::mm(z.t(), z) + best_lambda * at::eye(d, at::kDouble), at::mv(z.t(), yc)) / sd;
    for (std::int64_t j = 0; j < d; ++j)
      EXPECT_NEAR(m.readout.weights[static_cast<size_t>(j * 2) + t], w[j].item<double>(),
                  1e-4 * (w.abs().max().item<double>()))
          << "feature " << j;
    EXPECT_NEAR(m.readout.bias[t], (y.mean() - at::dot(mean, w)).item<double>(), 1e-4);
  }
}

TEST(Maximize, SameObjectiveInPyTorchPythonGivesTheSameTrajectories) {
  if (world_size() != 1) GTEST_SKIP() << "checked in the 1-rank run";
  if (std::system((std::string(DEEPVOX_PYTHON) + " -c 'import torch, h5py'").c_str()) != 0)
    GTEST_SKIP() << "Debian's python3-torch / python3-h5py are not installed";
  const std::string dir = g_work + "/python";
  run_on(1, dir, {"maximize.steps=12", "maximize.diversity=0"});
  const std::string out = dir + "/python.h5";
  const std::string cmd = std::string(DEEPVOX_PYTHON) + " " + DEEPVOX_MAXIMIZE_PY + " --run-dir " + dir +
                          " --output " + out +
                          " --targets roi:early roi:late voxel:3 contrast:late:early top:late:1"
                          " --restarts 2 --steps 12 --image-size 24 --targets-per-pass 2 --record-every 5"
                          " --pad 2 --jitter 2 --lr 0.1 --threads 1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto ours = h5::File::open(dir + "/maximize.h5", h5::Mode::Read);
  auto theirs = h5::File::open(out, h5::Mode::Read);
  auto a = ours.dataset("trajectories").read_all<float>();
  auto b = theirs.dataset("trajectories").read_all<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], 1e-3 * (1 + std::abs(b[i]))) << "trajectory entry " << i;
  auto ia = ours.dataset("images").read_all<std::uint8_t>();
  auto ib = theirs.dataset("images").read_all<std::uint8_t>();
  ASSERT_EQ(ia.size(), ib.size());
  double mean_diff = 0;
  for (size_t i = 0; i < ia.size(); ++i)
    mean_diff += std::abs(int(ia[i]) - int(ib[i])) / static_cast<double>(ia.size());
  EXPECT_LT(mean_diff, 0.5) << "mean absolute difference of the final images (grey levels)";
}

}  // namespace
}  // namespace deepvox::maximize

// On ranks other than 0, print only failures, tagged with the rank (rank 0 prints the usual report).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "rank %d: %s:%d: failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?",
                   r.line_number(), r.summary());
  }

 private:
  int rank_;
};

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  deepvox::log::init(rank, size, "warn");
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  deepvox::maximize::g_work = argc > 1 ? argv[1] : "maximize_test_work";
  int result = 0;
  try {
    deepvox::maximize::g_problem = deepvox::maximize::testing::build_planted_problem(
        deepvox::maximize::g_work + "/problem", MPI_COMM_WORLD);
    result = RUN_ALL_TESTS();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
