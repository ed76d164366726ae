#include "fit/cv_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "fit/cv_checkpoint.h"
#include "fit/folds.h"
#include "fit/ridge_solver.h"

namespace deepvox::fit {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// dst (rows.size() x cols.size()) = src[rows, cols]; cols empty = every column.
template <typename T>
void gather(const Mat<T>& src, const std::vector<std::int64_t>& rows, const std::vector<std::int64_t>& cols,
            Mat<T>& dst) {
  const std::int64_t m = cols.empty() ? src.cols : static_cast<std::int64_t>(cols.size());
  dst.resize(static_cast<std::int64_t>(rows.size()), m);
  for (size_t i = 0; i < rows.size(); ++i) {
    const T* s = src.row(rows[i]);
    T* d = dst.row(static_cast<std::int64_t>(i));
    if (cols.empty()) {
      std::copy_n(s, m, d);
    } else {
      for (std::int64_t j = 0; j < m; ++j) d[j] = s[cols[static_cast<size_t>(j)]];
    }
  }
}

// Column means (in double) subtracted in place; returns them (zeros when not centring).
template <typename T>
std::vector<double> center_columns(Mat<T>& y, bool center) {
  std::vector<double> mean(static_cast<size_t>(y.cols), 0.0);
  if (!center || y.rows == 0) return mean;
  for (std::int64_t i = 0; i < y.rows; ++i)
    for (std::int64_t j = 0; j < y.cols; ++j) mean[j] += y(i, j);
  for (auto& m : mean) m /= static_cast<double>(y.rows);
  for (std::int64_t i = 0; i < y.rows; ++i)
    for (std::int64_t j = 0; j < y.cols; ++j) y(i, j) = static_cast<T>(y(i, j) - mean[j]);
  return mean;
}

std::vector<std::int64_t> iota(std::int64_t n, std::int64_t start = 0) {
  std::vector<std::int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), start);
  return v;
}

template <typename T>
void log_form(const std::string& label, const std::string& split, const SplitDesign<T>& d, const Basis<T>& b,
              const char* predictor) {
  const bool kernel = use_kernel_form(d.train.rows, d.train.cols);
  log::info(
      "fit [{}] {}: {} form ({} training rows, {} features): {} components kept, {} dropped as null{}{}",
      label, split, kernel ? "kernel (dual)" : "primal", d.train.rows, d.train.cols, b.rank(), b.dropped,
      predictor ? ", predictor: " : "", predictor ? predictor : "");
}

// Refit of some columns of a block: weights (p x m, or empty), intercepts and test scores.
template <typename T>
struct ColumnFit {
  Mat<T> weights;
  std::vector<double> intercept, r, r2;
};

template <typename T>
ColumnFit<T> fit_columns(const Problem<T>& prob, const Basis<T>& basis, const SplitDesign<T>& split,
                         const typename ResponseSource<T>::Block& blk, const std::vector<std::int64_t>& cols,
                         const std::vector<double>& lambda, bool want_weights) {
  Mat<T> yc, ytest;
  gather(blk.train, iota(prob.n_train), cols, yc);
  gather(blk.test, iota(prob.n_test), cols, ytest);
  const std::vector<double> ybar = center_columns(yc, prob.intercept);
  const std::int64_t m = yc.cols, p = split.train.cols;
  ColumnFit<T> out;
  if (want_weights) out.weights.resize(p, m);
  Mat<T> pred(prob.n_test, m);
  refit_block(basis, yc.data(), m, m, lambda.data(), want_weights ? out.weights.data() : nullptr,
              pred.data());
  // predict(x) = (xz - shift) w + ybar = xz w + intercept.
  out.intercept = ybar;
  if (want_weights)
    for (std::int64_t i = 0; i < p; ++i) {
      const double s = split.shift[static_cast<size_t>(i)];
      if (s == 0) continue;
      const T* w = out.weights.row(i);
      for (std::int64_t j = 0; j < m; ++j) out.intercept[j] -= s * w[j];
    }
  for (std::int64_t i = 0; i < pred.rows; ++i)
    for (std::int64_t j = 0; j < m; ++j) pred(i, j) = static_cast<T>(pred(i, j) + ybar[j]);
  out.r.assign(static_cast<size_t>(m), kNaN);
  out.r2.assign(static_cast<size_t>(m), kNaN);
  if (prob.n_test > 0) test_scores(pred.data(), ytest.data(), prob.n_test, m, out.r.data(), out.r2.data());
  return out;
}

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

