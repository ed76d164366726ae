#include "decode/runner.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>

#include "core/log.h"
#include "core/mpi.h"
#include "decode/logreg.h"
#include "synth/gather.h"

namespace deepvox::decode {

at::Tensor DataStore::take(DataKind kind, const std::vector<std::int64_t>& rows,
                           const std::vector<std::int64_t>& voxels) const {
  const at::Tensor& source = kind == DataKind::Real        ? real
                             : kind == DataKind::Synthetic ? synthetic
                                                           : holdout;
  auto r = at::tensor(rows, at::kLong), v = at::tensor(voxels, at::kLong);
  return at::nan_to_num(source.index_select(0, r).index_select(1, v).to(at::kDouble), 0.0);
}

DataStore load_data(const synth::Responses& responses, const SyntheticMeta& synthetic, const Plan& plan) {
  DataStore d;
  const std::int64_t S = static_cast<std::int64_t>(responses.ids.size()), V = responses.n_voxels;
  std::vector<std::int64_t> all(static_cast<size_t>(S));
  std::iota(all.begin(), all.end(), 0);
  auto real = responses.responses(all);
  d.real = at::from_blob(real.data(), {S, V}, at::kFloat).clone();
  bool need_holdout = false;
  for (const auto& j : plan.jobs) need_holdout |= j.kind == DataKind::Holdout;
  auto f = h5::File::open(synthetic.path, h5::Mode::Read);
  auto read = [&](const std::string& name) {
    at::Tensor t = at::empty({synthetic.rows, V}, at::kFloat);
    f.dataset(name).read_block<float>({0, synthetic.rows, 0, V}, t.data_ptr<float>());
    return t;
  };
  d.synthetic = read("responses");
  if (need_holdout) d.holdout = read("holdout/responses");
  return d;
}

void standardize(at::Tensor& train, at::Tensor& test, bool per_set) {
  auto stats = [](const at::Tensor& x) {
    auto mean = x.mean(0, true);
    auto sd = (x - mean).pow(2).mean(0, true).sqrt();
    return std::make_pair(mean, at::where(sd > 0, 1.0 / sd, at::zeros_like(sd)));
  };
  auto [mean, inv] = stats(train);
  train = (train - mean) * inv;
  if (per_set && test.size(0) > 1) std::tie(mean, inv) = stats(test);
  test = (test - mean) * inv;
}

std::vector<std::int64_t> stratified_folds(const std::vector<std::int64_t>& labels, std::int64_t folds) {
  std::map<std::int64_t, std::int64_t> seen;
  std::vector<std::int64_t> out;
  for (auto l : labels) out.push_back(seen[l]++ % folds);
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

// Tasks to ranks: longest first onto the least loaded rank. Only the speed depends on it.
std::vector<int> assign(const std::vector<double>& cost, int ranks) {
  std::vector<size_t> order(cost.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<size_t>(ranks), 0);
  std::vector<int> owner(cost.size(), 0);
  for (auto t : order) {
    const auto r = std::min_element(load.begin(), load.end()) - load.begin();
    owner[t] = static_cast<int>(r);
    load[static_cast<size_t>(r)] += cost[t];
  }
  return owner;
}

// A decoder over the classes present in its training labels (category indices in and out).
struct Fitted {
  LogRegModel model;
  std::vector<std::int64_t> classes;  // local -> category
};
Fitted fit(const at::Tensor& x, const std::vector<std::int64_t>& labels, double c, const Options& opt,
           const Fitted* warm) {
  Fitted f;
  f.classes = labels;
  std::sort(f.classes.begin(), f.classes.end());
  f.classes.erase(std::unique(f.classes.begin(), f.classes.end()), f.classes.end());
  std::vector<std::int64_t> local;
  for (auto l : labels)
    local.push_back(std::lower_bound(f.classes.begin(), f.classes.end(), l) - f.classes.begin());
  const bool same_classes = warm && warm->classes == f.classes;
  f.model = fit_logreg(x, local, static_cast<std::int64_t>(f.classes.size()), {c, opt.max_iter, opt.tol},
                       same_classes ? &warm->model : nullptr);
  return f;
}
std::vector<std::int64_t> predict(const Fitted& f, const at::Tensor& x) {
  auto local = decode::predict(f.model, x);
  for (auto& l : local) l = f.classes[static_cast<size_t>(l)];
  return local;
}

std::vector<std::int64_t> subset(const std::vector<std::int64_t>& v, const std::vector<std::int64_t>& idx) {
  std::vector<std::int64_t> out;
  for (auto i : idx) out.push_back(v[static_cast<size_t>(i)]);
  return out;
}

}  // namespace

std::vector<JobResult> run_jobs(const Plan& plan, const DataStore& data, const Options& opt, MPI_Comm comm) {
  c10::InferenceMode guard;
  const int my_rank = rank(comm), ranks = size(comm);
  const auto n_jobs = static_cast<std::int64_t>(plan.jobs.size());
  const std::int64_t F = opt.cv_folds, n_c = static_cast<std::int64_t>(opt.c_grid.size());
  auto voxels_of = [&](const Job& j) {
    return static_cast<double>(plan.rois[static_cast<size_t>(j.roi)].voxels.size());
  };

  // Phase 1: cross-validation of C, one task per (job, fold).
  auto t0 = Clock::now();
  std::vector<double> cost1;
  for (const auto& j : plan.jobs)
    for (std::int64_t f = 0; f < F; ++f) cost1.push_back(j.cost() * voxels_of(j));
  const auto owner1 = assign(cost1, ranks);
  std::vector<std::pair<std::int64_t, synth::Bytes>> mine;
  for (std::int64_t t = 0; t < n_jobs * F; ++t) {
    if (owner1[static_cast<size_t>(t)] != my_rank) continue;
    const Job& j = plan.jobs[static_cast<size_t>(t / F)];
    const std::int64_t fold = t % F;
    const auto& voxels = plan.rois[static_cast<size_t>(j.roi)].voxels;
    at::Tensor x = data.take(j.kind, j.train_rows, voxels);
    const auto folds = stratified_folds(j.train_labels, F);
    std::vector<std::int64_t> tr, va;
    for (size_t i = 0; i < folds.size(); ++i)
      (folds[i] == fold ? va : tr).push_back(static_cast<std::int64_t>(i));
    std::vector<double> acc(static_cast<size_t>(n_c), 0.0);
    if (!va.empty() && !tr.empty()) {
      at::Tensor xtr = x.index_select(0, at::tensor(tr, at::kLong)),
                 xva = x.index_select(0, at::tensor(va, at::kLong));
      standardize(xtr, xva, opt.standardize_per_set);
      const auto ytr = subset(j.train_labels, tr), yva = subset(j.train_labels, va);
      Fitted prev;
      for (std::int64_t c = 0; c < n_c; ++c) {
        prev = fit(xtr, ytr, opt.c_grid[static_cast<size_t>(c)], opt, c ? &prev : nullptr);
        const auto pred = predict(prev, xva);
        std::int64_t hits = 0;
        for (size_t i = 0; i < pred.size(); ++i) hits += pred[i] == yva[i];
        acc[static_cast<size_t>(c)] = static_cast<double>(hits) / static_cast<double>(pred.size());
      }
    }
    synth::Bytes b;
    synth::put(b, acc);
    mine.emplace_back(t, std::move(b));
  }
  auto cv = synth::allgather_chunks(mine, n_jobs * F, comm);
  std::vector<JobResult> results(static_cast<size_t>(n_jobs));
  for (std::int64_t jdx = 0; jdx < n_jobs; ++jdx) {
    auto& r = results[static_cast<size_t>(jdx)];
    r.cv_accuracy.assign(static_cast<size_t>(n_c), 0.0);
    for (std::int64_t f = 0; f < F; ++f) {
      synth::Reader rd(cv[static_cast<size_t>(jdx * F + f)]);
      auto acc = rd.vec<double>();
      for (std::int64_t c = 0; c < n_c; ++c)
        r.cv_accuracy[static_cast<size_t>(c)] += acc[static_cast<size_t>(c)] / F;
    }
    // Best mean validation accuracy; a tie goes to the smaller C (the stronger penalty).
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < n_c; ++c)
      if (r.cv_accuracy[static_cast<size_t>(c)] > r.cv_accuracy[static_cast<size_t>(best)]) best = c;
    r.c = opt.c_grid[static_cast<size_t>(best)];
    r.best_cv_accuracy = r.cv_accuracy[static_cast<size_t>(best)];
  }
  const double t_cv = std::chrono::duration<double>(Clock::now() - t0).count();

