#include "fit/scores.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/config.h"

namespace deepvox::fit {
namespace {

constexpr std::int64_t kColumnChunk = 64;  // columns per OpenMP task: rows stay in order per column
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

Score parse_score(const std::string& name) {
  if (name == "r2") return Score::R2;
  if (name == "pearson") return Score::Pearson;
  if (name == "sse") return Score::Sse;
  throw ConfigError("fit.score must be r2, pearson or sse (got '" + name + "')");
}

const char* score_name(Score s) {
  switch (s) {
    case Score::R2:
      return "r2";
    case Score::Pearson:
      return "pearson";
    default:
      return "sse";
  }
}

template <typename T>
EvalStats eval_stats(const T* y, std::int64_t n, std::int64_t b) {
  EvalStats s;
  s.sum.assign(static_cast<size_t>(b), 0.0);
  s.sst.assign(static_cast<size_t>(b), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < b; ++j) s.sum[j] += y[i * b + j];
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < b; ++j) {
      const double d = y[i * b + j] - s.sum[j] / static_cast<double>(n);
      s.sst[j] += d * d;
    }
  return s;
}

template <typename T>
void accumulate_fold_scores(Score score, const Mat<T>& pred, const T* y, const EvalStats& ys,
                            const std::vector<double>& ybar, std::int64_t n_lambdas, double* acc,
                            std::int64_t acc_stride) {
  const std::int64_t b = pred.cols, n = pred.rows / std::max<std::int64_t>(n_lambdas, 1);
  const std::int64_t chunks = (b + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t j0 = c * kColumnChunk, j1 = std::min(b, j0 + kColumnChunk), w = j1 - j0;
    double sse[kColumnChunk], sp[kColumnChunk], spp[kColumnChunk], spy[kColumnChunk];
    for (std::int64_t l = 0; l < n_lambdas; ++l) {
      std::fill(sse, sse + w, 0.0);
      std::fill(sp, sp + w, 0.0);
      std::fill(spp, spp + w, 0.0);
      std::fill(spy, spy + w, 0.0);
      for (std::int64_t i = 0; i < n; ++i) {
        const T* p = pred.row(l * n + i) + j0;
        const T* yr = y + i * b + j0;
        for (std::int64_t j = 0; j < w; ++j) {
          const double pj = p[j], yj = yr[j];
          const double e = yj - ybar[j0 + j] - pj;
          sse[j] += e * e;
          sp[j] += pj;
          spp[j] += pj * pj;
          spy[j] += pj * yj;
        }
      }
      double* out = acc + l * acc_stride + j0;
      for (std::int64_t j = 0; j < w; ++j) {
        const double sst = ys.sst[j0 + j];
        switch (score) {
          case Score::Sse:
            out[j] += sse[j];
            break;
          case Score::R2:
            out[j] += sst > 0 ? 1.0 - sse[j] / sst : 0.0;
            break;
          case Score::Pearson: {
            const double dn = static_cast<double>(n);
            const double cov = spy[j] - sp[j] * ys.sum[j0 + j] / dn;
            const double varp = spp[j] - sp[j] * sp[j] / dn;
            out[j] += (varp > 0 && sst > 0) ? cov / std::sqrt(varp * sst) : 0.0;
            break;
          }
        }
      }
    }
  }
}

double selection_value(Score score, double accumulated, std::int64_t folds) {
  return score == Score::Sse ? -accumulated : accumulated / static_cast<double>(folds);
}

double reported_score(Score score, double accumulated, std::int64_t folds) {
  return score == Score::Sse ? accumulated : accumulated / static_cast<double>(folds);
}

template <typename T>
void test_scores(const T* pred, const T* y, std::int64_t n, std::int64_t b, double* r, double* r2) {
  const std::int64_t chunks = (b + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t j0 = c * kColumnChunk, j1 = std::min(b, j0 + kColumnChunk);
    for (std::int64_t j = j0; j < j1; ++j) {
      double my = 0, mp = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        my += y[i * b + j];
        mp += pred[i * b + j];
      }
      my /= static_cast<double>(n);
      mp /= static_cast<double>(n);
      double syy = 0, spp = 0, spy = 0, sse = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const double dy = y[i * b + j] - my, dp = pred[i * b + j] - mp, e = y[i * b + j] - pred[i * b + j];
        syy += dy * dy;
        spp += dp * dp;
        spy += dp * dy;
        sse += e * e;
      }
      r[j] = (syy > 0 && spp > 0) ? spy / std::sqrt(syy * spp) : kNaN;
      r2[j] = syy > 0 ? 1.0 - sse / syy : kNaN;
    }
  }
}

void noise_ceiling(const float* trials, std::int64_t n_trials, std::int64_t b,
                   const std::vector<std::int64_t>& stimulus, double mean_inv_reps, double* ncsnr,
                   double* ceiling_r) {
  // Trials grouped by stimulus, in trial order (fixed summation order).
  std::map<std::int64_t, std::vector<std::int64_t>> by_stimulus;
  std::vector<std::int64_t> used;
  for (std::int64_t t = 0; t < n_trials; ++t)
    if (stimulus[static_cast<size_t>(t)] >= 0) {
      by_stimulus[stimulus[static_cast<size_t>(t)]].push_back(t);
      used.push_back(t);
    }
  std::vector<const std::vector<std::int64_t>*> repeated;
  for (const auto& [s, ts] : by_stimulus)
    if (ts.size() >= 2) repeated.push_back(&ts);
#pragma omp parallel for schedule(static)
  for (std::int64_t j = 0; j < b; ++j) {
    if (repeated.empty() || used.size() < 2) {
      ncsnr[j] = ceiling_r[j] = kNaN;
      continue;
    }
    double noise = 0;
    for (const auto* ts : repeated) {
      double m = 0;
      for (auto t : *ts) m += trials[t * b + j];
      m /= static_cast<double>(ts->size());
      double v = 0;
      for (auto t : *ts) v += (trials[t * b + j] - m) * (trials[t * b + j] - m);
      noise += v / static_cast<double>(ts->size() - 1);
    }
    noise /= static_cast<double>(repeated.size());
    double m = 0;
    for (auto t : used) m += trials[t * b + j];
    m /= static_cast<double>(used.size());
    double total = 0;
    for (auto t : used) total += (trials[t * b + j] - m) * (trials[t * b + j] - m);
    total /= static_cast<double>(used.size() - 1);
    const double signal = std::max(0.0, total - noise);
    if (noise <= 0) {
      ncsnr[j] = signal > 0 ? std::numeric_limits<double>::infinity() : kNaN;
      ceiling_r[j] = signal > 0 ? 1.0 : kNaN;
      continue;
    }
    const double snr2 = signal / noise;
    ncsnr[j] = std::sqrt(snr2);
    ceiling_r[j] = std::sqrt(snr2 / (snr2 + mean_inv_reps));
  }
}

#define DEEPVOX_FIT_INSTANTIATE(T)                                                                          \
  template EvalStats eval_stats<T>(const T*, std::int64_t, std::int64_t);                                   \
  template void accumulate_fold_scores<T>(Score, const Mat<T>&, const T*, const EvalStats&,                 \
                                          const std::vector<double>&, std::int64_t, double*, std::int64_t); \
  template void test_scores<T>(const T*, const T*, std::int64_t, std::int64_t, double*, double*);
DEEPVOX_FIT_INSTANTIATE(float)
DEEPVOX_FIT_INSTANTIATE(double)
#undef DEEPVOX_FIT_INSTANTIATE

}  // namespace deepvox::fit
