// Times reconstruct's pixel optimization and explain's backward passes against the real Inception V3 (not a
// test; used to size configs/demo.yaml). Usage:
//   bench_pixel_optimizer WORK_DIR [ITERATIONS] [BATCH] [LAYERS...]
// It extracts features of a few synthetic images with the nsfwjs Inception V3 (models/), then optimizes BATCH
// images for ITERATIONS steps to match them, and reports seconds per image-iteration.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <mpi.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/config.h"
#include "extract/extract.h"
#include "extract/feature_model.h"
#include "reconstruct/image_tensor.h"
#include "reconstruct/pixel_optimizer.h"
#include "test_support.h"

using namespace deepvox;

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s WORK_DIR [ITERATIONS] [BATCH] [LAYERS...]\n", argv[0]);
    return 1;
  }
  const std::string dir = argv[1];
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 5, batch = argc > 3 ? std::atoi(argv[3]) : 2;
  std::vector<std::string> layers;
  for (int i = 4; i < argc; ++i) layers.push_back(argv[i]);
  if (layers.empty()) layers = {"conv2d_3", "mixed0", "mixed2", "mixed4", "mixed7"};
  at::set_num_threads(omp_get_max_threads());
  std::filesystem::create_directories(dir);
  std::vector<std::string> ids;
  std::vector<image::RgbImage> imgs;
  for (int i = 0; i < batch; ++i) {
    ids.push_back("b" + std::to_string(i));
    imgs.push_back(testkit::blob_image(256, 40 + i));
  }
  const std::string manifest = testkit::write_stimuli(dir + "/stimuli", ids, imgs, {});
  std::string list = "[";
  for (size_t i = 0; i < layers.size(); ++i) list += (i ? ", " : "") + layers[i];
  list += "]";
  if (!std::filesystem::exists(dir + "/features.h5"))
    extract::run(testkit::make_config(dir, {"extract.images=" + manifest, "extract.network=inception_v3",
                                            "extract.layers=" + list, "threads=0"}),
                 MPI_COMM_WORLD);
  const auto fm = extract::FeatureModel::from_features_file(dir + "/features.h5", layers, "cpu");
  std::vector<at::Tensor> x;
  for (const auto& im : imgs) x.push_back(reconstruct::image_tensor(im, fm.input_size()));
  reconstruct::MatchTargets t;
  t.layers = layers;
  {
    at::NoGradGuard g;
    const auto f = fm.layer_features(fm.normalize(at::stack(x)));
    for (const auto& l : layers) t.features.push_back(f.at(l));
  }
  reconstruct::OptimizerOptions o;
  o.image_size = 128;
  o.iterations = iterations;
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = reconstruct::optimize_images(fm, t, o, nullptr, 1);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "threads %d, batch %d, %d iterations, layers %s: %.2f s, %.3f s per image-iteration; loss %.4g -> "
      "%.4g\n",
      omp_get_max_threads(), batch, iterations, list.c_str(), s, s / (batch * iterations),
      res.loss.select(1, 0).mean().item<double>(), res.loss.select(1, iterations - 1).mean().item<double>());
  MPI_Finalize();
  return 0;
}
