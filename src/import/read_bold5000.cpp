// BOLD5000 release 1.0, the ROI files (Chang et al. 2019, Sci Data 6:49; figshare 6459449,
// "BOLD5000_ROIs.zip" and "BOLD5000_Stimuli.zip"). The layout this reader expects is the one those
// archives unpack to (see also https://bold5000-dataset.github.io/website/overview.html):
//   ROIs/CSI1/h5/CSI1_ROIs_TR34.h5   one top-level dataset per ROI (LHEarlyVis, LHLOC, ..., RHRSC),
//                                    float, trials x voxels, trials in presentation order; TR1..TR5
//                                    and TR34 (the mean of TR3 and TR4) are the time points offered
//   ROIs/stim_lists/CSI01_stim_lists.txt   one image file name per line, in trial order; repeated
//                                    images carry a "rep_" prefix
//   BOLD5000_Stimuli/Scene_Stimuli/Presented_Stimuli/{COCO,ImageNet,Scene}/<file name>
// 4,916 distinct images: 4,803 shown once, 112 shown four times, one shown three times: 5,254 trials
// for CSI1-3; CSI4 stopped after 9 sessions, 3,108 trials. Every run holds 37 trials (5,254 = 142 x
// 37), which gives each trial its run; the ROI release does not record sessions (all 0).
#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "core/log.h"
#include "import/readers.h"
#include "io/h5.h"

namespace fs = std::filesystem;