template <typename T>
void broadcast_values(std::vector<T>& v, int root, MPI_Comm comm) {
  constexpr std::int64_t kChunk = std::int64_t(1) << 28;  // MPI counts are int
  for (std::int64_t o = 0; o < static_cast<std::int64_t>(v.size()); o += kChunk) {
    const auto n = static_cast<int>(std::min<std::int64_t>(kChunk, static_cast<std::int64_t>(v.size()) - o));
    MPI_Bcast(v.data() + o, n, mpi_type<T>(), root, comm);
  }
}

// Every rank ends with root's predictor (collective).
template <typename T>
void broadcast(LambdaPredictor<T>& pred, int root, MPI_Comm comm) {
  auto& p = pred.parts();
  std::int64_t dims[7] = {p.hat ? 1 : 0, p.n_e, p.n_t, p.stacked.rows, p.stacked.cols, p.m.rows, p.m.cols};
  MPI_Bcast(dims, 7, MPI_INT64_T, root, comm);
  if (rank(comm) != root) {
    p.hat = dims[0] != 0;
    p.n_e = dims[1];
    p.n_t = dims[2];
    p.stacked.resize(dims[3], dims[4]);
    p.m.resize(dims[5], dims[6]);
  }
  broadcast_values(p.stacked.v, root, comm);
  broadcast_values(p.m.v, root, comm);
}

}  // namespace

template <typename T>
Choice cross_validate(const Problem<T>& prob, ResponseSource<T>& src, const VoxelLayout& layout,
                      CvCheckpoint* checkpoint, std::int64_t fit_index) {
  const std::int64_t nv = layout.local(), L = static_cast<std::int64_t>(prob.lambdas.size());
  const std::int64_t C = static_cast<std::int64_t>(prob.candidates.size());
  // acc[(c * L + l) * nv + j]: score of candidate c, lambda l, local voxel j, summed over folds.
  std::vector<double> acc(static_cast<size_t>(C * L * nv), 0.0);
  Choice ch;
  ch.valid.assign(static_cast<size_t>(nv), 0);
  std::int64_t total_blocks = static_cast<std::int64_t>(src.count());
  MPI_Allreduce(MPI_IN_PLACE, &total_blocks, 1, MPI_INT64_T, MPI_SUM, layout.comm());

  // Tasks (fold, candidate) in fold-major order, so every voxel sums its folds in the same order. With
  // sharing, each round gives one task to each rank, which computes its predictor and broadcasts it.
  const std::int64_t tasks = prob.n_folds * C;
  const int ranks = size(layout.comm()), me = rank(layout.comm());
  const std::int64_t per_round = prob.share_decompositions ? ranks : 1;
  std::int64_t cached_fold = -1;  // the split and Gram of the last fold this rank decomposed
  SplitDesign<T> split;
  SplitGram<T> gram;
  auto predictor_of = [&](std::int64_t task) {
    const std::int64_t f = task / C, c = task % C;
    if (f != cached_fold) {
      const FoldRows rows = fold_rows(prob.folds, f);
      split = make_split(*prob.x, rows.train, rows.eval, prob.intercept, prob.zscore_fold);
      gram = compute_gram(split, prob.band_offset, prob.banded);
      cached_fold = f;
    }
    const Basis<T> basis = decompose(gram, split, prob.band_offset, prob.candidates[c], false);
    LambdaPredictor<T> pred(basis, prob.lambdas);
    if (task == 0)
      log_form(prob.label, "fold 1/" + std::to_string(prob.n_folds), split, basis,
               pred.hat_form() ? "hat matrices" : "factored");
    return pred;
  };
  // Tasks a killed run finished (their sums are in acc now) are skipped.
  const std::int64_t first = checkpoint ? checkpoint->begin(fit_index, tasks, C * L, layout, acc) : 0;
  if (first > 0)
    log::info("fit [{}]: resuming: {} of {} cross-validation tasks were done", prob.label, first, tasks);
  if (first == tasks)
    for (size_t i = 0; i < src.count(); ++i) {
      const auto& blk = src.get(i);
      std::copy(blk.valid.begin(), blk.valid.end(), ch.valid.begin() + (blk.col0 - layout.begin()));
    }
  {
    Progress progress("fit [" + prob.label + "] cross-validation", tasks * total_blocks, layout.comm());
    progress.add_skipped(first * static_cast<std::int64_t>(src.count()));
    Mat<T> yt, yv, pred;
    for (std::int64_t t0 = first; t0 < tasks; t0 += per_round) {
      const std::int64_t t1 = std::min(tasks, t0 + per_round);
      std::vector<LambdaPredictor<T>> preds(static_cast<size_t>(t1 - t0));
      // Every rank computes its task of the round at the same time, then the results are exchanged.
      for (std::int64_t t = t0; t < t1; ++t)
        if (!prob.share_decompositions || t - t0 == me) preds[t - t0] = predictor_of(t);
      if (prob.share_decompositions)
        for (std::int64_t t = t0; t < t1; ++t)
          broadcast(preds[t - t0], static_cast<int>(t - t0), layout.comm());
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t f = t / C, c = t % C;
        const FoldRows rows = fold_rows(prob.folds, f);
        for (size_t i = 0; i < src.count(); ++i) {
          const auto& blk = src.get(i);
          const std::int64_t j0 = blk.col0 - layout.begin();
          if (t == first) std::copy(blk.valid.begin(), blk.valid.end(), ch.valid.begin() + j0);
          gather(blk.train, rows.train, {}, yt);
          gather(blk.train, rows.eval, {}, yv);
          const std::vector<double> ybar = center_columns(yt, prob.intercept);
          const EvalStats stats = eval_stats(yv.data(), yv.rows, yv.cols);
          preds[t - t0].predict(yt.data(), yt.cols, yt.cols, pred);
          accumulate_fold_scores(prob.score, pred, yv.data(), stats, ybar, L, acc.data() + c * L * nv + j0,
                                 nv);
          progress.add(1);
        }
      }
      if (checkpoint) checkpoint->record(t0, t1, layout, acc);
    }
  }

  // Best (candidate, lambda) per voxel; a tie goes to the larger lambda (decisions.md).
  ch.lambda_index.assign(static_cast<size_t>(nv), -1);
  ch.candidate.assign(static_cast<size_t>(nv), -1);
  ch.cv_score.assign(static_cast<size_t>(nv), kNaN);
  for (std::int64_t j = 0; j < nv; ++j) {
    if (!ch.valid[j]) continue;
    double best = -std::numeric_limits<double>::infinity();
    for (std::int64_t c = 0; c < C; ++c) {
      std::int64_t best_l = 0;
      double best_c = -std::numeric_limits<double>::infinity();
      for (std::int64_t l = 0; l < L; ++l) {
        const double v = selection_value(prob.score, acc[(c * L + l) * nv + j], prob.n_folds);
        if (v >= best_c) {
          best_c = v;
          best_l = l;
        }
      }
      if (best_c > best || ch.candidate[j] < 0) {
        best = best_c;
        ch.candidate[j] = static_cast<std::int32_t>(c);
        ch.lambda_index[j] = static_cast<std::int32_t>(best_l);
        ch.cv_score[j] = reported_score(prob.score, acc[(c * L + best_l) * nv + j], prob.n_folds);
      }
    }
    if (ch.lambda_index[j] == 0) ++ch.at_lower_edge;
    if (ch.lambda_index[j] == L - 1) ++ch.at_upper_edge;
  }
  return ch;
}

