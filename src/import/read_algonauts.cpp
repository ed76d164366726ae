// Algonauts Project 2023 challenge data (Gifford et al. 2023, arXiv:2301.03198; development kit
// https://github.com/gifale95/algonauts_2023). import.source is the challenge data folder (holding
// subj01 ... subj08) or one subject's folder:
//   subj01/training_split/training_fmri/lh_training_fmri.npy   float32, images x LH vertices
//   subj01/training_split/training_fmri/rh_training_fmri.npy   float32, images x RH vertices
//   subj01/training_split/training_images/train-0001_nsd-00013.png ...
//   subj01/roi_masks/lh.prf-visualrois_challenge_space.npy ...  one label per challenge vertex
// The responses are NSD betas already z-scored per session and averaged over repeats, one row per
// image. The file name's first index (train-0001) is the row, starting at 1. The second
// (nsd-00013) is the image's index in NSD's 73k set counted from 0: the tutorial says the ids
// "start from 0, so that you can directly use them for indexing the .hdf5 NSD images file".
// NSD's own 73KID (responses.tsv) counts from 1, so train-0001_nsd-00013.png is nsd-00014 here,
// the same id read_nsd gives that image. The challenge's ROI names are pickled dictionaries
// (mapping_*.npy), so names come from NSD's label tables (or import.roi_map).
#include <filesystem>
#include <regex>

#include "core/log.h"
#include "import/npy.h"
#include "import/readers.h"

namespace fs = std::filesystem;

