// The decoder search of `deepvox decode` on bench/synth's decode.h5, timed: per stratified fold the
// ascending C grid with warm starts, then one final fit at the best C (what baselines.py decode runs
// with scikit-learn). Prints one JSON line. Built by tests/decode/CMakeLists.txt (target bench_decode_fits).
// usage: bench_decode_fits DATA_DIR [--tol 1e-6] [--threads T]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "decode/logreg.h"
#include "decode/runner.h"
#include "io/h5.h"

using namespace deepvox;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR [--tol T] [--threads N]\n", argv[0]);
    return 2;
  }
  double tol = 1e-6;
  int threads = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tol")) tol = std::stod(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::stoi(argv[i + 1]);
  }
  at::set_num_threads(threads);
  auto f = h5::File::open(std::string(argv[1]) + "/decode.h5", h5::Mode::Read);
  auto xd = f.dataset("x");
  auto xv = xd.read_all<double>();
  at::Tensor x = at::from_blob(xv.data(), {xd.rows(), xd.cols()}, at::kDouble).clone();
  auto y = f.dataset("y").read_all<std::int64_t>();
  auto grid = f.dataset("c_grid").read_all<double>();
  const std::int64_t folds = f.dataset("folds").read_all<std::int64_t>()[0];
  std::int64_t classes = 0;
  for (auto l : y) classes = std::max(classes, l + 1);

  const auto t0 = std::chrono::steady_clock::now();
  const auto fold = decode::stratified_folds(y, folds);
  std::vector<double> acc(grid.size(), 0.0);
  std::int64_t fits = 0, iterations = 0;
  for (std::int64_t k = 0; k < folds; ++k) {
    std::vector<std::int64_t> tr, va, ytr, yva;
    for (size_t i = 0; i < y.size(); ++i) {
      (fold[i] == k ? va : tr).push_back(static_cast<std::int64_t>(i));
      (fold[i] == k ? yva : ytr).push_back(y[i]);
    }
    at::Tensor xt = x.index_select(0, at::tensor(tr, at::kLong)),
               xva = x.index_select(0, at::tensor(va, at::kLong));
    decode::standardize(xt, xva, true);
    decode::LogRegModel prev;
    for (size_t c = 0; c < grid.size(); ++c) {
      prev = decode::fit_logreg(xt, ytr, classes, {grid[c], 500, tol}, c ? &prev : nullptr);
      const auto pred = decode::predict(prev, xva);
      std::int64_t hits = 0;
      for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == yva[i];
      acc[c] += static_cast<double>(hits) / static_cast<double>(pred.size()) / static_cast<double>(folds);
      ++fits;
      iterations += prev.iterations;
    }
  }
  size_t best = 0;
  for (size_t c = 1; c < grid.size(); ++c)
    if (acc[c] > acc[best]) best = c;
  at::Tensor xs = x.clone(), none = x.narrow(0, 0, 2).clone();
  decode::standardize(xs, none, true);
  auto final_fit = decode::fit_logreg(xs, y, classes, {grid[best], 500, tol});
  ++fits;
  iterations += final_fit.iterations;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"tool\": \"deepvox\", \"fits\": %ld, \"seconds\": %.4f, \"fits_per_s\": %.3f, \"best_C\": %g, "
      "\"iterations\": %ld, \"cv_accuracy\": [",
      static_cast<long>(fits), seconds, fits / seconds, grid[best], static_cast<long>(iterations));
  for (size_t c = 0; c < acc.size(); ++c) std::printf("%s%.4f", c ? ", " : "", acc[c]);
  std::printf("]}\n");
  return 0;
}
