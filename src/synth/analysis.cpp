#include "synth/analysis.h"

#include <c10/core/InferenceMode.h>

#include <cmath>
#include <map>

#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "synth/gather.h"

namespace deepvox::synth {

at::Tensor read_model_features(const std::string& features_path, const EncodingModel& model,
                               const std::vector<std::int64_t>& feature_rows) {
  const auto n = static_cast<std::int64_t>(feature_rows.size());
  at::Tensor out = at::empty({n, model.n_features()}, at::kFloat);
  if (n == 0) return out;
  auto f = h5::File::open(features_path, h5::Mode::Read);
  for (size_t l = 0; l < model.layers().size(); ++l) {
    auto block = read_row_list<float>(f.dataset("features/" + model.layers()[l]), feature_rows);
    out.narrow(1, model.layer_offset(l), model.layer_width(l))
        .copy_(at::from_blob(block.data(), {n, model.layer_width(l)}, at::kFloat));
  }
  return out;
}

RunPredictions predict_run(const EncodingModel& model, const std::string& features_path,
                           const Responses& responses, std::int64_t batch_size, bool keep_residuals,
                           MPI_Comm comm) {
  RunPredictions out;
  const std::int64_t V = model.n_voxels();
  if (V != responses.n_voxels)
    throw ConfigError(model.path() + " has " + std::to_string(V) + " voxels but " + responses.path + " has " +
                      std::to_string(responses.n_voxels));
  std::map<std::string, std::int64_t> feature_row;
  {
    auto f = h5::File::open(features_path, h5::Mode::Read);
    auto ids = f.dataset("stimulus_ids").read_strings();
    for (size_t i = 0; i < ids.size(); ++i) feature_row[ids[i]] = static_cast<std::int64_t>(i);
  }
  // Training stimuli first, then test stimuli; each with its features row.
  struct Item {
    std::int64_t stimulus, row;
    bool train;
  };
  std::vector<Item> items;
  std::int64_t missing = 0;
  for (int part = 0; part < 2; ++part)
    for (auto s : part == 0 ? responses.train : responses.test) {
      auto it = feature_row.find(responses.ids[static_cast<size_t>(s)]);
      if (it == feature_row.end()) {
        ++missing;
        continue;
      }
      items.push_back({s, it->second, part == 0});
      if (part == 1) out.test_stimuli.push_back(s);
    }
  if (missing)
    log::warn("synth: {} fMRI stimuli have no row in {} (left out of the analysis)", missing, features_path);
  out.residual_from_trials = !responses.trial_stimulus.empty();
  const auto trials_of = responses.trials_by_stimulus();

  const auto ranges = chunks(static_cast<std::int64_t>(items.size()), batch_size);
  std::vector<std::pair<std::int64_t, Bytes>> mine;
  for (auto c : my_chunks(static_cast<std::int64_t>(ranges.size()), rank(comm), size(comm))) {
    const Range rg = ranges[static_cast<size_t>(c)];
    std::vector<std::int64_t> rows;
    for (auto i = rg.begin; i < rg.end; ++i) rows.push_back(items[static_cast<size_t>(i)].row);
    c10::InferenceMode guard;
    at::Tensor pred = model.predict(read_model_features(features_path, model, rows)).contiguous();
    std::vector<double> sumsq(static_cast<size_t>(V), 0.0);
    std::vector<float> residual_rows, test_rows;
    std::int64_t samples = 0;
    for (auto i = rg.begin; i < rg.end; ++i) {
      const Item& it = items[static_cast<size_t>(i)];
      const float* p = pred.data_ptr<float>() + (i - rg.begin) * V;
      if (!it.train) {
        test_rows.insert(test_rows.end(), p, p + V);
        continue;
      }
      const auto& trials = trials_of[static_cast<size_t>(it.stimulus)];
      std::vector<float> y =
          out.residual_from_trials ? responses.trials(trials) : responses.responses({it.stimulus});
      const std::int64_t n = out.residual_from_trials ? static_cast<std::int64_t>(trials.size()) : 1;
      for (std::int64_t t = 0; t < n; ++t) {
        float* yt = y.data() + t * V;
        for (std::int64_t v = 0; v < V; ++v) {
          float r = yt[v] - p[v];
          if (!std::isfinite(r) || !responses.valid[static_cast<size_t>(v)]) r = 0.0f;
          yt[v] = r;
          sumsq[static_cast<size_t>(v)] += static_cast<double>(r) * r;
        }
      }
      samples += n;
      if (keep_residuals) residual_rows.insert(residual_rows.end(), y.begin(), y.end());
    }
    Bytes b;
    put(b, &samples, 1);
    put(b, sumsq);
    put(b, test_rows);
    put(b, residual_rows);
    mine.emplace_back(c, std::move(b));
  }
  auto all = allgather_chunks(mine, static_cast<std::int64_t>(ranges.size()), comm);

  // Combine in chunk order: sums, then rows concatenated.
  out.residual_var.assign(static_cast<size_t>(V), 0.0);
  std::vector<float> test_all, residual_all;
  for (const auto& b : all) {
    Reader rd(b);
    std::int64_t samples = 0;
    rd.get(&samples, 1);
    auto sumsq = rd.vec<double>();
    auto test_rows = rd.vec<float>();
    auto residual_rows = rd.vec<float>();
    out.residual_samples += samples;
    for (std::int64_t v = 0; v < V; ++v)
      out.residual_var[static_cast<size_t>(v)] += sumsq[static_cast<size_t>(v)];
    test_all.insert(test_all.end(), test_rows.begin(), test_rows.end());
    residual_all.insert(residual_all.end(), residual_rows.begin(), residual_rows.end());
  }
  if (out.residual_samples > 0)
    for (auto& r : out.residual_var) r /= static_cast<double>(out.residual_samples);
  const auto n_test = static_cast<std::int64_t>(out.test_stimuli.size());
  out.test_pred = at::from_blob(test_all.data(), {n_test, V}, at::kFloat).clone();
  if (keep_residuals)
    out.residuals = at::from_blob(residual_all.data(), {out.residual_samples, V}, at::kFloat).clone();
  return out;
}

}  // namespace deepvox::synth
