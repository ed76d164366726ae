#include "maximize/independent.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "core/mpi.h"
#include "io/h5.h"

namespace deepvox::maximize {
namespace {

constexpr std::int64_t kRowBlock = 256;

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  if (a.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i], mb += b[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : std::numeric_limits<double>::quiet_NaN();
}

// Rows `wanted` (feature-file rows) of the concatenated layers, [wanted.size(), P] float.
at::Tensor gather_features(const h5::File& f, const std::vector<std::string>& layers,
                           const std::vector<std::int64_t>& wanted, std::vector<std::int64_t>& dims) {
  std::int64_t n = -1, p = 0;
  dims.clear();
  for (const auto& l : layers) {
    if (!f.exists("features/" + l)) throw std::runtime_error("features.h5 has no /features/" + l);
    auto d = f.dataset("features/" + l);
    dims.push_back(d.cols());
    p += d.cols();
    n = d.rows();
  }
  std::map<std::int64_t, std::vector<std::int64_t>> where;  // file row -> output rows
  for (size_t i = 0; i < wanted.size(); ++i) where[wanted[i]].push_back(static_cast<std::int64_t>(i));
  auto x = at::zeros({static_cast<std::int64_t>(wanted.size()), p}, at::kFloat);
  float* out = x.data_ptr<float>();
  std::int64_t col = 0;
  std::vector<float> buf;
  for (size_t l = 0; l < layers.size(); ++l) {
    auto d = f.dataset("features/" + layers[l]);
    for (const auto& rows : chunks(n, kRowBlock)) {
      auto lo = where.lower_bound(rows.begin);
      if (lo == where.end() || lo->first >= rows.end) continue;
      buf.resize(static_cast<size_t>(rows.size() * dims[l]));
      d.read_block<float>({rows.begin, rows.size(), 0, dims[l]}, buf.data());
      for (auto it = lo; it != where.end() && it->first < rows.end; ++it)
        for (auto i : it->second)
          std::copy_n(buf.data() + (it->first - rows.begin) * dims[l], dims[l], out + i * p + col);
    }
    col += dims[l];
  }
  return x;
}

// Target responses y[s, t] = sum_v c_tv R[s, v] for response rows `rows`.
std::vector<std::vector<double>> target_responses(const h5::Dataset& responses,
                                                  const std::vector<std::int64_t>& rows,
                                                  const std::vector<Target>& targets) {
  const std::int64_t v = responses.cols();
  std::vector<std::vector<double>> y(targets.size(), std::vector<double>(rows.size()));
  std::vector<float> row(static_cast<size_t>(v));
  for (size_t i = 0; i < rows.size(); ++i) {
    responses.read_block<float>({rows[i], 1, 0, v}, row.data());
    for (size_t t = 0; t < targets.size(); ++t) {
      double acc = 0;
      for (const auto& [vox, c] : targets[t].coefficients) acc += c * row[static_cast<size_t>(vox)];
      y[t][i] = acc;
    }
  }
  return y;
}

IndependentModel fit_on_root(const std::string& features_path, const std::string& responses_path,
                             const std::vector<std::string>& layers, const std::vector<Target>& targets,
                             std::vector<double> lambdas) {
  auto feat = h5::File::open(features_path, h5::Mode::Read);
  auto resp = h5::File::open(responses_path, h5::Mode::Read);
  for (const char* name : {"responses", "stimulus_ids", "split/train"})
    if (!resp.exists(name)) throw std::runtime_error(responses_path + " has no /" + name);
  auto feature_ids = feat.dataset("stimulus_ids").read_strings();
  auto response_ids = resp.dataset("stimulus_ids").read_strings();
  std::map<std::string, std::int64_t> feature_row;
  for (size_t i = 0; i < feature_ids.size(); ++i) feature_row[feature_ids[i]] = static_cast<std::int64_t>(i);
  auto to_feature_rows = [&](const std::vector<std::int64_t>& response_rows) {
    std::vector<std::int64_t> out;
    for (auto r : response_rows) {
      if (r < 0 || r >= static_cast<std::int64_t>(response_ids.size()))
        throw std::runtime_error(responses_path + ": split row " + std::to_string(r) + " is out of range");
      auto it = feature_row.find(response_ids[static_cast<size_t>(r)]);
      if (it == feature_row.end())
        throw std::runtime_error("stimulus '" + response_ids[static_cast<size_t>(r)] + "' of " +
                                 responses_path + " has no features in " + features_path);
      out.push_back(it->second);
    }
    return out;
  };
  auto train = resp.dataset("split/train").read_all<std::int64_t>();
  std::vector<std::int64_t> test;
  if (resp.exists("split/test")) test = resp.dataset("split/test").read_all<std::int64_t>();
  if (train.size() < 3) throw std::runtime_error(responses_path + ": /split/train has fewer than 3 stimuli");

  IndependentModel m;
  m.n_train = static_cast<std::int64_t>(train.size());
  LinearReadout& r = m.readout;
  r.layers = layers;
  auto x = gather_features(feat, layers, to_feature_rows(train), r.dims);
  r.dim = x.size(1);
  r.n_targets = static_cast<std::int64_t>(targets.size());
  auto responses = resp.dataset("responses");
  auto y_train = target_responses(responses, train, targets);

  // z-score with the training statistics (ddof 0). Double throughout: with more features than stimuli the
  // smallest lambdas nearly interpolate, and the leave-one-out ratios (y - yhat) / (1 - H_ii) need the
  // digits.
  x = x.to(at::kDouble);
  auto mean = x.mean(0);
  auto scale = x.std(0, /*unbiased=*/false);
  scale = at::where(scale > 0, scale, at::ones_like(scale));
  auto z = (x - mean) / scale;
  x = at::Tensor();
  auto kernel = at::mm(z, z.t());
  auto [evals, evecs] = at::linalg_eigh(kernel);
  evals = evals.clamp_min(0);
  auto q2 = evecs.pow(2);

  std::sort(lambdas.begin(), lambdas.end());
  const auto T = static_cast<size_t>(r.n_targets);
  std::vector<double> a(static_cast<size_t>(r.dim) * T);
  r.bias.assign(T, 0.0);
  m.lambda.assign(T, 0.0);
  m.loo_r.assign(T, 0.0);
  for (size_t t = 0; t < T; ++t) {
    const auto& yv = y_train[t];
    double ymean = 0;
    for (double yi : yv) ymean += yi;
    ymean /= static_cast<double>(yv.size());
    auto y = at::tensor(yv, at::kDouble) - ymean;
    auto qty = at::mv(evecs.t(), y);
    double best = std::numeric_limits<double>::infinity();
    at::Tensor best_loo;
    for (double lambda : lambdas) {
      auto shrink = evals / (evals + lambda);
      auto fitted = at::mv(evecs, shrink * qty);
      // The unpenalized intercept adds 1/n to every leverage (H = 11'/n + Z (Z'Z + lambda)^-1 Z' for centred
      // Z). Without it the held-out response leaks through the centring: near interpolation, every LOO error
      // -> 0.
      auto leverage = at::mv(q2, shrink) + 1.0 / static_cast<double>(yv.size());
      auto loo = (y - fitted) / (1 - leverage).clamp_min(1e-12);
      const double sse = loo.pow(2).sum().item<double>();
      if (sse <= best) {  // ties go to the larger lambda
        best = sse;
        m.lambda[t] = lambda;
        best_loo = y - loo;  // leave-one-out predictions (centred)
      }
    }
    auto alpha = at::mv(evecs, qty / (evals + m.lambda[t]));
    auto w = at::mv(z.t(), alpha) / scale;  // back to raw feature units
    auto wp = w.contiguous();
    const double* wd = wp.data_ptr<double>();
    double b = ymean;
    const double* md = mean.data_ptr<double>();
    for (std::int64_t p = 0; p < r.dim; ++p) {
      const auto wf = static_cast<float>(wd[p]);
      a[static_cast<size_t>(p) * T + t] = wf;
      b -= md[p] * wf;
    }
    r.bias[t] = b;
    auto lp = best_loo.contiguous();
    m.loo_r[t] = pearson(yv, std::vector<double>(lp.data_ptr<double>(), lp.data_ptr<double>() + lp.numel()));
  }
  r.weights.assign(a.begin(), a.end());

  m.test_r.assign(T, std::numeric_limits<double>::quiet_NaN());
  if (test.size() >= 3) {
    std::vector<std::int64_t> dims;
    auto xt = gather_features(feat, layers, to_feature_rows(test), dims).contiguous();
    auto pred = apply_readout(r, xt.data_ptr<float>(), xt.size(0));
    auto y_test = target_responses(responses, test, targets);
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> p(test.size());
      for (size_t i = 0; i < test.size(); ++i) p[i] = pred[i * T + t];
      m.test_r[t] = pearson(y_test[t], p);
    }
  }
  return m;
}

template <typename T>
void broadcast(std::vector<T>& v, MPI_Datatype type, MPI_Comm comm) {
  auto n = static_cast<std::int64_t>(v.size());
  MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm);
  v.resize(static_cast<size_t>(n));
  if (n > 0) MPI_Bcast(v.data(), static_cast<int>(n), type, 0, comm);
}

}  // namespace