  // Phase 2: final fit per job at its C, scored on the real test set; the template baseline beside it.
  t0 = Clock::now();
  std::vector<double> cost2;
  for (const auto& j : plan.jobs) cost2.push_back(j.cost() * voxels_of(j));
  const auto owner2 = assign(cost2, ranks);
  mine.clear();
  for (std::int64_t jdx = 0; jdx < n_jobs; ++jdx) {
    if (owner2[static_cast<size_t>(jdx)] != my_rank) continue;
    const Job& j = plan.jobs[static_cast<size_t>(jdx)];
    const auto& voxels = plan.rois[static_cast<size_t>(j.roi)].voxels;
    at::Tensor xtr = data.take(j.kind, j.train_rows, voxels),
               xte = data.take(DataKind::Real, j.test_rows, voxels);
    standardize(xtr, xte, opt.standardize_per_set);
    Fitted f = fit(xtr, j.train_labels, results[static_cast<size_t>(jdx)].c, opt, nullptr);
    auto predicted = predict(f, xte);
    auto templates = fit_templates(xtr, j.train_labels, static_cast<std::int64_t>(plan.classes.size()));
    auto predicted_template = predict(templates, xte);
    synth::Bytes b;
    std::int64_t info[3] = {f.model.iterations, f.model.converged ? 1 : 0,
                            static_cast<std::int64_t>(f.classes.size())};
    synth::put(b, info, 3);
    synth::put(b, predicted);
    synth::put(b, predicted_template);
    mine.emplace_back(jdx, std::move(b));
  }
  auto final_results = synth::allgather_chunks(mine, n_jobs, comm);
  std::int64_t not_converged = 0;
  for (std::int64_t jdx = 0; jdx < n_jobs; ++jdx) {
    auto& r = results[static_cast<size_t>(jdx)];
    synth::Reader rd(final_results[static_cast<size_t>(jdx)]);
    std::int64_t info[3];
    rd.get(info, 3);
    r.iterations = info[0];
    r.converged = info[1] != 0;
    r.n_classes = info[2];
    r.predicted = rd.vec<std::int64_t>();
    r.predicted_template = rd.vec<std::int64_t>();
    not_converged += !r.converged;
  }
  const double t_final = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto fits = n_jobs * F * n_c + n_jobs;
  log::info(
      "decode: {} decoder jobs, {} logistic fits in {:.1f} s ({:.1f} fits/s over {} ranks: CV {:.1f} s, "
      "final "
      "{:.1f} s)",
      n_jobs, fits, t_cv + t_final, static_cast<double>(fits) / std::max(1e-9, t_cv + t_final), ranks, t_cv,
      t_final);
  if (not_converged)
    log::warn(
        "decode: {} final fits stopped at decode.max_iter = {} before the gradient fell below decode.tol",
        not_converged, opt.max_iter);
  return results;
}

}  // namespace deepvox::decode
