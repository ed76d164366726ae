#include "maximize/readout.h"

#include <algorithm>
#include <stdexcept>

#include "core/config.h"
#include "core/mpi.h"
#include "io/h5.h"

namespace deepvox::maximize {
namespace {

constexpr std::int64_t kRowBlock = 256;  // feature rows per read (fixed: results never depend on it anyway)

std::runtime_error input_error(const std::string& path, const std::string& what) {
  return std::runtime_error(path + ": " + what);
}

}  // namespace

namespace {
template <typename T>
void allreduce_sum(std::vector<T>& values, MPI_Datatype type, MPI_Comm comm) {
  // In pieces: MPI counts are int.
  constexpr size_t kPiece = size_t{1} << 28;
  for (size_t i = 0; i < values.size(); i += kPiece) {
    const auto n = static_cast<int>(std::min(kPiece, values.size() - i));
    MPI_Allreduce(MPI_IN_PLACE, values.data() + i, n, type, MPI_SUM, comm);
  }
}
}  // namespace

void share_disjoint(std::vector<double>& values, MPI_Comm comm) {
  for (auto& v : values)
    if (v == 0) v = 0.0;  // -0.0 -> +0.0
  allreduce_sum(values, MPI_DOUBLE, comm);
}

void share_disjoint(std::vector<float>& values, MPI_Comm comm) {
  for (auto& v : values)
    if (v == 0) v = 0.0f;
  allreduce_sum(values, MPI_FLOAT, comm);
}

void share_disjoint(std::vector<std::uint8_t>& values, MPI_Comm comm) {
  allreduce_sum(values, MPI_UNSIGNED_CHAR, comm);
}

VoxelInfo read_voxel_info(const std::string& responses_path, const std::string& model_path) {
  VoxelInfo info;
  auto model = h5::File::open(model_path, h5::Mode::Read);
  if (!model.exists("weights"))
    throw input_error(model_path, "has no /weights (was it written by deepvox fit?)");
  info.n_voxels = model.dataset("weights").cols();
  if (model.exists("voxels/test_r")) info.test_r = model.dataset("voxels/test_r").read_all<float>();

  auto resp = h5::File::open(responses_path, h5::Mode::Read);
  if (resp.exists("rois") && resp.is_group("rois")) {
    auto rois = resp.group("rois");
    for (const auto& name : rois.children()) {
      if (rois.is_group(name)) continue;
      auto mask = rois.dataset(name).read_all<std::uint8_t>();
      if (static_cast<std::int64_t>(mask.size()) != info.n_voxels)
        throw input_error(responses_path, "/rois/" + name + " has " + std::to_string(mask.size()) +
                                              " voxels but model.h5 /weights has " +
                                              std::to_string(info.n_voxels));
      info.roi_names.push_back(name);
      info.roi_masks.push_back(std::move(mask));
    }
  }
  if (resp.exists("voxels/valid")) {
    info.valid = resp.dataset("voxels/valid").read_all<std::uint8_t>();
    if (static_cast<std::int64_t>(info.valid.size()) != info.n_voxels)
      throw input_error(responses_path, "/voxels/valid has " + std::to_string(info.valid.size()) +
                                            " voxels but model.h5 has " + std::to_string(info.n_voxels));
  }
  if (!info.test_r.empty() && static_cast<std::int64_t>(info.test_r.size()) != info.n_voxels)
    throw input_error(model_path, "/voxels/test_r does not have one entry per voxel");
  return info;
}

LinearReadout fold_model(const std::string& model_path, const std::vector<Target>& targets, MPI_Comm comm) {
  auto f = h5::File::open(model_path, h5::Mode::Read);
  for (const char* name :
       {"weights", "intercept", "features/mean", "features/scale", "layers/names", "layers/offset"})
    if (!f.exists(name)) throw input_error(model_path, std::string("has no /") + name);
  LinearReadout r;
  r.layers = f.dataset("layers/names").read_strings();
  auto offset = f.dataset("layers/offset").read_all<std::int64_t>();
  auto weights = f.dataset("weights");
  const std::int64_t P = weights.rows(), V = weights.cols();
  if (offset.size() != r.layers.size() + 1 || offset.front() != 0 || offset.back() != P)
    throw input_error(model_path,
                      "/layers/offset does not cut the " + std::to_string(P) + " feature columns");
  for (size_t l = 0; l < r.layers.size(); ++l) r.dims.push_back(offset[l + 1] - offset[l]);
  r.dim = P;
  r.n_targets = static_cast<std::int64_t>(targets.size());
  const auto T = static_cast<size_t>(r.n_targets);
  auto mean = f.dataset("features/mean").read_all<float>();
  auto scale = f.dataset("features/scale").read_all<float>();
  auto intercept = f.dataset("intercept").read_all<float>();
  if (static_cast<std::int64_t>(mean.size()) != P || static_cast<std::int64_t>(scale.size()) != P ||
      static_cast<std::int64_t>(intercept.size()) != V)
    throw input_error(model_path, "/features/mean, /features/scale or /intercept has the wrong length");

  // A = W c / scale, rows of W in fixed blocks; each row is computed whole by one rank.
  std::vector<double> a(static_cast<size_t>(P) * T, 0.0);
  const auto blocks = chunks(P, kRowBlock);
  std::vector<float> buf;
  for (auto b : my_chunks(static_cast<std::int64_t>(blocks.size()), rank(comm), size(comm))) {
    const Range rows = blocks[static_cast<size_t>(b)];
    buf.resize(static_cast<size_t>(rows.size() * V));
    weights.read_block<float>({rows.begin, rows.size(), 0, V}, buf.data());
    for (std::int64_t p = rows.begin; p < rows.end; ++p) {
      const float* w = buf.data() + static_cast<size_t>((p - rows.begin) * V);
      const double s = scale[static_cast<size_t>(p)];
      for (size_t t = 0; t < T; ++t) {
        double acc = 0;
        for (const auto& [v, c] : targets[t].coefficients) acc += c * w[v];
        a[static_cast<size_t>(p) * T + t] = s != 0 ? acc / s : 0.0;
      }
    }
  }
  share_disjoint(a, comm);
  r.weights.assign(a.begin(), a.end());
  r.bias.assign(T, 0.0);
  for (size_t t = 0; t < T; ++t) {
    double b = 0;
    for (const auto& [v, c] : targets[t].coefficients) b += c * intercept[static_cast<size_t>(v)];
    // Fold the centring with the float weights actually used, so f . A + bias is exactly the model.
    for (std::int64_t p = 0; p < P; ++p)
      b -= static_cast<double>(mean[static_cast<size_t>(p)]) * r.weights[static_cast<size_t>(p) * T + t];
    r.bias[t] = b;
  }
  r.feature_mean = std::move(mean);
  r.feature_scale = std::move(scale);
  return r;
}

std::vector<double> apply_readout(const LinearReadout& r, const float* features, std::int64_t rows) {
  const auto T = static_cast<size_t>(r.n_targets);
  std::vector<double> out(static_cast<size_t>(rows) * T);
  std::vector<double> acc(T);
  for (std::int64_t i = 0; i < rows; ++i) {
    std::copy(r.bias.begin(), r.bias.end(), acc.begin());
    const float* f = features + static_cast<size_t>(i * r.dim);
    for (std::int64_t p = 0; p < r.dim; ++p) {
      const double x = f[p];
      const float* a = r.weights.data() + static_cast<size_t>(p) * T;
      for (size_t t = 0; t < T; ++t) acc[t] += x * a[t];
    }
    std::copy(acc.begin(), acc.end(), out.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i) * T));
  }
  return out;
}

