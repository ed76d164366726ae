// Stage `synth`: model.h5 + images/features -> predicted responses (+ noise, + holdout model) ->
// synthetic.h5, then the repetition analysis on the fMRI test set.
#include "synth/synth.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "core/text.h"
#include "synth/analysis.h"
#include "synth/figure.h"
#include "synth/holdout.h"
#include "synth/noise.h"
#include "synth/options.h"
#include "synth/random.h"
#include "synth/repetition.h"
#include "synth/rows.h"

namespace deepvox::synth {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kFlushSeconds = 2.0;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Every rank's ids, concatenated in rank order, on every rank.
std::vector<std::int64_t> allgather_ids(const std::vector<std::int64_t>& mine, MPI_Comm comm) {
  const int ranks = size(comm);
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(ranks)), displs(static_cast<size_t>(ranks), 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  for (int r = 1; r < ranks; ++r)
    displs[static_cast<size_t>(r)] = displs[static_cast<size_t>(r - 1)] + counts[static_cast<size_t>(r - 1)];
  std::vector<std::int64_t> all(static_cast<size_t>(displs.back() + counts.back()));
  MPI_Allgatherv(mine.data(), n, MPI_INT64_T, all.data(), counts.data(), displs.data(), MPI_INT64_T, comm);
  return all;
}

// The categories left out of the refitted model: the configured list, or holdout_count chosen by seed
// among the categories that occur in both splits (at least two categories always stay in).
std::vector<std::string> choose_holdout(const Options& opt, const Responses& r) {
  std::vector<std::int64_t> in_train(r.category_names.size(), 0), in_test(r.category_names.size(), 0);
  for (auto s : r.train)
    if (r.category[static_cast<size_t>(s)] >= 0)
      ++in_train[static_cast<size_t>(r.category[static_cast<size_t>(s)])];
  for (auto s : r.test)
    if (r.category[static_cast<size_t>(s)] >= 0)
      ++in_test[static_cast<size_t>(r.category[static_cast<size_t>(s)])];
  if (!opt.holdout_auto) {
    for (const auto& c : opt.holdout_categories) {
      auto it = std::find(r.category_names.begin(), r.category_names.end(), c);
      if (it == r.category_names.end())
        throw ConfigError("synth.holdout_categories: no category '" + c + "' in " + r.path);
    }
    return opt.holdout_categories;
  }
  std::vector<std::int64_t> candidates;
  for (size_t c = 0; c < r.category_names.size(); ++c)
    if (in_train[c] > 0 && in_test[c] > 0) candidates.push_back(static_cast<std::int64_t>(c));
  if (opt.holdout_count == 0) return {};
  if (static_cast<std::int64_t>(candidates.size()) < opt.holdout_count + 2) {
    log::warn("synth: only {} categories occur in both splits: no unseen-categories model",
              candidates.size());
    return {};
  }
  Rng rng(opt.seed, {0x401dULL});
  shuffle(candidates, rng);
  candidates.resize(static_cast<size_t>(opt.holdout_count));
  std::sort(candidates.begin(), candidates.end());
  std::vector<std::string> out;
  for (auto c : candidates) out.push_back(r.category_names[static_cast<size_t>(c)]);
  return out;
}

// A .partial killed before its datasets were all created carries the resume key but cannot be resumed:
// removed here so RunFile starts afresh (resume needs the `setup_complete` mark written after setup).
void discard_unfinished_setup(const std::string& partial, MPI_Comm comm) {
  if (is_root(comm) && h5::is_hdf5(partial)) {
    bool complete = false;
    try {
      auto f = h5::File::open(partial, h5::Mode::Read);
      complete = f.has_attr("setup_complete") && f.exists("chunks/done");
    } catch (const std::exception&) {
      complete = false;
    }
    if (!complete) {
      log::warn("synth: discarding {} (killed before its datasets were created)", partial);
      std::filesystem::remove(partial);
    }
  }
  MPI_Barrier(comm);
}

// Identifies the inputs a .partial was written for.
std::string resume_key(const Options& o, const SynthRows& rows, const std::vector<std::string>& holdout) {
  namespace fs = std::filesystem;
  std::ostringstream k;
  auto stamp = [&](const std::string& p) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    k << p << ":" << (ec ? 0 : fs::file_size(p, ec)) << ":" << (ec ? 0 : t.time_since_epoch().count()) << ";";
  };
  stamp(o.model_path);
  if (!o.features_path.empty()) stamp(o.features_path);
  k << "images=" << o.images_path << ";rows=" << rows.size() << ";batch=" << o.batch_size
    << ";aug=" << o.augment_copies << "/" << o.max_augmented << ";noise=" << noise_name(o.noise) << "x"
    << o.repetitions << ";shrink=" << o.cov_shrinkage << ";seed=" << o.seed
    << ";holdout=" << join(holdout, ",");
  return k.str();
}

