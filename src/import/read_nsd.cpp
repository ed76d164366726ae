// Natural Scenes Dataset (Allen et al. 2022, Nat Neurosci 25:116; data manual
// https://cvnlab.slite.page/p/CT9Fwl4_hc/NSD-Data-Manual). import.source is the NSD root as the
// natural-scenes-dataset bucket lays it out:
//   nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.hdf5
//       dataset /betas, int16, percent signal change x 300; written from MATLAB as X x Y x Z x 750,
//       so a C (row-major) reader sees 750 x Z x Y x X. import.space and import.betas pick the folder.
//   nsddata/ppdata/subj01/behav/responses.tsv   one row per trial, sessions in order; columns
//       SESSION, RUN and 73KID (the 1-based image id, "nsd-%05d" here)
//   nsddata/ppdata/subj01/func1pt8mm/roi/*.nii.gz   label volumes (0 none, -1 outside cortex)
//   nsddata/freesurfer/subj01/label/<name>.mgz.ctab  their label names (shipped copies in
//       configs/nsd_labels are used when these are absent)
//   nsddata/experiments/nsd/nsd_stim_info_merged.csv  nsdId (0-based) and shared1000: the test set
//   nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5     /imgBrick 73000 x 425 x 425 x 3 uint8 (extract
//       reads it directly; its row r is nsd-(r+1))
// Voxels are those of import.mask (default: the nsdgeneral ROI), in volume order; sessions are read
// in parallel, z-scored on their own and averaged over repeats by write_responses (decisions.md).
#include <hdf5.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/log.h"
#include "import/nifti.h"
#include "import/readers.h"
#include "io/h5.h"

namespace fs = std::filesystem;

