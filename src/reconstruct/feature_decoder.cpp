#include "reconstruct/feature_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "fit/blas.h"
#include "fit/folds.h"
#include "fit/ridge_solver.h"
#include "reconstruct/identification.h"

namespace deepvox::reconstruct {
namespace {

using fit::Mat;

std::vector<std::int64_t> iota(std::int64_t n, std::int64_t start = 0) {
  std::vector<std::int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

// dst = src[rows, :].
Mat<float> take_rows(const Mat<float>& src, const std::vector<std::int64_t>& rows) {
  Mat<float> dst(static_cast<std::int64_t>(rows.size()), src.cols);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(src.row(rows[i]), src.cols, dst.row(static_cast<std::int64_t>(i)));
  return dst;
}

// Subtracts the column means (in double) and returns them.
std::vector<double> center(Mat<float>& y) {
  std::vector<double> mean(static_cast<size_t>(y.cols), 0.0);
  if (y.rows == 0) return mean;
  for (std::int64_t i = 0; i < y.rows; ++i)
    for (std::int64_t j = 0; j < y.cols; ++j) mean[j] += y(i, j);
  for (auto& m : mean) m /= static_cast<double>(y.rows);
  for (std::int64_t i = 0; i < y.rows; ++i)
    for (std::int64_t j = 0; j < y.cols; ++j) y(i, j) = static_cast<float>(y(i, j) - mean[j]);
  return mean;
}

// One cross-validation fold: its rows and the solver's basis and lambda predictor.
struct FoldModel {
  fit::FoldRows rows;
  std::unique_ptr<fit::Basis<float>> basis;
  std::unique_ptr<fit::LambdaPredictor<float>> predictor;
};

// Results of one chunk of targets, packed as floats for the broadcast:
// test (n_test x b), truth (n_test x b), lambda index, cv score, train mean, train sd (b each).
std::vector<float> solve_chunk(const DecodeDesign& d, const std::vector<FoldModel>& folds,
                               const fit::Basis<float>& full, const Mat<float>& y) {
  const std::int64_t b = y.cols, L = static_cast<std::int64_t>(d.lambdas.size()), nt = d.n_train,
                     ne = d.n_test;
  Mat<float> ytrain = take_rows(y, iota(nt)), ytest = take_rows(y, iota(ne, nt));

  // Cross-validation scores of every lambda for every target of the chunk.
  std::vector<double> acc(static_cast<size_t>(L * b), 0.0);
  Mat<float> pred;
  for (const auto& f : folds) {
    Mat<float> yt = take_rows(ytrain, f.rows.train), yv = take_rows(ytrain, f.rows.eval);
    const std::vector<double> ybar = center(yt);
    const fit::EvalStats stats = fit::eval_stats(yv.data(), yv.rows, b);
    f.predictor->predict(yt.data(), b, b, pred);
    fit::accumulate_fold_scores(d.score, pred, yv.data(), stats, ybar, L, acc.data(), b);
  }
  std::vector<float> out(static_cast<size_t>(2 * ne * b + 4 * b));
  float* test = out.data();
  float* truth = test + ne * b;
  float* lambda_index = truth + ne * b;
  float* cv = lambda_index + b;
  float* mean = cv + b;
  float* sd = mean + b;
  std::vector<double> lambda(static_cast<size_t>(b));
  for (std::int64_t j = 0; j < b; ++j) {
    // Best lambda; a tie goes to the larger one (decisions.md).
    std::int64_t best = 0;
    double best_v = -std::numeric_limits<double>::infinity();
    for (std::int64_t l = 0; l < L; ++l) {
      const double v = fit::selection_value(d.score, acc[l * b + j], d.n_folds);
      if (v >= best_v) {
        best_v = v;
        best = l;
      }
    }
    lambda[j] = d.lambdas[best];
    lambda_index[j] = static_cast<float>(best);
    cv[j] = static_cast<float>(fit::reported_score(d.score, acc[best * b + j], d.n_folds));
  }

  // Refit on every training stimulus, predict the test stimuli.
  Mat<float> yc = ytrain;
  const std::vector<double> ybar = center(yc);
  fit::refit_block<float>(full, yc.data(), b, b, lambda.data(), nullptr, test);
  for (std::int64_t i = 0; i < ne; ++i)
    for (std::int64_t j = 0; j < b; ++j) test[i * b + j] = static_cast<float>(test[i * b + j] + ybar[j]);
  std::copy(ytest.v.begin(), ytest.v.end(), truth);
  for (std::int64_t j = 0; j < b; ++j) {
    double ss = 0;
    for (std::int64_t i = 0; i < nt; ++i) ss += static_cast<double>(yc(i, j)) * yc(i, j);
    mean[j] = static_cast<float>(ybar[j]);
    sd[j] = static_cast<float>(std::sqrt(ss / std::max<std::int64_t>(nt, 1)));
  }
  return out;
}

}  // namespace

DecodeDesign make_design(Mat<float> responses, std::int64_t n_train, std::int64_t folds,
                         std::vector<double> lambdas, fit::Score score) {
  DecodeDesign d;
  d.n_train = n_train;
  d.n_test = responses.rows - n_train;
  if (n_train < 2 || d.n_test < 0) throw std::invalid_argument("decoding needs at least 2 training stimuli");
  if (lambdas.empty()) throw std::invalid_argument("decoding needs at least one lambda");
  for (double l : lambdas)
    if (!(l > 0)) throw std::invalid_argument("every lambda must be positive");
  std::sort(lambdas.begin(), lambdas.end());
  const std::int64_t v = responses.cols;
  for (std::int64_t j = 0; j < v; ++j) {
    double m = 0, ss = 0;
    for (std::int64_t i = 0; i < n_train; ++i) m += responses(i, j);
    m /= static_cast<double>(n_train);
    for (std::int64_t i = 0; i < n_train; ++i) ss += (responses(i, j) - m) * (responses(i, j) - m);
    const double sd = std::sqrt(ss / static_cast<double>(n_train));
    for (std::int64_t i = 0; i < responses.rows; ++i)
      responses(i, j) = sd > 0 ? static_cast<float>((responses(i, j) - m) / sd) : 0.0f;
  }
  d.x = std::move(responses);
  d.folds = fit::contiguous_folds(n_train, folds);
  d.n_folds = folds;
  d.lambdas = std::move(lambdas);
  d.score = score;
  return d;
}

Decoded decode_targets(const DecodeDesign& d, std::int64_t n_targets, std::int64_t block,
                       const TargetLoader& load, MPI_Comm comm, const std::string& label) {
  if (block <= 0) throw std::invalid_argument("decoding: the target block must be positive");
  const int r = rank(comm), p = size(comm);
  const auto ranges = chunks(n_targets, block);
  const auto n_chunks = static_cast<std::int64_t>(ranges.size());
  std::vector<int> owner(static_cast<size_t>(n_chunks), 0);
  for (int q = 0; q < p; ++q)
    for (auto c : my_chunks(n_chunks, q, p)) owner[static_cast<size_t>(c)] = q;
  const auto mine = my_chunks(n_chunks, r, p);

  // Fold bases (every rank that has chunks computes them: they depend on the voxels only).
  std::vector<FoldModel> folds;
  std::unique_ptr<fit::Basis<float>> full;
  const std::vector<std::int64_t> no_bands{0, d.x.cols};
  if (!mine.empty()) {
    for (std::int64_t f = 0; f < d.n_folds; ++f) {
      FoldModel m;
      m.rows = fit::fold_rows(d.folds, f);
      const auto split = fit::make_split(d.x, m.rows.train, m.rows.eval, true, false);
      const auto gram = fit::compute_gram(split, no_bands, false);
      m.basis = std::make_unique<fit::Basis<float>>(fit::decompose(gram, split, no_bands, {1.0}, false));
      m.predictor = std::make_unique<fit::LambdaPredictor<float>>(*m.basis, d.lambdas);
      folds.push_back(std::move(m));
    }
    const auto split = fit::make_split(d.x, iota(d.n_train), iota(d.n_test, d.n_train), true, false);
    const auto gram = fit::compute_gram(split, no_bands, false);
    full = std::make_unique<fit::Basis<float>>(fit::decompose(gram, split, no_bands, {1.0}, false));
  }

  std::vector<std::vector<float>> results(static_cast<size_t>(n_chunks));
  {
    Progress progress("reconstruct: decoding " + label, n_chunks, comm);
    for (auto c : mine) {
      const Range& rg = ranges[static_cast<size_t>(c)];
      Mat<float> y = load(rg.begin, rg.size());
      if (y.rows != d.n_train + d.n_test || y.cols != rg.size())
        throw std::logic_error("decoding: the target loader returned a block of the wrong shape");
      results[static_cast<size_t>(c)] = solve_chunk(d, folds, *full, y);
      progress.add(1);
    }
  }

  // Every chunk to every rank, in chunk order.
  Decoded out;
  const std::int64_t ne = d.n_test, D = n_targets;
  out.test.resize(ne, D);
  out.truth.resize(ne, D);
  out.lambda.assign(static_cast<size_t>(D), 0.0);
  out.cv_score.assign(static_cast<size_t>(D), 0.0f);
  out.train_mean.assign(static_cast<size_t>(D), 0.0f);
  out.train_sd.assign(static_cast<size_t>(D), 0.0f);
  const auto L = static_cast<std::int64_t>(d.lambdas.size());
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    const Range& rg = ranges[static_cast<size_t>(c)];
    const std::int64_t b = rg.size();
    std::vector<float>& buf = results[static_cast<size_t>(c)];
    buf.resize(static_cast<size_t>(2 * ne * b + 4 * b));
    MPI_Bcast(buf.data(), static_cast<int>(buf.size()), MPI_FLOAT, owner[static_cast<size_t>(c)], comm);
    const float* test = buf.data();
    const float* truth = test + ne * b;
    const float* li = truth + ne * b;
    for (std::int64_t i = 0; i < ne; ++i) {
      std::copy_n(test + i * b, b, out.test.row(i) + rg.begin);
      std::copy_n(truth + i * b, b, out.truth.row(i) + rg.begin);
    }
    for (std::int64_t j = 0; j < b; ++j) {
      const auto l = static_cast<std::int64_t>(li[j]);
      out.lambda[rg.begin + j] = d.lambdas[static_cast<size_t>(l)];
      out.cv_score[rg.begin + j] = li[b + j];
      out.train_mean[rg.begin + j] = li[2 * b + j];
      out.train_sd[rg.begin + j] = li[3 * b + j];
      if (l == 0) ++out.at_lower_edge;
      if (l == L - 1) ++out.at_upper_edge;
    }
    std::vector<float>().swap(buf);
  }
  if (L > 1 && (out.at_lower_edge + out.at_upper_edge) * 2 > D)
    log::warn(
        "reconstruct [{}]: the lambda of {} of {} targets is at the low end of the grid and {} at the high "
        "end; "
        "consider widening reconstruct.lambdas",
        label, out.at_lower_edge, D, out.at_upper_edge);
  return out;
}

void rescale_to_training(Decoded& d) {
  const std::int64_t n = d.test.rows, D = d.test.cols;
  if (n < 2) return;
  for (std::int64_t j = 0; j < D; ++j) {
    double m = 0, ss = 0;
    for (std::int64_t i = 0; i < n; ++i) m += d.test(i, j);
    m /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) ss += (d.test(i, j) - m) * (d.test(i, j) - m);
    const double sd = std::sqrt(ss / static_cast<double>(n));
    if (!(sd > 0)) continue;
    for (std::int64_t i = 0; i < n; ++i)
      d.test(i, j) = static_cast<float>((d.test(i, j) - m) / sd * d.train_sd[j] + d.train_mean[j]);
  }
}