template <typename T>
RefitResult refit(const Problem<T>& prob, const Choice& choice, ResponseSource<T>& src,
                  const VoxelLayout& layout, const WeightWriter* writer) {
  const std::int64_t nv = layout.local();
  const bool want_weights = writer != nullptr;
  RefitResult res;
  res.intercept.assign(static_cast<size_t>(nv), 0.0);
  res.test_r.assign(static_cast<size_t>(nv), kNaN);
  res.test_r2.assign(static_cast<size_t>(nv), kNaN);

  const SplitDesign<T> split =
      make_split(*prob.x, iota(prob.n_train), iota(prob.n_test, prob.n_train), prob.intercept, false);
  const SplitGram<T> gram = compute_gram(split, prob.band_offset, prob.banded);
  const std::int64_t p = split.train.cols;

  // The lambda of each local voxel (any value for excluded voxels: their columns are zero).
  auto lambda_of = [&](std::int64_t j) {
    const auto l = choice.lambda_index[static_cast<size_t>(j)];
    return prob.lambdas[static_cast<size_t>(std::max<std::int32_t>(l, 0))];
  };
  auto store = [&](std::int64_t j, const ColumnFit<T>& fit, std::int64_t k) {
    if (!choice.valid[static_cast<size_t>(j)]) return;
    res.intercept[j] = fit.intercept[k];
    res.test_r[j] = fit.r[k];
    res.test_r2[j] = fit.r2[k];
  };
  auto to_float = [&](const Mat<T>& w, const std::vector<std::uint8_t>& keep) {
    std::vector<float> out(w.v.size());
    for (std::int64_t i = 0; i < w.rows; ++i)
      for (std::int64_t j = 0; j < w.cols; ++j)
        out[static_cast<size_t>(i * w.cols + j)] =
            keep[static_cast<size_t>(j)] ? static_cast<float>(w(i, j)) : 0.0f;
    return out;
  };

  std::int64_t total_blocks = static_cast<std::int64_t>(src.count());
  MPI_Allreduce(MPI_IN_PLACE, &total_blocks, 1, MPI_INT64_T, MPI_SUM, layout.comm());
  if (!prob.banded) {
    // Plain ridge: one basis; weights stream out block by block (memory stays bounded).
    const Basis<T> basis = decompose(gram, split, prob.band_offset, {1.0}, want_weights);
    log_form<T>(prob.label, "refit", split, basis, nullptr);
    Progress progress("fit [" + prob.label + "] refit", total_blocks, layout.comm());
    for (std::int64_t round = 0; round < layout.rounds(); ++round) {
      if (round >= static_cast<std::int64_t>(src.count())) {
        if (writer) (*writer)(0, 0, nullptr);
        continue;
      }
      const auto& blk = src.get(static_cast<size_t>(round));
      const std::int64_t j0 = blk.col0 - layout.begin();
      std::vector<double> lambda(static_cast<size_t>(blk.cols));
      for (std::int64_t k = 0; k < blk.cols; ++k) lambda[k] = lambda_of(j0 + k);
      const ColumnFit<T> fit = fit_columns(prob, basis, split, blk, {}, lambda, want_weights);
      for (std::int64_t k = 0; k < blk.cols; ++k) store(j0 + k, fit, k);
      if (writer) (*writer)(blk.col0, blk.cols, to_float(fit.weights, blk.valid).data());
      progress.add(1);
    }
    return res;
  }

  // Banded ridge: one basis per band-weight candidate that some local voxel chose; the weights of the
  // rank's voxels are held (p x local voxels) and written once every candidate is done.
  Mat<float> weights(want_weights ? p : 0, want_weights ? nv : 0);
  std::set<std::int32_t> used;
  for (std::int64_t j = 0; j < nv; ++j)
    if (choice.valid[j]) used.insert(choice.candidate[j]);
  for (auto c : used) {
    const Basis<T> basis = decompose(gram, split, prob.band_offset, prob.candidates[c], want_weights);
    for (size_t i = 0; i < src.count(); ++i) {
      const auto [c0, c1] = layout.blocks()[i];
      const std::int64_t j0 = c0 - layout.begin();
      std::vector<std::int64_t> cols;
      std::vector<double> lambda;
      for (std::int64_t k = 0; k < c1 - c0; ++k)
        if (choice.valid[j0 + k] && choice.candidate[j0 + k] == c) {
          cols.push_back(k);
          lambda.push_back(lambda_of(j0 + k));
        }
      if (cols.empty()) continue;
      const auto& blk = src.get(i);
      const ColumnFit<T> fit = fit_columns(prob, basis, split, blk, cols, lambda, want_weights);
      for (size_t k = 0; k < cols.size(); ++k) {
        store(j0 + cols[k], fit, static_cast<std::int64_t>(k));
        if (want_weights)
          for (std::int64_t r = 0; r < p; ++r)
            weights(r, j0 + cols[k]) = static_cast<float>(fit.weights(r, static_cast<std::int64_t>(k)));
      }
    }
  }
  if (writer) {
    std::vector<float> buf;
    for (std::int64_t round = 0; round < layout.rounds(); ++round) {
      if (round >= static_cast<std::int64_t>(src.count())) {
        (*writer)(0, 0, nullptr);
        continue;
      }
      const auto [c0, c1] = layout.blocks()[static_cast<size_t>(round)];
      const std::int64_t j0 = c0 - layout.begin(), b = c1 - c0;
      buf.assign(static_cast<size_t>(p * b), 0.0f);
      for (std::int64_t r = 0; r < p; ++r) std::copy_n(weights.row(r) + j0, b, buf.data() + r * b);
      (*writer)(c0, b, buf.data());
    }
  }
  return res;
}

template Choice cross_validate<float>(const Problem<float>&, ResponseSource<float>&, const VoxelLayout&,
                                      CvCheckpoint*, std::int64_t);
template Choice cross_validate<double>(const Problem<double>&, ResponseSource<double>&, const VoxelLayout&,
                                       CvCheckpoint*, std::int64_t);
template RefitResult refit<float>(const Problem<float>&, const Choice&, ResponseSource<float>&,
                                  const VoxelLayout&, const WeightWriter*);
template RefitResult refit<double>(const Problem<double>&, const Choice&, ResponseSource<double>&,
                                   const VoxelLayout&, const WeightWriter*);

}  // namespace deepvox::fit