namespace deepvox::import {
namespace {

std::string nsd_subject(const std::string& s) {
  std::smatch m;
  if (!std::regex_match(s, m, std::regex(R"((?:subj)?0*([1-8]))")))
    throw ConfigError("import.subject: '" + s + "' is not an NSD subject (subj01 ... subj08)");
  return "subj0" + m[1].str();
}

// Reads session betas [trials x kept voxels]; integer betas are NSD's percent signal change x 300.
std::vector<float> read_betas(const std::string& path, std::int64_t expected_trials,
                              const std::int64_t grid[3], const std::vector<std::int64_t>& keep) {
  if (!h5::is_hdf5(path)) throw ImportError(path + ": missing or not an HDF5 file");
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open " + path);
  if (H5Lexists(file.id(), "betas", H5P_DEFAULT) <= 0) throw ImportError(path + ": has no dataset /betas");
  h5::Handle d(H5Dopen2(file.id(), "betas", H5P_DEFAULT), "open " + path + ":/betas");
  h5::Handle space(H5Dget_space(d.id()), "get dataspace of " + path);
  h5::Handle type(H5Dget_type(d.id()), "get type of " + path);
  hsize_t dims[4] = {0, 0, 0, 0};
  if (H5Sget_simple_extent_ndims(space.id()) != 4) throw ImportError(path + ": /betas is not 4-D");
  H5Sget_simple_extent_dims(space.id(), dims, nullptr);
  // grid = NIfTI (X, Y, Z); the MATLAB-written file appears as (trials, Z, Y, X) to a C reader.
  if (dims[1] != static_cast<hsize_t>(grid[2]) || dims[2] != static_cast<hsize_t>(grid[1]) ||
      dims[3] != static_cast<hsize_t>(grid[0]))
    throw ImportError(path + ": /betas is " + std::to_string(dims[0]) + " x " + std::to_string(dims[1]) +
                      " x " + std::to_string(dims[2]) + " x " + std::to_string(dims[3]) +
                      "; expected trials x " + std::to_string(grid[2]) + " x " + std::to_string(grid[1]) +
                      " x " + std::to_string(grid[0]) + " (trials x Z x Y x X of the ROI volumes' grid)");
  if (static_cast<std::int64_t>(dims[0]) != expected_trials)
    throw ImportError(path + ": /betas holds " + std::to_string(dims[0]) +
                      " trials but responses.tsv lists " + std::to_string(expected_trials) +
                      " for this session");
  const bool scaled = H5Tget_class(type.id()) == H5T_INTEGER;
  const std::int64_t nvox = grid[0] * grid[1] * grid[2], n_keep = static_cast<std::int64_t>(keep.size());
  std::vector<float> out(static_cast<size_t>(expected_trials * n_keep));
  const hsize_t step = 32;  // trials per read: bounded memory whatever the grid
  std::vector<float> slab;
  for (hsize_t t0 = 0; t0 < dims[0]; t0 += step) {
    hsize_t n = std::min<hsize_t>(step, dims[0] - t0);
    hsize_t start[4] = {t0, 0, 0, 0}, count[4] = {n, dims[1], dims[2], dims[3]};
    if (H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0)
      throw ImportError(path + ": cannot select trials");
    hsize_t total = n * static_cast<hsize_t>(nvox);
    h5::Handle mem(H5Screate_simple(1, &total, nullptr), "memory space");
    slab.resize(total);
    if (H5Dread(d.id(), H5T_NATIVE_FLOAT, mem.id(), space.id(), H5P_DEFAULT, slab.data()) < 0)
      throw ImportError(path + ": cannot read /betas trials " + std::to_string(t0));
    for (hsize_t t = 0; t < n; ++t)
      for (std::int64_t k = 0; k < n_keep; ++k) {
        float x = slab[static_cast<size_t>(t * static_cast<hsize_t>(nvox) +
                                           static_cast<hsize_t>(keep[static_cast<size_t>(k)]))];
        out[static_cast<size_t>((t0 + t) * static_cast<hsize_t>(n_keep) + static_cast<hsize_t>(k))] =
            scaled ? x / 300.0f : x;
      }
  }
  return out;
}

// Label volumes in a fixed priority: the first file to use a name gets it plain (V1v from
// prf-visualrois, not from Kastner2015), later ones are qualified (Kastner2015.V1v).
int priority(const std::string& stem) {
  static const std::vector<std::string> order = {"nsdgeneral",  "prf-visualrois", "floc-faces",
                                                 "floc-bodies", "floc-places",    "floc-words",
                                                 "streams",     "prf-eccrois"};
  std::string base = std::regex_replace(stem, std::regex("^[lr]h\\."), "");
  auto it = std::find(order.begin(), order.end(), base);
  int p = it == order.end() ? static_cast<int>(order.size()) : static_cast<int>(it - order.begin());
  return 2 * p + (base != stem ? 1 : 0);
}

}  // namespace

FmriDataset read_nsd(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string source = cfg.str("import.source");
  const std::string subj =
      nsd_subject(subject_or_only(cfg, source + "/nsddata_betas/ppdata", R"((subj0[1-8]))", "subj01"));
  const std::string space = opt_str(cfg, "import.space", "func1pt8mm");
  const std::string betas = opt_str(cfg, "import.betas", "betas_fithrf_GLMdenoise_RR");
  const auto wanted = opt_integers(cfg, "import.session_list");
  const std::string roi_dir = source + "/nsddata/ppdata/" + subj + "/" + space + "/roi";
  const std::string label_dir = source + "/nsddata/freesurfer/" + subj + "/label";
  extras.zscore_default = "session";

  FmriDataset ds;
  ds.format = "nsd";
  ds.source = source;
  ds.subject = subj;
  std::vector<std::string> files;
  std::vector<std::int64_t> trials_per_session, keep;
  std::int64_t grid[3] = {0, 0, 0};

  // 1. Trials, sessions and the voxel mask (rank 0).
  on_root(comm, [&] {
    std::string tsv = locate(source, {source + "/nsddata/ppdata/" + subj + "/behav/responses.tsv"},
                             "responses.tsv", "the NSD trial table of " + subj);
    Table t = read_table(tsv, '\t');
    int c_ses = t.column("SESSION", true), c_run = t.column("RUN", true), c_id = t.column("73KID", true);
    std::string beta_dir = source + "/nsddata_betas/ppdata/" + subj + "/" + space + "/" + betas;
    if (!is_dir(beta_dir))
      throw ImportError("no betas folder " + beta_dir + " (check import.space and import.betas)");
    std::map<std::int64_t, std::string> by_session;
    std::regex re("betas_session(\\d+)\\.hdf5");
    for (const auto& f : find_files(beta_dir, "betas_session\\d+\\.hdf5")) {
      std::smatch m;
      std::string name = fs::path(f).filename().string();
      std::regex_match(name, m, re);
      std::int64_t s = std::stoll(m[1]);
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), s) != wanted.end()) by_session[s] = f;
    }
    if (by_session.empty()) throw ImportError("no betas_sessionNN.hdf5 in " + beta_dir);
    std::vector<std::string> ids;
    for (const auto& [s, f] : by_session) {
      std::int64_t n = 0;
      for (size_t r = 0; r < t.rows.size(); ++r) {
        const auto& row = t.rows[r];
        if (parse_int(row[static_cast<size_t>(c_ses)], tsv) != s) continue;
        std::string where = tsv + " line " + std::to_string(r + 2);
        std::int64_t id = parse_int(row[static_cast<size_t>(c_id)], where);
        if (id < 1 || id > 73000)
          throw ImportError(where + ": 73KID " + std::to_string(id) + " is outside 1..73000");
        ids.push_back(stimulus_id_nsd(id));
        ds.trial_session.push_back(s);
        ds.trial_run.push_back(parse_int(row[static_cast<size_t>(c_run)], where));
        ++n;
      }
      if (n == 0) throw ImportError(tsv + " has no trial of session " + std::to_string(s) + " (" + f + ")");
      files.push_back(f);
      trials_per_session.push_back(n);
    }
    index_stimuli(ds, ids);