std::vector<std::string> default_independent_layers(const std::vector<std::string>& model_layers) {
  if (model_layers.size() <= 1) return model_layers;
  std::vector<std::string> out;
  for (size_t i = 1; i < model_layers.size(); i += 2) out.push_back(model_layers[i]);
  return out;
}

IndependentModel fit_independent(const std::string& features_path, const std::string& responses_path,
                                 const std::vector<std::string>& layers, const std::vector<Target>& targets,
                                 const std::vector<double>& lambdas, MPI_Comm comm) {
  IndependentModel m;
  std::string error;
  if (rank(comm) == 0) {
    try {
      m = fit_on_root(features_path, responses_path, layers, targets, lambdas);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  std::vector<char> message(error.begin(), error.end());
  broadcast(message, MPI_CHAR, comm);
  if (!message.empty())
    throw std::runtime_error("maximize: independent model: " + std::string(message.begin(), message.end()));
  m.readout.layers = layers;
  broadcast(m.readout.dims, MPI_INT64_T, comm);
  broadcast(m.readout.weights, MPI_FLOAT, comm);
  broadcast(m.readout.bias, MPI_DOUBLE, comm);
  broadcast(m.lambda, MPI_DOUBLE, comm);
  broadcast(m.loo_r, MPI_DOUBLE, comm);
  broadcast(m.test_r, MPI_DOUBLE, comm);
  MPI_Bcast(&m.n_train, 1, MPI_INT64_T, 0, comm);
  m.readout.dim = 0;
  for (auto d : m.readout.dims) m.readout.dim += d;
  m.readout.n_targets = static_cast<std::int64_t>(targets.size());
  return m;
}

}  // namespace deepvox::maximize
