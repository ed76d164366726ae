// BOLD5000 release 2.0: GLMsingle single-trial betas (Chang et al. 2021; figshare 14456124;
// https://github.com/BOLD5000-dataset/BOLD5000). The files this reader expects:
//   CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_ses-01.nii.gz   one per session, X x Y x Z x trials,
//       trials in the session's presentation order (GLMsingle's output order); import.betas picks
//       the beta version (TYPEA-ASSUMEHRF, TYPEB-FITHRF, TYPEC-FITHRF-GLMDENOISE, TYPED-...-RR)
//   sub-CSI1/ses-01/func/sub-CSI1_ses-01_task-5000scenes_run-01_events.tsv   the BIDS events of
//       OpenNeuro ds001499: one row per trial, the image file name in column ImgName
//   CSI1_brainmask.nii.gz (optional)   the voxels kept, unless import.mask says otherwise
// Both may sit anywhere under import.source; they are found by name. Sessions are z-scored on their
// own by default (decisions.md). The images are the release-1 stimuli (Presented_Stimuli).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "core/log.h"
#include "core/mpi.h"
#include "import/nifti.h"
#include "import/readers.h"

namespace deepvox::import {
namespace {

struct SessionFiles {
  std::int64_t session = 0;
  std::string betas;
  std::vector<std::string> events;  // by run
  std::vector<std::int64_t> runs;
};

// Voxels kept: flat indices into the X x Y x Z grid, ascending (the volume's own order).
std::vector<std::int64_t> mask_voxels(const Config& cfg, const std::string& source, const std::string& subj,
                                      const Volume& first_session, std::string& rule) {
  std::string mask = opt_str(cfg, "import.mask", "");
  const std::int64_t nvox = first_session.voxels();
  std::vector<std::int64_t> keep;
  if (mask == "all") {
    for (std::int64_t i = 0; i < nvox; ++i) keep.push_back(i);
    rule = "all voxels";
    return keep;
  }
  if (mask.empty()) {
    auto found = find_files(source, subj + "_brainmask\\.nii(\\.gz)?");
    if (!found.empty()) mask = found.front();
  }
  if (!mask.empty()) {
    Volume m = read_nifti(mask);
    if (m.nx != first_session.nx || m.ny != first_session.ny || m.nz != first_session.nz)
      throw ImportError(mask + ": mask grid " + std::to_string(m.nx) + "x" + std::to_string(m.ny) + "x" +
                        std::to_string(m.nz) + " differs from the betas' " +
                        std::to_string(first_session.nx) + "x" + std::to_string(first_session.ny) + "x" +
                        std::to_string(first_session.nz));
    for (std::int64_t i = 0; i < nvox; ++i)
      if (std::isfinite(m.data[static_cast<size_t>(i)]) && m.data[static_cast<size_t>(i)] != 0.0f)
        keep.push_back(i);
    rule = "mask " + mask;
    return keep;
  }
  // No mask: the voxels GLMsingle estimated (not zero or NaN in every trial of the first session).
  for (std::int64_t i = 0; i < nvox; ++i)
    for (std::int64_t t = 0; t < first_session.nt; ++t) {
      float x = first_session.data[static_cast<size_t>(t * nvox + i)];
      if (std::isfinite(x) && x != 0.0f) {
        keep.push_back(i);
        break;
      }
    }
  rule = "voxels with a non-zero beta in the first session";
  return keep;
}

}  // namespace

FmriDataset read_bold5000_v2(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string source = cfg.str("import.source");
  std::string subj = opt_str(cfg, "import.subject", "");
  if (subj.empty()) {  // the only subject with betas
    std::set<std::string> found;
    for (const auto& f : find_files(source, R"(CSI\d_GLMbetas-.*\.nii(\.gz)?)"))
      found.insert(std::filesystem::path(f).filename().string().substr(0, 4));
    if (found.size() != 1)
      throw ConfigError("import.subject must be set (for example import.subject=CSI1): " +
                        std::to_string(found.size()) + " subjects have betas under " + source);
    subj = *found.begin();
  }
  if (subj.rfind("sub-", 0) == 0) subj = subj.substr(4);
  if (!std::regex_match(subj, std::regex(R"(CSI\d)")))
    throw ConfigError("import.subject: '" + subj + "' is not a BOLD5000 subject (CSI1, CSI2, CSI3 or CSI4)");
  // import.betas is shared with NSD, whose folder name is its schema default: that means "unset" here.
  std::string betas = opt_str(cfg, "import.betas", "");
  if (betas.empty() || betas == "betas_fithrf_GLMdenoise_RR") betas = "TYPED-FITHRF-GLMDENOISE-RR";
  const auto wanted = opt_integers(cfg, "import.session_list");
  extras.zscore_default = "session";

  FmriDataset ds;
  ds.format = "bold5000_v2";
  ds.source = source;
  ds.subject = subj;

  // 1. Files per session, the trial table and the voxel mask (rank 0), shared with every rank.
  std::vector<SessionFiles> sessions;
  std::vector<std::int64_t> keep;
  std::int64_t nx = 0, ny = 0, nz = 0;
  on_root(comm, [&] {
    std::regex beta_re(subj + "_GLMbetas-" + betas + "_ses-(\\d+)\\.nii(\\.gz)?");
    for (const auto& f : find_files(source, subj + "_GLMbetas-" + betas + "_ses-\\d+\\.nii(\\.gz)?")) {
      std::smatch m;
      std::string name = std::filesystem::path(f).filename().string();
      std::regex_match(name, m, beta_re);
      SessionFiles s;
      s.session = std::stoll(m[1]);
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), s.session) == wanted.end()) continue;
      s.betas = f;
      char ses[16];
      std::snprintf(ses, sizeof ses, "%02lld", static_cast<long long>(s.session));
      std::regex ev_re("sub-" + subj + "_ses-" + ses + "_task-5000scenes_run-(\\d+)_events\\.tsv");
      for (const auto& e : find_files(source, "sub-" + subj + "_ses-" + std::string(ses) +
                                                  "_task-5000scenes_run-\\d+_events\\.tsv")) {
        std::smatch em;
        std::string en = std::filesystem::path(e).filename().string();
        std::regex_match(en, em, ev_re);
        s.events.push_back(e);
        s.runs.push_back(std::stoll(em[1]));
      }
      if (s.events.empty())
        throw ImportError("no BIDS events (sub-" + subj + "_ses-" + ses +
                          "_task-5000scenes_run-NN_events.tsv) under " + source + " for " + f);
      sessions.push_back(std::move(s));
    }
    if (sessions.empty())
      throw ImportError("no " + subj + "_GLMbetas-" + betas + "_ses-NN.nii.gz under " + source +
                        (wanted.empty() ? "" : " for the sessions in import.session_list"));
    std::sort(sessions.begin(), sessions.end(), [](auto& a, auto& b) { return a.session < b.session; });