    std::string mask = opt_str(cfg, "import.mask", "nsdgeneral");
    std::string mask_file = is_file(mask) ? mask : roi_dir + "/" + mask + ".nii.gz";
    if (mask == "all") mask_file = roi_dir + "/nsdgeneral.nii.gz";  // only for the grid
    Volume m = read_nifti(mask_file);
    grid[0] = m.nx, grid[1] = m.ny, grid[2] = m.nz;
    for (std::int64_t i = 0; i < m.voxels(); ++i)
      if (mask == "all" ||
          (std::isfinite(m.data[static_cast<size_t>(i)]) && m.data[static_cast<size_t>(i)] > 0.0f))
        keep.push_back(i);
    if (keep.empty()) throw ImportError(mask_file + ": the mask keeps no voxel");
    ds.n_voxels = static_cast<std::int64_t>(keep.size());
    for (auto flat : keep) append_ijk(ds.ijk, flat, m.nx, m.ny);
    if (m.has_affine) ds.affine = m.affine;
    log::info("import: {} sessions, {} trials, {} voxels (mask {})", files.size(), ids.size(), keep.size(),
              mask == "all" ? "all" : mask_file);
  });

  // 2. Session betas in parallel, gathered on rank 0 in session order.
  std::int64_t n_sessions = static_cast<std::int64_t>(files.size()),
               n_keep = static_cast<std::int64_t>(keep.size());
  MPI_Bcast(&n_sessions, 1, MPI_INT64_T, 0, comm);
  MPI_Bcast(&n_keep, 1, MPI_INT64_T, 0, comm);
  MPI_Bcast(grid, 3, MPI_INT64_T, 0, comm);
  files.resize(static_cast<size_t>(n_sessions));
  trials_per_session.resize(static_cast<size_t>(n_sessions));
  keep.resize(static_cast<size_t>(n_keep));
  MPI_Bcast(trials_per_session.data(), static_cast<int>(n_sessions), MPI_INT64_T, 0, comm);
  MPI_Bcast(keep.data(), static_cast<int>(n_keep), MPI_INT64_T, 0, comm);
  for (auto& f : files) {
    std::int64_t len = static_cast<std::int64_t>(f.size());
    MPI_Bcast(&len, 1, MPI_INT64_T, 0, comm);
    f.resize(static_cast<size_t>(len));
    MPI_Bcast(f.data(), static_cast<int>(len), MPI_CHAR, 0, comm);
  }
  read_sessions(
      n_sessions, n_keep,
      [&](std::int64_t s) {
        return read_betas(files[static_cast<size_t>(s)], trials_per_session[static_cast<size_t>(s)], grid,
                          keep);
      },
      ds.trial_responses, comm);

  // 3. ROI label volumes, the shared1000 test split and the image brick (rank 0).
  on_root(comm, [&] {
    std::vector<std::string> roi_files;
    for (const auto& r : opt_strings(cfg, "import.rois"))
      roi_files.push_back(is_file(r) ? r : roi_dir + "/" + r + ".nii.gz");
    if (roi_files.empty())
      for (const auto& f : find_files(roi_dir, ".*\\.nii(\\.gz)?"))
        if (fs::path(f).parent_path() == fs::path(roi_dir)) roi_files.push_back(f);
    std::stable_sort(roi_files.begin(), roi_files.end(),
                     [](auto& a, auto& b) { return priority(file_stem(a)) < priority(file_stem(b)); });
    for (const auto& f : roi_files) {
      Volume r = read_nifti(f);
      if (r.nx != grid[0] || r.ny != grid[1] || r.nz != grid[2]) {
        log::warn("import: skipping {}: its grid differs from the betas'", f);
        continue;
      }
      std::vector<float> labels;
      for (auto flat : keep) labels.push_back(r.data[static_cast<size_t>(flat)]);
      std::string stem = file_stem(f);
      std::string hemi = std::regex_match(stem, std::regex("^[lr]h\\..*")) ? stem.substr(0, 3) : "";
      std::string cls = stem.substr(hemi.size());
      add_label_masks(ds, labels, cls, label_table(cfg, cls, {label_dir}), hemi);
    }
    log::info("import: {} ROI masks from {} label volumes", ds.roi_order.size(), roi_files.size());

    std::string info = source + "/nsddata/experiments/nsd/nsd_stim_info_merged.csv";
    if (is_file(info)) {
      Table t = read_table(info, ',');
      int c_id = t.column("nsdId", true), c_shared = t.column("shared1000", true);
      std::set<std::string> shared;
      for (const auto& row : t.rows) {
        const std::string& v = row[static_cast<size_t>(c_shared)];
        if (v == "True" || v == "true" || v == "1")
          shared.insert(stimulus_id_nsd(parse_int(row[static_cast<size_t>(c_id)], info) + 1));
      }
      for (size_t s = 0; s < ds.stimulus_ids.size(); ++s)
        (shared.count(ds.stimulus_ids[s]) ? ds.split_test : ds.split_train)
            .push_back(static_cast<std::int64_t>(s));
      extras.split_rule = "NSD convention: the shared1000 images (nsd_stim_info_merged.csv) are the test set";
    } else {
      log::warn("import: no {}; the test split will be seeded instead of NSD's shared1000", info);
    }
    std::string brick =
        opt_str(cfg, "import.stimuli", source + "/nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5");
    if (h5::is_hdf5(brick))
      extras.stimulus_images = fs::absolute(brick).string();
    else
      log::warn("import: no image brick at {} (set import.stimuli to nsd_stimuli.hdf5)", brick);
  });
  return ds;
}

