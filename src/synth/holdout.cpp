#include "synth/holdout.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <map>
#include <set>

#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "synth/analysis.h"
#include "synth/gather.h"

namespace deepvox::synth {

namespace {
constexpr std::int64_t kKernelRows = 256;
constexpr std::int64_t kVoxelBlock = 1024;

// Runs fn(chunk) for this rank's chunks and returns every chunk's tensor on every rank, in chunk order.
template <typename Fn>
std::vector<at::Tensor> gather_tensors(std::int64_t n_chunks, MPI_Comm comm, Fn fn) {
  std::vector<std::pair<std::int64_t, Bytes>> mine;
  for (auto c : my_chunks(n_chunks, rank(comm), size(comm))) {
    at::Tensor t = fn(c).contiguous();
    Bytes b;
    std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    put(b, shape);
    put(b, t.data_ptr<float>(), static_cast<size_t>(t.numel()));
    mine.emplace_back(c, std::move(b));
  }
  auto all = allgather_chunks(mine, n_chunks, comm);
  std::vector<at::Tensor> out;
  for (const auto& b : all) {
    Reader rd(b);
    auto shape = rd.vec<std::int64_t>();
    at::Tensor t = at::empty(shape, at::kFloat);
    rd.get(t.data_ptr<float>(), static_cast<size_t>(t.numel()));
    out.push_back(t);
  }
  return out;
}
}  // namespace

HoldoutModel HoldoutModel::fit(const EncodingModel& model, const std::string& features_path,
                               const Responses& responses, const std::vector<std::string>& held_out,
                               MPI_Comm comm) {
  HoldoutModel h;
  h.categories_ = held_out;
  if (model.lambda().size() != static_cast<size_t>(model.n_voxels()))
    throw ConfigError("the unseen-categories model needs one lambda per voxel (/voxels/lambda [V]) in " +
                      model.path() + "; set synth.holdout_count: 0 for a banded fit");
  const std::set<std::string> excluded(held_out.begin(), held_out.end());
  std::map<std::string, std::int64_t> feature_row;
  {
    auto f = h5::File::open(features_path, h5::Mode::Read);
    auto ids = f.dataset("stimulus_ids").read_strings();
    for (size_t i = 0; i < ids.size(); ++i) feature_row[ids[i]] = static_cast<std::int64_t>(i);
  }
  std::vector<std::int64_t> stimuli, rows;
  for (auto s : responses.train) {
    const auto c = responses.category[static_cast<size_t>(s)];
    if (c >= 0 && excluded.count(responses.category_names[static_cast<size_t>(c)])) continue;
    auto it = feature_row.find(responses.ids[static_cast<size_t>(s)]);
    if (it == feature_row.end()) continue;
    stimuli.push_back(s);
    rows.push_back(it->second);
  }
  const auto n = static_cast<std::int64_t>(rows.size());
  const std::int64_t V = model.n_voxels();
  if (n < 2) throw ConfigError("too few training stimuli outside the held-out categories to refit the model");
  c10::InferenceMode guard;

  // 1. Features z-scored with the statistics of the remaining training stimuli (ddof 0, as fit does).
  at::Tensor x = read_model_features(features_path, model, rows);
  auto xd = x.to(at::kDouble);
  auto mean = xd.mean(0), var = (xd - mean).pow(2).mean(0);
  h.mean_ = mean.to(at::kFloat);
  h.inv_std_ = at::where(var > 0, var.rsqrt(), at::zeros_like(var)).to(at::kFloat);
  xd.reset();
  h.xz_ = (x - h.mean_) * h.inv_std_;
  x.reset();

  // 2. Kernel X X^T by row blocks, then its eigendecomposition (identical input on every rank).
  const auto row_blocks = chunks(n, kKernelRows);
  auto kernel_parts = gather_tensors(static_cast<std::int64_t>(row_blocks.size()), comm, [&](std::int64_t c) {
    const Range r = row_blocks[static_cast<size_t>(c)];
    return at::mm(h.xz_.narrow(0, r.begin, r.size()), h.xz_.t());
  });
  at::Tensor kernel = at::cat(kernel_parts, 0).to(at::kDouble);
  kernel = (kernel + kernel.t()) / 2;
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(kernel);
  eigenvalues = eigenvalues.clamp_min(0);

  // 3. Dual coefficients per voxel block: U diag(1 / (s + lambda_v)) U^T (y_v - mean y_v).
  std::vector<float> y = responses.responses(stimuli);
  at::Tensor yt = at::from_blob(y.data(), {n, V}, at::kFloat).to(at::kDouble);
  at::Tensor ymean = yt.mean(0);
  at::Tensor yc = yt - ymean;
  const auto voxel_blocks = chunks(V, kVoxelBlock);
  auto dual_parts = gather_tensors(static_cast<std::int64_t>(voxel_blocks.size()), comm, [&](std::int64_t c) {
    const Range b = voxel_blocks[static_cast<size_t>(c)];
    at::Tensor lam = at::empty({b.size()}, at::kDouble);
    at::Tensor keep = at::empty({b.size()}, at::kDouble);
    for (std::int64_t j = 0; j < b.size(); ++j) {
      const double l = model.lambda()[static_cast<size_t>(b.begin + j)];
      const bool ok = std::isfinite(l) && l > 0 && responses.valid[static_cast<size_t>(b.begin + j)];
      lam[j] = ok ? l : 1.0;
      keep[j] = ok ? 1.0 : 0.0;
    }
    at::Tensor q = at::mm(eigenvectors.t(), at::nan_to_num(yc.narrow(1, b.begin, b.size()), 0.0));
    q = q / (eigenvalues.unsqueeze(1) + lam.unsqueeze(0)) * keep.unsqueeze(0);
    return at::mm(eigenvectors, q).to(at::kFloat);
  });
  h.dual_ = at::cat(dual_parts, 1);
  at::Tensor intercept = at::nan_to_num(ymean, 0.0).to(at::kFloat);
  for (std::int64_t v = 0; v < V; ++v)
    if (!responses.valid[static_cast<size_t>(v)]) intercept[v] = model.intercept()[static_cast<size_t>(v)];
  h.intercept_ = intercept;
  log::info("synth: unseen-categories model refitted on {} training stimuli without {} held-out categories",
            n, held_out.size());
  return h;
}

at::Tensor HoldoutModel::predict(const at::Tensor& features) const {
  at::Tensor z = (features - mean_) * inv_std_;
  return at::addmm(intercept_, at::mm(z, xz_.t()), dual_);
}

}  // namespace deepvox::synth