std::vector<std::int64_t> select_voxels(const Mat<float>& x, const Mat<float>& targets, std::int64_t keep) {
  const std::int64_t n = x.rows, V = x.cols, m = targets.cols;
  if (targets.rows != n) throw std::invalid_argument("select_voxels: row counts differ");
  if (keep <= 0 || keep >= V) return iota(V);
  // Z-score both sides (ddof 0), then r = Zx^T Zt / n.
  auto zscore = [n](const Mat<float>& a) {
    Mat<float> z = a;
    for (std::int64_t j = 0; j < a.cols; ++j) {
      double mean = 0, ss = 0;
      for (std::int64_t i = 0; i < n; ++i) mean += a(i, j);
      mean /= static_cast<double>(n);
      for (std::int64_t i = 0; i < n; ++i) ss += (a(i, j) - mean) * (a(i, j) - mean);
      const double sd = std::sqrt(ss / static_cast<double>(n));
      for (std::int64_t i = 0; i < n; ++i)
        z(i, j) = sd > 0 ? static_cast<float>((a(i, j) - mean) / sd) : 0.0f;
    }
    return z;
  };
  const Mat<float> zx = zscore(x), zt = zscore(targets);
  Mat<float> r(V, m);
  fit::blas::gemm<float>(true, false, V, m, n, 1.0f / static_cast<float>(n), zx.data(), V, zt.data(), m, 0.0f,
                         r.data(), m);
  std::vector<double> score(static_cast<size_t>(V), 0.0);
  for (std::int64_t v = 0; v < V; ++v) {
    double s = 0;
    for (std::int64_t j = 0; j < m; ++j) s += static_cast<double>(r(v, j)) * r(v, j);
    score[v] = s / static_cast<double>(std::max<std::int64_t>(m, 1));
  }
  std::vector<std::int64_t> order = iota(V);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return score[a] > score[b]; });
  order.resize(static_cast<size_t>(keep));
  std::sort(order.begin(), order.end());
  return order;
}