// ---------------- label tables (readers.h; shared with the Algonauts and BOLD5000 2.0 readers)
// ----------------
namespace {
std::map<std::int64_t, std::string> read_ctab(const std::string& path) {
  // FreeSurfer colour tables as NSD ships them: "index name [r g b a]" per line.
  std::map<std::int64_t, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::int64_t idx;
    std::string name;
    if (line.empty() || line[0] == '#' || !(ls >> idx >> name)) continue;
    if (idx > 0) out[idx] = name;
  }
  return out;
}

std::vector<std::string> shipped_label_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("DEEPVOX_LABELS_DIR")) dirs.emplace_back(env);
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    fs::path exe_dir = fs::path(std::string(buf, static_cast<size_t>(n))).parent_path();
    for (fs::path p = exe_dir; !p.empty() && p != p.root_path(); p = p.parent_path())
      dirs.push_back((p / "configs" / "nsd_labels").string());
  }
  dirs.push_back((fs::current_path() / "configs" / "nsd_labels").string());
#ifdef DEEPVOX_SOURCE_DIR
  dirs.push_back(std::string(DEEPVOX_SOURCE_DIR) + "/configs/nsd_labels");  // the checkout it was built from
#endif
  return dirs;
}
}  // namespace

std::map<std::int64_t, std::string> label_table(const Config& cfg, const std::string& roi_class,
                                                const std::vector<std::string>& extra_dirs) {
  std::string map_path = opt_str(cfg, "import.roi_map", "");
  if (!map_path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(map_path);
    } catch (const std::exception& e) {
      throw ImportError("import.roi_map " + map_path + ": " + e.what());
    }
    if (root[roi_class]) {
      std::map<std::int64_t, std::string> out;
      for (const auto& kv : root[roi_class]) out[kv.first.as<std::int64_t>()] = kv.second.as<std::string>();
      return out;
    }
  }
  std::vector<std::string> dirs = extra_dirs;
  for (auto& d : shipped_label_dirs()) dirs.push_back(d);
  for (const auto& d : dirs)
    for (const auto& name : {roi_class + ".mgz.ctab", roi_class + ".ctab"})
      if (is_file(d + "/" + name)) return read_ctab(d + "/" + name);
  return {};
}

