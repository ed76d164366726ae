// The virtual subject builder (see virtual_subject.h).
#include "import/virtual_subject.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "import/demo_stimuli.h"
#include "import/responses_writer.h"
#include "import/virtual_chunks.h"
#include "import/virtual_cortex.h"
#include "import/virtual_random.h"
#include "import/virtual_truth.h"

namespace fs = std::filesystem;

namespace deepvox::import {

TrialSchedule schedule_trials(std::int64_t n_stimuli, const std::vector<std::int64_t>& test, int test_repeats,
                              int sessions, int runs_per_session, std::uint64_t seed) {
  if (sessions < 1 || runs_per_session < 1 || test_repeats < 1) {
    throw ConfigError("import.sessions, import.runs_per_session and import.test_repeats must be at least 1");
  }
  std::vector<std::vector<std::int64_t>> by_session(sessions);
  std::vector<char> is_test(static_cast<std::size_t>(n_stimuli), 0);
  for (std::int64_t s : test) is_test.at(static_cast<std::size_t>(s)) = 1;
  // Test images: their repeats go to distinct sessions (a random cyclic run of them).
  for (std::int64_t s : test) {
    Rng rng(seed, Stream::Schedule, static_cast<std::uint64_t>(s));
    const std::int64_t first = static_cast<std::int64_t>(rng.below(sessions));
    for (int k = 0; k < test_repeats; ++k) by_session[(first + k) % sessions].push_back(s);
  }
  // Training images once each, dealt to sessions in a shuffled order.
  std::vector<std::int64_t> train;
  for (std::int64_t s = 0; s < n_stimuli; ++s)
    if (!is_test[s]) train.push_back(s);
  Rng deal(seed, Stream::Schedule, static_cast<std::uint64_t>(n_stimuli) + 1);
  deal.shuffle(train);
  for (std::size_t k = 0; k < train.size(); ++k) by_session[k % sessions].push_back(train[k]);

  TrialSchedule t;
  for (int ses = 0; ses < sessions; ++ses) {
    auto& trials = by_session[ses];
    Rng shuffle(seed, Stream::Schedule, static_cast<std::uint64_t>(n_stimuli) + 2 + ses);
    shuffle.shuffle(trials);
    const std::int64_t n = static_cast<std::int64_t>(trials.size());
    for (std::int64_t k = 0; k < n; ++k) {
      t.stimulus.push_back(trials[k]);
      t.session.push_back(ses + 1);
      t.run.push_back(static_cast<std::int64_t>(ses) * runs_per_session + 1 +
                      k * runs_per_session / std::max<std::int64_t>(n, 1));
    }
  }
  return t;
}

namespace {

CortexOptions cortex_options(const Config& cfg, std::uint64_t seed) {
  CortexOptions o;
  o.roi_sizes = cfg.integers("import.roi_sizes");
  o.snr_range = cfg.reals("import.snr");
  o.category_share = cfg.reals("import.category_share");
  o.selective_categories = cfg.strings("import.selective_categories");
  o.selective_roi = cfg.str("import.selective_roi");
  o.network = cfg.str("import.truth_network");
  o.weights = cfg.has("import.truth_weights") ? cfg.str("import.truth_weights") : "";
  o.layers = cfg.strings("import.truth_layers");
  o.seed = seed;
  return o;
}

void check_ok(const std::string& error, const std::string& what, MPI_Comm comm) {
  if (!all_ok(error.empty(), comm)) {
    throw std::runtime_error("virtual subject: " + what + ": " +
                             (error.empty() ? "failed on another rank" : error));
  }
}

}  // namespace

void build_virtual_subject(const Config& cfg, MPI_Comm comm) {
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const bool root = is_root(comm);

  // 1. Stimuli.
  const DemoOptions dopt = demo_options(cfg);
  const std::string folder = (fs::path(cfg.run_dir()) / "stimuli").string();
  log::info("virtual subject: rendering {} demo images ({} px) into {}", dopt.n_images, dopt.size, folder);
  const DemoStimuli stim = build_demo_stimuli(dopt, folder, comm);
  const std::int64_t S = static_cast<std::int64_t>(stim.images.size());
  log::info("virtual subject: {} images, {} categories, {} source photos, {} test images ({:.1f} s)", S,
            stim.category_names.size(), stim.stamps.size(), stim.test.size(), seconds());

  // 2. The cortex and its noise-free responses, images in fixed chunks over ranks.
  const CortexOptions copt = cortex_options(cfg, dopt.seed);
  const auto channels = probe_layer_channels(copt.network, copt.weights, copt.layers, 224);
  VirtualCortex cortex(make_cortex_params(copt, stim.category_names, channels));
  const std::int64_t V = cortex.params().voxels(), F = cortex.feature_dim();
  const std::int64_t chunk = std::max<long>(1, cfg.integer("import.batch_size"));
  std::vector<float> local_drive, local_features;
  std::string error;
  {
    Progress progress("virtual subject", S, comm);
    try {
      const auto ranges = chunks(S, chunk);
      for (std::int64_t c : my_chunks(static_cast<std::int64_t>(ranges.size()), rank(comm), size(comm))) {
        std::vector<image::RgbImage> batch;
        for (std::int64_t i = ranges[c].begin; i < ranges[c].end; ++i) {
          batch.push_back(image::decode_image_file((fs::path(folder) / stim.images[i].file).string()));
        }
        std::vector<float> d, f;
        cortex.drives(batch, &d, &f);
        local_drive.insert(local_drive.end(), d.begin(), d.end());
        local_features.insert(local_features.end(), f.begin(), f.end());
        progress.add(static_cast<std::int64_t>(batch.size()));
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  check_ok(error, "simulating responses", comm);
  const auto drive = gather_items(local_drive, S, chunk, V, comm, false);
  const auto features = gather_items(local_features, S, chunk, F, comm, false);
  log::info("virtual subject: {} voxels simulated ({:.1f} s)", V, seconds());

  // 3. On rank 0: classifier, standardization, trials, the dataset and truth.h5.
  FmriDataset ds;
  WriteOptions wopt;
  const std::string truth_path = cfg.run_file("truth");
  if (root) {
    try {
      std::vector<std::int64_t> labels(S), groups(S);
      for (std::int64_t i = 0; i < S; ++i) {
        labels[i] = stim.images[i].category;
        groups[i] = stim.images[i].group;
      }
      CortexParams& p = cortex.mutable_params();
      fit_category_classifier(p, features, S, labels);
      const auto evidence = cortex.category_evidence(features, S);
      fit_standardization(p, drive, evidence, S);
      const auto signal = cortex.signal(drive, evidence, S);

      const int sessions = static_cast<int>(cfg.integer("import.sessions"));
      const TrialSchedule sched =
          schedule_trials(S, stim.test, static_cast<int>(cfg.integer("import.test_repeats")), sessions,
                          static_cast<int>(cfg.integer("import.runs_per_session")), dopt.seed);
      const double offset_sd = cfg.real("import.session_offset_sd");
      std::vector<float> offsets(static_cast<std::size_t>(sessions) * V);
      for (int s = 0; s < sessions; ++s) {
        Rng rng(dopt.seed, Stream::SessionOffset, static_cast<std::uint64_t>(s));
        for (std::int64_t v = 0; v < V; ++v)
          offsets[s * V + v] = static_cast<float>(offset_sd * rng.normal());
      }
      const std::int64_t T = static_cast<std::int64_t>(sched.stimulus.size());
      ds.trial_responses.resize(static_cast<std::size_t>(T * V));
      for (std::int64_t t = 0; t < T; ++t) {
        Rng rng(dopt.seed, Stream::TrialNoise, static_cast<std::uint64_t>(t));
        const float* sig = signal.data() + sched.stimulus[t] * V;
        const float* off = offsets.data() + (sched.session[t] - 1) * V;
        for (std::int64_t v = 0; v < V; ++v) {
          ds.trial_responses[t * V + v] =
              static_cast<float>(sig[v] + rng.normal() / std::sqrt(static_cast<double>(p.snr[v])) + off[v]);
        }
      }
      ds.format = "virtual";
      ds.source = "demo: tuxpaint-stamps-default photos on mate-backgrounds photos (" + stim.manifest + ")";
      ds.subject = "virtual01";
      for (const auto& im : stim.images) {
        ds.stimulus_ids.push_back(im.id);
        ds.stimulus_paths.push_back(fs::absolute(fs::path(folder) / im.file).string());
        ds.category_index.push_back(im.category);
      }
      ds.category_names = stim.category_names;
      ds.n_voxels = V;
      ds.trial_stimulus = sched.stimulus;
      ds.trial_session = sched.session;
      ds.trial_run = sched.run;
      ds.roi_order = p.roi_names;
      for (std::size_t r = 0; r < p.roi_names.size(); ++r) {
        auto& mask = ds.rois[p.roi_names[r]];
        mask.resize(static_cast<std::size_t>(V));
        for (std::int64_t v = 0; v < V; ++v) mask[v] = p.roi[v] == static_cast<std::int64_t>(r) ? 1 : 0;
      }
      ds.split_train = stim.train;
      ds.split_test = stim.test;
      wopt.split_groups = groups;
      wopt.zscore_default = "session";
      wopt.split_rule =
          "virtual subject: test = the images shown import.test_repeats times; all copies of one "
          "source photo on one side, every category in the test set";
      wopt.stimulus_images = fs::absolute(stim.manifest).string();

      TruthInputs in{cfg, stim, p, signal, evidence, offsets, size(comm)};
      write_truth_file(truth_path + ".partial", in);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  check_ok(error, "building the subject", comm);
  if (root) {
    std::error_code ec;
    fs::rename(truth_path + ".partial", truth_path, ec);
    if (ec) error = "cannot rename " + truth_path + ".partial: " + ec.message();
  }
  check_ok(error, "writing truth.h5", comm);
  log::info("virtual subject: wrote {} ({:.1f} s)", truth_path, seconds());

  // 4. responses.h5 through the shared writer (collective; the data comes from rank 0).
  write_responses(std::move(ds), cfg, comm, wopt);
  log::info("virtual subject: done in {:.1f} s", seconds());
}

}  // namespace deepvox::import