namespace deepvox::import {

FmriDataset read_algonauts(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string source = cfg.str("import.source");
  extras.zscore_default = "none";  // the challenge already z-scored each session
  FmriDataset ds;
  ds.format = "algonauts";
  ds.source = source;
  on_root(comm, [&] {
    std::string subject = opt_str(cfg, "import.subject", "");
    std::string dir = source;
    if (!is_dir(dir + "/training_split")) {
      subject = subject_or_only(cfg, source, R"((subj0[1-8]))", "subj01");
      std::smatch m;
      if (std::regex_match(subject, m, std::regex(R"((?:subj)?0*([1-8]))"))) subject = "subj0" + m[1].str();
      dir = source + "/" + subject;
      if (!is_dir(dir + "/training_split"))
        throw ImportError("no " + subject + "/training_split folder under " + source);
    }
    ds.subject = subject.empty() ? fs::path(dir).filename().string() : subject;
    const std::string fmri_dir = dir + "/training_split/training_fmri";
    const std::string image_dir = dir + "/training_split/training_images";

    // 1. Responses: LH vertices, then RH.
    npy::Header hl, hr;
    auto lh = npy::read<float>(fmri_dir + "/lh_training_fmri.npy", &hl);
    auto rh = npy::read<float>(fmri_dir + "/rh_training_fmri.npy", &hr);
    for (const auto* h : {&hl, &hr})
      if (h->shape.size() != 2)
        throw ImportError(fmri_dir + ": the training fMRI arrays must be images x vertices");
    if (hl.shape[0] != hr.shape[0])
      throw ImportError(fmri_dir + ": lh_training_fmri.npy has " + std::to_string(hl.shape[0]) +
                        " images, rh_training_fmri.npy " + std::to_string(hr.shape[0]));
    const std::int64_t N = hl.shape[0], VL = hl.shape[1], VR = hr.shape[1], V = VL + VR;
    ds.n_voxels = V;
    ds.trial_responses.resize(static_cast<size_t>(N * V));
    for (std::int64_t i = 0; i < N; ++i) {
      std::copy_n(lh.data() + i * VL, VL, ds.trial_responses.data() + i * V);
      std::copy_n(rh.data() + i * VR, VR, ds.trial_responses.data() + i * V + VL);
    }

    // 2. Images: train-NNNN gives the row (from 1), nsd-NNNNN the 0-based NSD index.
    std::regex re(R"(train-(\d+)_nsd-(\d+)\.png)");
    auto images = find_files(image_dir, R"(train-\d+_nsd-\d+\.png)");
    if (static_cast<std::int64_t>(images.size()) != N)
      throw ImportError(image_dir + " holds " + std::to_string(images.size()) +
                        " train-NNNN_nsd-NNNNN.png images but " + fmri_dir + " has " + std::to_string(N) +
                        " rows");
    std::vector<std::string> ids(static_cast<size_t>(N)), paths(static_cast<size_t>(N));
    for (const auto& p : images) {
      std::smatch m;
      std::string name = fs::path(p).filename().string();
      std::regex_match(name, m, re);
      std::int64_t row = std::stoll(m[1]) - 1, nsd0 = std::stoll(m[2]);
      if (row < 0 || row >= N || !ids[static_cast<size_t>(row)].empty())
        throw ImportError(p + ": image index " + m[1].str() + " is outside 1.." + std::to_string(N) +
                          " or repeated");
      if (nsd0 < 0 || nsd0 >= 73000) throw ImportError(p + ": NSD index outside 0..72999");
      ids[static_cast<size_t>(row)] = stimulus_id_nsd(nsd0 + 1);
      paths[static_cast<size_t>(row)] = fs::absolute(p).string();
    }
    index_stimuli(ds, ids);
    if (static_cast<std::int64_t>(ds.stimulus_ids.size()) != N)
      throw ImportError(image_dir +
                        ": two images name the same NSD image; the challenge has one row per image");
    ds.stimulus_paths = paths;
    ds.trial_session.assign(static_cast<size_t>(N), 0);
    ds.trial_run.assign(static_cast<size_t>(N), 0);

    // 3. ROI masks: hemispheres, then each challenge-space label file (lh.V1v, rh.V1v and V1v).
    std::vector<std::uint8_t> lmask(static_cast<size_t>(V), 0), rmask(static_cast<size_t>(V), 0);
    std::fill_n(lmask.begin(), VL, 1);
    std::fill(rmask.begin() + VL, rmask.end(), 1);
    ds.rois["lh"] = lmask;
    ds.rois["rh"] = rmask;
    ds.roi_order = {"lh", "rh"};
    std::regex mask_re(R"(([lr]h)\.(.+)_challenge_space\.npy)");
    std::vector<std::string> bilateral;
    for (const auto& f : find_files(dir + "/roi_masks", R"([lr]h\..+_challenge_space\.npy)")) {
      std::smatch m;
      std::string name = fs::path(f).filename().string();
      std::regex_match(name, m, mask_re);
      const std::string hemi = m[1], cls = m[2];
      npy::Header h;
      auto labels = npy::read<float>(f, &h);
      const std::int64_t n = hemi == "lh" ? VL : VR;
      if (static_cast<std::int64_t>(labels.size()) != n)
        throw ImportError(f + " has " + std::to_string(labels.size()) + " entries; the " + hemi +
                          " fMRI has " + std::to_string(n) + " vertices");
      std::vector<float> full(static_cast<size_t>(V), 0.0f);
      std::copy(labels.begin(), labels.end(), full.begin() + (hemi == "lh" ? 0 : VL));
      auto table = label_table(cfg, cls, {dir + "/roi_masks"});
      if (table.empty())
        log::warn("import: no label names for {} (set import.roi_map); masks are named {}_N", cls, cls);
      size_t before = ds.roi_order.size();
      add_label_masks(ds, full, cls, table, hemi + ".");
      for (size_t k = before; k < ds.roi_order.size(); ++k) bilateral.push_back(ds.roi_order[k].substr(3));
    }
    for (const auto& name : bilateral) add_union_mask(ds, name, {"lh." + name, "rh." + name});
    log::info("import: {} images, {} + {} vertices, {} ROI masks from {}", N, VL, VR, ds.roi_order.size(),
              dir);
  });
  return ds;
}

}  // namespace deepvox::import