void write_repetition(h5::File& f, const RepetitionResult& rep, const Responses& r) {
  auto g = f.create_group("repetition");
  g.write_attr<std::int64_t>("repetitions", rep.repetitions);
  g.write_attr(
      "definition",
      "syn_vs_rep = mean_k corr(synthetic, rep_k); rep_vs_rep = mean_{k!=l} corr(rep_k, rep_l); "
      "rep_vs_mean_others = mean_k corr(rep_k, mean of the other reps); syn_vs_mean = corr(synthetic, "
      "mean of reps). voxel/*: over stimuli, per voxel; pattern/<roi>/*: over the ROI's voxels, per "
      "stimulus");
  std::vector<std::string> ids;
  for (auto s : rep.stimuli) ids.push_back(r.ids[static_cast<size_t>(s)]);
  g.write_strings("stimulus_ids", ids);
  g.write_vector<std::int64_t>("stimulus_index", rep.stimuli);
  for (int m = 0; m < kMeasures; ++m)
    g.write_vector<float>(std::string("voxel/") + kMeasureNames[m],
                          std::vector<float>(rep.voxel[m].begin(), rep.voxel[m].end()));
  std::vector<std::string> names;
  std::vector<std::int64_t> n_voxels;
  std::map<std::string, std::vector<double>> columns;
  for (const auto& roi : rep.rois) {
    names.push_back(roi.name);
    n_voxels.push_back(roi.n_voxels);
    for (int m = 0; m < kMeasures; ++m) {
      g.write_vector<float>("pattern/" + roi.name + "/" + kMeasureNames[m],
                            std::vector<float>(roi.pattern[m].begin(), roi.pattern[m].end()));
      columns[std::string("voxel_") + kMeasureNames[m]].push_back(roi.voxel_mean[m]);
      columns[std::string("pattern_") + kMeasureNames[m]].push_back(roi.pattern_mean[m]);
    }
    columns["voxel_fraction_syn_better"].push_back(roi.voxel_fraction_syn_better);
    columns["voxel_sign_p"].push_back(roi.voxel_sign_p);
    columns["pattern_fraction_syn_better"].push_back(roi.pattern_fraction_syn_better);
    columns["pattern_sign_p"].push_back(roi.pattern_sign_p);
    columns["pattern_syn_minus_rep"].push_back(roi.pattern_mean[0] - roi.pattern_mean[1]);
    columns["pattern_syn_minus_mean_others"].push_back(roi.pattern_mean[0] - roi.pattern_mean[2]);
  }
  g.write_strings("summary/roi", names);
  g.write_vector<std::int64_t>("summary/n_voxels", n_voxels);
  for (const auto& [name, values] : columns) g.write_vector<double>("summary/" + name, values);
  g.write_attr("verdict", describe_repetition(rep).back());
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  namespace fs = std::filesystem;
  const int my_rank = rank(comm), ranks = size(comm);
  at::set_num_threads(omp_get_max_threads());

  // 1. Inputs, all checked before anything is written (every error here is the same on every rank).
  Options opt = read_options(cfg);
  EncodingModel model = EncodingModel::open(opt.model_path);
  std::optional<Responses> responses;
  if (h5::is_hdf5(opt.responses_path)) {
    responses = Responses::read(opt.responses_path);
    if (responses->n_voxels != model.n_voxels())
      throw ConfigError(opt.model_path + " has " + std::to_string(model.n_voxels()) + " voxels but " +
                        opt.responses_path + " has " + std::to_string(responses->n_voxels));
  } else if (opt.source == Source::RunFeatures) {
    throw ConfigError("synth needs " + opt.responses_path + " (the fMRI data the model was fitted on)");
  }
  auto images = open_image_set(opt);
  SynthRows rows = build_rows(opt, responses ? &*responses : nullptr, images);
  if (rows.size() == 0) throw ConfigError("synth: no images to predict");
  FeatureSource source(opt, model, rows, images);
  source.check();
  const bool have_run_features = h5::is_hdf5(opt.run_features_path);
  if (have_run_features && responses)
    model.check_layout(feature_file_layers(opt.run_features_path), opt.run_features_path);
  const bool analysis = responses && have_run_features;
  if (opt.noise != Noise::None && !analysis)
    throw ConfigError(
        "synth.noise needs the run's responses.h5 and features.h5 (residuals of the training set)");
  std::vector<std::string> holdout;
  if (analysis && !responses->category_names.empty()) holdout = choose_holdout(opt, *responses);
  if (!holdout.empty() && model.lambda().size() != static_cast<size_t>(model.n_voxels())) {
    log::warn("synth: {} has no per-voxel /voxels/lambda (banded fit?): no unseen-categories model",
              opt.model_path);
    holdout.clear();
  }
  log::info(
      "synth: {} images ({} augmented) from {}, model {} ({} features x {} voxels), noise {}, held-out "
      "categories: {}",
      rows.size(), rows.n_augmented(), opt.source == Source::Images ? opt.images_path : opt.features_path,
      opt.model_path, model.n_features(), model.n_voxels(), noise_name(opt.noise),
      holdout.empty() ? "none" : join(holdout));

  // 2. The model on the run's own stimuli: test predictions and training residuals.
  model.load_weights();
  std::optional<RunPredictions> run_pred;
  if (analysis)
    run_pred =
        predict_run(model, opt.run_features_path, *responses, opt.batch_size, opt.noise == Noise::Roi, comm);
  NoiseModel noise;
  if (opt.noise == Noise::Iid) noise = NoiseModel::iid(run_pred->residual_var, responses->valid);
  if (opt.noise == Noise::Roi)
    noise = NoiseModel::roi(run_pred->residuals, run_pred->residual_var, responses->valid, responses->rois,
                            opt.cov_shrinkage);
  if (run_pred) run_pred->residuals = at::Tensor();
  std::unique_ptr<HoldoutModel> holdout_model;
  if (!holdout.empty())
    holdout_model = std::make_unique<HoldoutModel>(
        HoldoutModel::fit(model, opt.run_features_path, *responses, holdout, comm));

  // 3. The output file, datasets preallocated (a resumed run fills only the missing chunks).
  const std::int64_t M = rows.size(), V = model.n_voxels(), R = opt.repetitions;
  const auto batches = chunks(M, opt.batch_size);
  const auto n_chunks = static_cast<std::int64_t>(batches.size());
  discard_unfinished_setup(cfg.run_file("synthetic") + ".partial", comm);
  RunFile out(cfg, "synthetic", comm, resume_key(opt, rows, holdout));
  h5::File& f = out.file();
  std::vector<std::uint8_t> done(static_cast<size_t>(n_chunks), 0);
  if (out.resumed()) {
    done = f.dataset("chunks/done").read_all<std::uint8_t>();
  } else {
    f.write_attr("model", opt.model_path);
    f.write_attr("source", opt.source == Source::Images ? opt.images_path : opt.features_path);
    f.write_attr("noise", noise_name(opt.noise));
    f.write_attr<std::int64_t>("seed", static_cast<std::int64_t>(opt.seed));
    f.write_strings("stimulus_ids", rows.ids);
    f.write_strings("groups", rows.group);
    // Category names: the fMRI file's, then any new ones from the image set, in order of appearance.
    std::vector<std::string> names = responses ? responses->category_names : std::vector<std::string>{};
    std::vector<std::int64_t> index;
    for (const auto& c : rows.category) {
      if (c.empty()) {
        index.push_back(-1);
        continue;
      }
      auto it = std::find(names.begin(), names.end(), c);
      if (it == names.end()) it = names.insert(names.end(), c);
      index.push_back(it - names.begin());
    }
    // (An empty string dataset fails to write collectively in HDF5 1.10: left out when there are none.)
    if (!names.empty()) f.write_strings("categories/names", names);
    f.write_vector<std::int64_t>("categories/index", index);
    f.write_vector<std::int64_t>("source_index", rows.source_index);
    f.write_vector<std::int64_t>("copy", rows.copy);
    f.write_vector<std::int64_t>("responses_index", rows.responses_row);
    f.create_dataset<float>("responses", {M, V});
    f.create_dataset<std::int64_t>("augmentation", {M, 5})
        .write_attr("columns", "flip, x0, y0, width, height");
    if (holdout_model) {
      f.write_strings("holdout/categories", holdout);
      f.create_dataset<float>("holdout/responses", {M, V});
      f.group("holdout").write_attr<std::int64_t>("n_train", holdout_model->n_train());
    }
    if (R > 0) {
      f.create_dataset<float>("trials/responses", {M * R, V});
      std::vector<std::int64_t> stim(static_cast<size_t>(M * R)), rep(static_cast<size_t>(M * R));
      for (std::int64_t i = 0; i < M * R; ++i)
        stim[static_cast<size_t>(i)] = i / R, rep[static_cast<size_t>(i)] = i % R;
      f.write_vector<std::int64_t>("trials/stimulus_index", stim);
      f.write_vector<std::int64_t>("trials/repetition", rep);
    }
    if (run_pred) {
      f.write_vector<double>("noise/residual_var", run_pred->residual_var)
          .write_attr("definition", std::string("mean over training ") +
                                        (run_pred->residual_from_trials ? "trials" : "stimuli") +
                                        " of (response - prediction)^2");
      f.group("noise").write_attr<std::int64_t>("samples", run_pred->residual_samples);
    }
    f.create_dataset<std::uint8_t>("chunks/done", {n_chunks}).write_all(done);
    f.flush();
    f.write_attr<std::int64_t>("setup_complete", 1);
    f.flush();
  }
  auto resp_set = f.dataset("responses"), aug_set = f.dataset("augmentation"),
       done_set = f.dataset("chunks/done");
  std::optional<h5::Dataset> holdout_set, trial_set;
  if (holdout_model) holdout_set = f.dataset("holdout/responses");
  if (R > 0) trial_set = f.dataset("trials/responses");

  // 4. My chunks: features -> predictions (+ holdout model, + noisy repetitions) -> collective writes.
  std::vector<std::int64_t> mine;
  std::int64_t skipped = 0;
  for (auto c : my_chunks(n_chunks, my_rank, ranks)) {
    if (done[static_cast<size_t>(c)])
      skipped += batches[static_cast<size_t>(c)].size();
    else
      mine.push_back(c);
  }
  std::int64_t rounds = static_cast<std::int64_t>(mine.size());
  MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, comm);
  {
    Progress progress("synth images", M, comm);
    progress.add_skipped(skipped);
    std::vector<std::int64_t> pending;
    auto last_flush = Clock::now();
    for (std::int64_t k = 0; k < rounds; ++k) {
      const bool have = k < static_cast<std::int64_t>(mine.size());
      Range rg{0, 0};
      at::Tensor pred, hold, trials;
      std::vector<std::int64_t> aug;
      if (have) {
        rg = batches[static_cast<size_t>(mine[static_cast<size_t>(k)])];
        c10::InferenceMode guard;
        at::Tensor x = source.features(rg.begin, rg.end);
        aug = source.last_augmentation();
        pred = model.predict(x).contiguous();
        if (holdout_model) hold = holdout_model->predict(x).contiguous();
        if (R > 0) {
          std::vector<std::int64_t> ids;
          for (auto i = rg.begin; i < rg.end; ++i) ids.push_back(i);
          trials = (pred.repeat_interleave(R, 0) + noise.sample(ids, R, opt.seed)).contiguous();
        }
      }
      auto ptr = [&](const at::Tensor& t) { return have ? t.data_ptr<float>() : nullptr; };
      resp_set.write_block<float>({rg.begin, rg.size(), 0, V}, ptr(pred));
      aug_set.write_block<std::int64_t>({rg.begin, rg.size(), 0, 5}, have ? aug.data() : nullptr);
      if (holdout_set) holdout_set->write_block<float>({rg.begin, rg.size(), 0, V}, ptr(hold));
      if (trial_set) trial_set->write_block<float>({rg.begin * R, rg.size() * R, 0, V}, ptr(trials));
      // The data reaches the disk before its chunks are recorded as done (decisions.md "resume"). Flushes
      // are collective and cost an fsync each, so they happen every few seconds (rank 0's clock decides).
      if (have) pending.push_back(mine[static_cast<size_t>(k)]);
      int flush_now = k + 1 == rounds || seconds_since(last_flush) >= kFlushSeconds;
      MPI_Bcast(&flush_now, 1, MPI_INT, 0, comm);
      if (flush_now) {
        f.flush();
        for (auto c : allgather_ids(pending, comm)) done[static_cast<size_t>(c)] = 1;
        done_set.write_all(done);
        f.flush();
        pending.clear();
        last_flush = Clock::now();
      }
      if (have) progress.add(rg.size());
    }
  }

  // 5. The repetition analysis on the test stimuli with real repetitions.
  if (run_pred && !responses->trial_stimulus.empty()) {
    const auto trials_of = responses->trials_by_stimulus();
    std::int64_t K = 0;
    for (auto s : run_pred->test_stimuli) {
      const auto n = static_cast<std::int64_t>(trials_of[static_cast<size_t>(s)].size());
      if (n >= 2) K = K == 0 ? n : std::min(K, n);
    }
    if (K >= 2) {
      std::vector<std::int64_t> keep, stimuli;
      for (size_t i = 0; i < run_pred->test_stimuli.size(); ++i) {
        const auto s = run_pred->test_stimuli[i];
        if (static_cast<std::int64_t>(trials_of[static_cast<size_t>(s)].size()) >= K) {
          keep.push_back(static_cast<std::int64_t>(i));
          stimuli.push_back(s);
        }
      }
      const auto n = static_cast<std::int64_t>(stimuli.size());
      std::vector<at::Tensor> reps;
      for (std::int64_t k = 0; k < K; ++k) {
        std::vector<std::int64_t> trial_rows;
        for (auto s : stimuli)
          trial_rows.push_back(trials_of[static_cast<size_t>(s)][static_cast<size_t>(k)]);
        auto y = responses->trials(trial_rows);
        reps.push_back(at::from_blob(y.data(), {n, V}, at::kFloat).clone());
      }
      auto pred = run_pred->test_pred.index_select(0, at::tensor(keep, at::kLong));
      RepetitionResult rep = repetition_analysis(pred, reps, responses->valid, responses->rois);
      rep.stimuli = stimuli;
      if (!f.exists("repetition")) write_repetition(f, rep, *responses);  // a resumed file may hold it
      log::info(
          "synth: repetition analysis on {} test stimuli with {} repetitions each (pattern r over each ROI's "
          "voxels, per stimulus; voxelwise r over stimuli):",
          n, K);
      for (const auto& line : describe_repetition(rep)) log::info("  {}", line);
      if (opt.figure && my_rank == 0) {
        const std::string png = (fs::path(cfg.run_dir()) / "synthetic_repetition.png").string();
        try {
          draw_repetition_figure(rep, responses->rois, png);
          log::info("synth: figure {}", png);
        } catch (const std::exception& e) {
          log::warn("synth: no figure: {}", e.what());
        }
      }
    } else {
      log::warn("synth: no test stimulus has 2 or more trials: no repetition analysis");
    }
  }
  out.commit();
}

}  // namespace deepvox::synth
