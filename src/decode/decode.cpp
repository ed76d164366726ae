// Stage `decode`: responses.h5 + synthetic.h5 -> decoder jobs -> fits over ranks -> decoding.h5.
#include "decode/decode.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include "core/log.h"
#include "core/mpi.h"
#include "core/run_file.h"
#include "decode/options.h"
#include "decode/plan.h"
#include "decode/report.h"
#include "decode/runner.h"

namespace deepvox::decode {

void run(const Config& cfg, MPI_Comm comm) {
  at::set_num_threads(omp_get_max_threads());

  // 1. Inputs and the experiment plan (identical on every rank; errors here are ConfigErrors).
  const Options opt = read_options(cfg);
  const auto responses = synth::Responses::read(opt.responses_path);
  const auto synthetic = SyntheticMeta::read(opt.synthetic_path, responses);
  if (responses.category_names.size() < 2) {
    // Datasets without stimulus categories (NSD, generic imports) have nothing to decode: the pipeline
    // goes on, and decoding.h5 says why it is empty.
    const std::string why = "no stimulus categories in " + opt.responses_path + " (/categories)";
    log::warn("decode: {}: nothing to decode", why);
    RunFile out(cfg, "decoding", comm);
    out.file().write_attr("skipped", why);
    out.commit();
    return;
  }
  const Plan plan = build_plan(opt, responses, synthetic);
  std::string rois;
  for (const auto& r : plan.rois)
    rois += (rois.empty() ? "" : ", ") + r.name + " (" + std::to_string(r.voxels.size()) + ")";
  log::info("decode: {} categories, ROIs: {}; {} experiments, {} decoder jobs x {} folds x {} C values",
            plan.classes.size(), rois, plan.experiments.size(), plan.jobs.size(), opt.cv_folds,
            opt.c_grid.size());

  // 2. Data on every rank, then the fits over the ranks.
  const DataStore data = load_data(responses, synthetic, plan);
  const auto results = run_jobs(plan, data, opt, comm);

  // 3. decoding.h5 (every rank holds every result; rank 0's copy is written), figures, report.
  RunFile out(cfg, "decoding", comm);
  out.file().write_attr("standardize", opt.standardize_per_set ? "per_set" : "train");
  out.file().write_attr<double>("c_grid", opt.c_grid);
  out.file().write_attr<std::int64_t>("cv_folds", opt.cv_folds);
  write_experiments(out.file(), plan, results);
  log::info("decode: accuracies on real held-out fMRI:");
  for (const auto& line : describe(plan, results)) log::info("  {}", line);
  if (opt.figures && is_root(comm)) {
    try {
      draw_figures(plan, results, cfg.run_dir());
      log::info("decode: figures {}/decoding_learning_curve.png, {}/decoding_confusion.png", cfg.run_dir(),
                cfg.run_dir());
    } catch (const std::exception& e) {
      log::warn("decode: no figures: {}", e.what());
    }
  }
  out.commit();
}

}  // namespace deepvox::decode