    // Trials: the events of each run, runs in order (GLMsingle's order within a session).
    std::vector<std::string> ids;
    for (const auto& s : sessions)
      for (size_t k = 0; k < s.events.size(); ++k) {
        Table t = read_table(s.events[k], '\t');
        int col = t.column("ImgName", true);
        for (const auto& row : t.rows) {
          ids.push_back(strip_rep_prefix(row[static_cast<size_t>(col)]));
          ds.trial_session.push_back(s.session);
          ds.trial_run.push_back(s.runs[k]);
        }
      }
    index_stimuli(ds, ids);

    Volume first = read_nifti(sessions.front().betas);
    nx = first.nx, ny = first.ny, nz = first.nz;
    std::string rule;
    keep = mask_voxels(cfg, source, subj, first, rule);
    if (keep.empty()) throw ImportError("the voxel mask (" + rule + ") keeps no voxel");
    log::info("import: {} sessions, {} trials, {} voxels ({})", sessions.size(), ids.size(), keep.size(),
              rule);
    ds.n_voxels = static_cast<std::int64_t>(keep.size());
    for (auto flat : keep) append_ijk(ds.ijk, flat, nx, ny);
    if (first.has_affine) ds.affine = first.affine;
  });
  std::int64_t n_sessions = static_cast<std::int64_t>(sessions.size()),
               n_keep = static_cast<std::int64_t>(keep.size());
  MPI_Bcast(&n_sessions, 1, MPI_INT64_T, 0, comm);
  MPI_Bcast(&n_keep, 1, MPI_INT64_T, 0, comm);
  std::int64_t grid[3] = {nx, ny, nz};
  MPI_Bcast(grid, 3, MPI_INT64_T, 0, comm);
  keep.resize(static_cast<size_t>(n_keep));
  MPI_Bcast(keep.data(), static_cast<int>(n_keep), MPI_INT64_T, 0, comm);
  std::vector<std::string> beta_files;
  std::vector<std::int64_t> trials_per_session;
  for (const auto& s : sessions) {
    beta_files.push_back(s.betas);
    std::int64_t n = 0;
    for (size_t t = 0; t < ds.trial_session.size(); ++t) n += ds.trial_session[t] == s.session;
    trials_per_session.push_back(n);
  }
  beta_files.resize(static_cast<size_t>(n_sessions));
  trials_per_session.resize(static_cast<size_t>(n_sessions));
  for (std::int64_t s = 0; s < n_sessions; ++s) {
    std::int64_t len = static_cast<std::int64_t>(beta_files[static_cast<size_t>(s)].size());
    MPI_Bcast(&len, 1, MPI_INT64_T, 0, comm);
    beta_files[static_cast<size_t>(s)].resize(static_cast<size_t>(len));
    MPI_Bcast(beta_files[static_cast<size_t>(s)].data(), static_cast<int>(len), MPI_CHAR, 0, comm);
  }
  MPI_Bcast(trials_per_session.data(), static_cast<int>(n_sessions), MPI_INT64_T, 0, comm);

  // 2. Betas: sessions spread over ranks (gzip decompression dominates), masked, gathered on rank 0.
  read_sessions(
      n_sessions, n_keep,
      [&](std::int64_t s) {
        const std::string& file = beta_files[static_cast<size_t>(s)];
        Volume v = read_nifti(file);
        if (v.nx != grid[0] || v.ny != grid[1] || v.nz != grid[2])
          throw ImportError(file + ": grid differs from the first session's");
        if (v.nt != trials_per_session[static_cast<size_t>(s)])
          throw ImportError(file + " holds " + std::to_string(v.nt) +
                            " trials but its events.tsv files list " +
                            std::to_string(trials_per_session[static_cast<size_t>(s)]));
        const std::int64_t nvox = v.voxels();
        std::vector<float> out(static_cast<size_t>(v.nt * n_keep));
        for (std::int64_t t = 0; t < v.nt; ++t)
          for (std::int64_t k = 0; k < n_keep; ++k)
            out[static_cast<size_t>(t * n_keep + k)] =
                v.data[static_cast<size_t>(t * nvox + keep[static_cast<size_t>(k)])];
        return out;
      },
      ds.trial_responses, comm);

  // 3. ROI masks from import.rois (NIfTI masks or label volumes on the betas' grid).
  on_root(comm, [&] {
    for (const auto& entry : opt_strings(cfg, "import.rois")) {
      auto eq = entry.find('=');
      std::string path = eq == std::string::npos ? entry : entry.substr(eq + 1);
      std::string stem = file_stem(path);
      Volume r = read_nifti(path);
      if (r.nx != grid[0] || r.ny != grid[1] || r.nz != grid[2])
        throw ImportError(path + ": ROI grid differs from the betas'");
      std::vector<float> labels;
      for (auto flat : keep) labels.push_back(r.data[static_cast<size_t>(flat)]);
      std::string name = eq == std::string::npos
                             ? std::regex_replace(stem, std::regex("^(sub-)?" + subj + "_(mask-)?"), "")
                             : entry.substr(0, eq);
      auto table = label_table(cfg, stem, {std::filesystem::path(path).parent_path().string()});
      bool binary = std::all_of(labels.begin(), labels.end(), [](float x) { return !(x > 0) || x == 1.0f; });
      if (binary && table.empty()) table[1] = name;
      add_label_masks(ds, labels, stem, table, "");
    }
    attach_bold5000_images(ds, index_bold5000_images(cfg, source));
    bold5000_repetition_split(ds, extras);
  });
  return ds;
}

}  // namespace deepvox::import