namespace deepvox::import {
namespace {

constexpr std::int64_t kTrialsPerRun = 37;

std::int64_t subject_number(const std::string& subject) {
  std::smatch m;
  if (!std::regex_match(subject, m, std::regex(R"((?:sub-)?CSI0*(\d+))")))
    throw ConfigError("import.subject: '" + subject +
                      "' is not a BOLD5000 subject (CSI1, CSI2, CSI3 or CSI4)");
  return std::stoll(m[1]);
}

std::vector<std::string> read_stim_list(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ImportError(path + ": cannot open the stimulus list");
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    line.erase(line.find_last_not_of(" \t\r") + 1);
    line.erase(0, line.find_first_not_of(" \t"));
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace

std::string bold5000_image_set(const std::string& file_name) {
  if (file_name.rfind("COCO_", 0) == 0) return "COCO";
  if (std::regex_match(file_name, std::regex(R"(n\d{8}_\d+\.(JPEG|jpeg|jpg))"))) return "ImageNet";
  return "Scene";
}

Bold5000Images index_bold5000_images(const Config& cfg, const std::string& source) {
  Bold5000Images out;
  std::string root = opt_str(cfg, "import.stimuli", "");
  if (root.empty()) {
    for (const auto& c : {source + "/BOLD5000_Stimuli/Scene_Stimuli/Presented_Stimuli",
                          source + "/Scene_Stimuli/Presented_Stimuli", source + "/Presented_Stimuli"})
      if (is_dir(c)) root = c;
  } else if (!is_dir(root)) {
    throw ImportError("import.stimuli: " + root + " is not a folder (expected .../Presented_Stimuli)");
  }
  if (root.empty()) return out;
  out.root = root;
  for (const char* set : {"COCO", "ImageNet", "Scene"}) {
    std::string dir = root + "/" + set;
    if (!is_dir(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().filename().string();
      out.path[name] = fs::absolute(e.path()).string();
      out.set[name] = set;
    }
  }
  return out;
}

void attach_bold5000_images(FmriDataset& ds, const Bold5000Images& images) {
  ds.category_names = {"COCO", "ImageNet", "Scene"};
  ds.category_index.clear();
  ds.stimulus_paths.clear();
  std::int64_t missing = 0;
  for (const auto& id : ds.stimulus_ids) {
    auto it = images.path.find(id);
    if (it == images.path.end()) it = images.path.find("rep_" + id);
    std::string set = it != images.path.end() ? images.set.at(it->first) : bold5000_image_set(id);
    ds.stimulus_paths.push_back(it != images.path.end() ? it->second : "");
    if (it == images.path.end()) ++missing;
    ds.category_index.push_back(set == "COCO" ? 0 : set == "ImageNet" ? 1 : 2);
  }
  if (images.root.empty()) {
    log::warn(
        "import: no BOLD5000_Stimuli/Scene_Stimuli/Presented_Stimuli folder under the source; "
        "set import.stimuli to it to record image paths");
    ds.stimulus_paths.clear();
  } else if (missing > 0) {
    log::warn("import: {} of {} images not found under {}", missing, ds.stimulus_ids.size(), images.root);
  }
}

void bold5000_repetition_split(FmriDataset& ds, ReaderExtras& extras) {
  std::vector<std::int64_t> count(ds.stimulus_ids.size(), 0);
  for (auto s : ds.trial_stimulus) ++count[static_cast<size_t>(s)];
  for (size_t s = 0; s < count.size(); ++s)
    (count[s] >= 4 ? ds.split_test : ds.split_train).push_back(static_cast<std::int64_t>(s));
  extras.split_rule = "BOLD5000 convention: the images shown 4 times are the test set";
  log::info("import: {} images shown 4 times form the test set", ds.split_test.size());
}

FmriDataset read_bold5000(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string source = cfg.str("import.source");
  const std::string subject = subject_or_only(cfg, source + "/ROIs", R"((CSI\d))", "CSI1");
  const std::int64_t n = subject_number(subject);
  const std::string subj = "CSI" + std::to_string(n);
  const std::string tr = opt_str(cfg, "import.tr", "TR34");
  if (!std::regex_match(tr, std::regex(R"(TR(1|2|3|4|5|34))")))
    throw ConfigError("import.tr: '" + tr + "' is not one of TR1, TR2, TR3, TR4, TR5, TR34");
  extras.zscore_default = "none";  // decisions.md: the ROI release's values are stored as published

  FmriDataset ds;
  ds.format = "bold5000";
  ds.source = source;
  ds.subject = subj;
  on_root(comm, [&] {
    // 1. Locate the files.
    const std::string roi_name = subj + "_ROIs_" + tr + ".h5";
    char list_name[64];
    std::snprintf(list_name, sizeof list_name, "CSI%02lld_stim_lists.txt", static_cast<long long>(n));
    std::string roi_file = locate(
        source, {source + "/ROIs/" + subj + "/h5/" + roi_name, source + "/" + subj + "/h5/" + roi_name},
        roi_name, "the BOLD5000 ROI file");
    std::string list_file =
        locate(source, {source + "/ROIs/stim_lists/" + list_name, source + "/stim_lists/" + list_name},
               list_name, "the BOLD5000 stimulus list");

    // 2. Trials: one line per trial, "rep_" stripped (run-files.md's id rule).
    auto names = read_stim_list(list_file);
    const std::int64_t T = static_cast<std::int64_t>(names.size());
    const std::int64_t expected = n <= 3 ? 5254 : 3108;
    if (T != expected)
      log::warn("import: {} lists {} trials; the BOLD5000 release has {} for {}", list_file, T, expected,
                subj);
    std::vector<std::string> ids;
    for (const auto& name : names) ids.push_back(strip_rep_prefix(name));
    index_stimuli(ds, ids);
    for (std::int64_t t = 0; t < T; ++t) {
      ds.trial_session.push_back(0);
      ds.trial_run.push_back(t / kTrialsPerRun);
    }

    // 3. ROIs, in the file's order; the voxel columns follow them.
    auto file = h5::File::open(roi_file, h5::Mode::Read);
    std::vector<std::string> roi_names;
    std::vector<std::vector<float>> blocks;
    std::vector<std::int64_t> widths;
    for (const auto& child : file.children()) {
      if (file.is_group(child)) continue;
      h5::Dataset d = file.dataset(child);
      auto shape = d.shape();
      if (shape.size() != 2)
        throw ImportError(roi_file + ": /" + child + " is not a 2-D trials x voxels dataset");
      std::vector<float> values = d.read_all<float>();
      std::int64_t width = shape[1];
      if (shape[0] != T) {
        if (shape[1] != T)
          throw ImportError(roi_file + ": /" + child + " has shape " + std::to_string(shape[0]) + " x " +
                            std::to_string(shape[1]) + " but " + list_file + " lists " + std::to_string(T) +
                            " trials");
        // Written voxels x trials (a MATLAB-style writer): transpose to trials x voxels.
        std::vector<float> t(values.size());
        for (std::int64_t i = 0; i < shape[0]; ++i)
          for (std::int64_t j = 0; j < shape[1]; ++j)
            t[static_cast<size_t>(j * shape[0] + i)] = values[static_cast<size_t>(i * shape[1] + j)];
        values.swap(t);
        width = shape[0];
      }
      roi_names.push_back(child);
      blocks.push_back(std::move(values));
      widths.push_back(width);
    }
    if (roi_names.empty()) throw ImportError(roi_file + ": holds no ROI dataset");
    std::int64_t V = 0;
    for (auto w : widths) V += w;
    ds.n_voxels = V;
    ds.trial_responses.assign(static_cast<size_t>(T * V), 0.0f);
    std::int64_t col0 = 0;
    for (size_t r = 0; r < roi_names.size(); ++r) {
      std::vector<std::uint8_t> mask(static_cast<size_t>(V), 0);
      for (std::int64_t t = 0; t < T; ++t)
        std::copy_n(blocks[r].data() + t * widths[r], widths[r], ds.trial_responses.data() + t * V + col0);
      std::fill_n(mask.begin() + col0, widths[r], 1);
      ds.rois[roi_names[r]] = std::move(mask);
      ds.roi_order.push_back(roi_names[r]);
      col0 += widths[r];
    }
    // Bilateral masks: LHEarlyVis + RHEarlyVis = EarlyVis, and so on.
    for (const auto& name : roi_names)
      if (name.size() > 2 && (name.rfind("LH", 0) == 0 || name.rfind("RH", 0) == 0))
        add_union_mask(ds, name.substr(2), {"LH" + name.substr(2), "RH" + name.substr(2)});
    log::info("import: {} ROIs, {} voxels, {} trials, {} distinct images from {}", roi_names.size(), V, T,
              ds.stimulus_ids.size(), roi_file);

    // 4. Images, categories (the source image set) and the test split (the 4x repeated images).
    attach_bold5000_images(ds, index_bold5000_images(cfg, source));
    bold5000_repetition_split(ds, extras);
    if (n <= 3 && T == expected && ds.split_test.size() != 112)
      log::warn("import: {} images are shown 4 times; BOLD5000 has 112", ds.split_test.size());
  });
  return ds;
}

}  // namespace deepvox::import