DecodingScores score_decoding(const Decoded& d) {
  DecodingScores s;
  const std::int64_t n = d.test.rows, D = d.test.cols;
  if (n == 0 || D == 0) return s;
  Mat<float> decoded = d.test, truth = d.truth;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < D; ++j) {
      const float sd = d.train_sd[j] > 0 ? d.train_sd[j] : 1.0f;
      decoded(i, j) = (decoded(i, j) - d.train_mean[j]) / sd;
      truth(i, j) = (truth(i, j) - d.train_mean[j]) / sd;
    }
  std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  double sum = 0;
  for (std::int64_t j = 0; j < D; ++j) {
    for (std::int64_t i = 0; i < n; ++i) {
      a[i] = decoded(i, j);
      b[i] = truth(i, j);
    }
    sum += pearson(a.data(), b.data(), n);
  }
  s.profile_r = sum / static_cast<double>(D);
  const auto r = correlation_matrix(decoded.data(), truth.data(), n, D);
  double diag = 0;
  for (std::int64_t i = 0; i < n; ++i) diag += r[static_cast<size_t>(i * n + i)];
  s.pattern_r = diag / static_cast<double>(n);
  const auto id = pairwise_identification(r, n);
  s.identification = id.accuracy;
  s.identification_p = id.p_value;
  s.identification_perm_p = id.permutation_p;
  return s;
}

}  // namespace deepvox::reconstruct