void add_label_masks(FmriDataset& ds, const std::vector<float>& labels, const std::string& roi_class,
                     const std::map<std::int64_t, std::string>& table, const std::string& prefix) {
  std::set<std::int64_t> values;
  for (float x : labels) {
    auto r = static_cast<std::int64_t>(std::llround(x));
    if (std::isfinite(x) && r > 0 && std::fabs(x - static_cast<float>(r)) < 1e-3f) values.insert(r);
  }
  for (auto value : values) {
    auto it = table.find(value);
    std::string base = it != table.end() ? it->second : roi_class + "_" + std::to_string(value);
    std::string name = prefix + base;
    if (ds.rois.count(name)) name = prefix + roi_class + "." + base;
    std::vector<std::uint8_t> mask(labels.size());
    for (size_t v = 0; v < labels.size(); ++v) mask[v] = std::llround(labels[v]) == value ? 1 : 0;
    ds.rois[name] = std::move(mask);
    ds.roi_order.push_back(name);
  }
}

void add_union_mask(FmriDataset& ds, const std::string& name, const std::vector<std::string>& parts) {
  if (ds.rois.count(name)) return;
  std::vector<std::uint8_t> mask(static_cast<size_t>(ds.n_voxels), 0);
  bool any = false;
  for (const auto& p : parts) {
    auto it = ds.rois.find(p);
    if (it == ds.rois.end()) continue;
    any = true;
    for (size_t v = 0; v < mask.size(); ++v) mask[v] |= it->second[v];
  }
  if (!any) return;
  ds.rois[name] = std::move(mask);
  ds.roi_order.push_back(name);
}

}  // namespace deepvox::import