std::vector<double> natural_objectives(const std::string& features_path, const LinearReadout& r,
                                       MPI_Comm comm) {
  auto f = h5::File::open(features_path, h5::Mode::Read);
  std::vector<h5::Dataset> sets;
  std::int64_t n = -1;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const std::string name = "features/" + r.layers[l];
    if (!f.exists(name)) throw input_error(features_path, "has no /" + name + " (a layer of the model)");
    sets.push_back(f.dataset(name));
    if (sets.back().cols() != r.dims[l])
      throw input_error(features_path, "/" + name + " has " + std::to_string(sets.back().cols()) +
                                           " columns but the model expects " + std::to_string(r.dims[l]));
    if (n >= 0 && sets.back().rows() != n)
      throw input_error(features_path, "layers have different row counts");
    n = sets.back().rows();
  }
  const auto T = static_cast<size_t>(r.n_targets);
  std::vector<double> out(static_cast<size_t>(n) * T, 0.0);
  const auto blocks = chunks(n, kRowBlock);
  std::vector<float> rowbuf, layerbuf;
  for (auto b : my_chunks(static_cast<std::int64_t>(blocks.size()), rank(comm), size(comm))) {
    const Range rows = blocks[static_cast<size_t>(b)];
    rowbuf.assign(static_cast<size_t>(rows.size() * r.dim), 0.0f);
    std::int64_t col = 0;
    for (size_t l = 0; l < sets.size(); ++l) {
      layerbuf.resize(static_cast<size_t>(rows.size() * r.dims[l]));
      sets[l].read_block<float>({rows.begin, rows.size(), 0, r.dims[l]}, layerbuf.data());
      for (std::int64_t i = 0; i < rows.size(); ++i)
        std::copy_n(layerbuf.data() + i * r.dims[l], r.dims[l], rowbuf.data() + i * r.dim + col);
      col += r.dims[l];
    }
    auto obj = apply_readout(r, rowbuf.data(), rows.size());
    std::copy(obj.begin(), obj.end(),
              out.begin() + static_cast<std::ptrdiff_t>(rows.begin * static_cast<std::int64_t>(T)));
  }
  share_disjoint(out, comm);
  return out;
}

}  // namespace deepvox::maximize
