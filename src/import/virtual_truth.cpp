// truth.h5 writer (see virtual_truth.h and the layout in virtual_subject.h).
#include "import/virtual_truth.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "core/run_file.h"
#include "io/h5.h"

namespace deepvox::import {

std::vector<float> category_r2(const std::vector<float>& signal, std::int64_t n, std::int64_t V,
                               const std::vector<std::int64_t>& labels, std::int64_t C) {
  std::vector<float> out(static_cast<std::size_t>(V), 0.0f);
  std::vector<double> sum(static_cast<std::size_t>(C)), count(static_cast<std::size_t>(C));
  for (std::int64_t v = 0; v < V; ++v) {
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0.0);
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      sum[labels[i]] += signal[i * V + v];
      count[labels[i]] += 1;
      total += signal[i * V + v];
    }
    const double mean = total / n;
    double between = 0, all = 0;
    for (std::int64_t c = 0; c < C; ++c)
      if (count[c] > 0) between += count[c] * std::pow(sum[c] / count[c] - mean, 2);
    for (std::int64_t i = 0; i < n; ++i) all += std::pow(signal[i * V + v] - mean, 2);
    out[v] = all > 0 ? static_cast<float>(between / all) : 0.0f;
  }
  return out;
}

namespace {

float median(std::vector<float> x) {
  if (x.empty()) return 0.0f;
  std::sort(x.begin(), x.end());
  const std::size_t m = x.size() / 2;
  return x.size() % 2 ? x[m] : 0.5f * (x[m - 1] + x[m]);
}

}  // namespace

void write_truth_file(const std::string& path, const TruthInputs& in) {
  const DemoStimuli& st = in.stimuli;
  const CortexParams& p = in.params;
  const std::int64_t S = static_cast<std::int64_t>(st.images.size()), V = p.voxels(), C = p.categories();
  const std::int64_t H = st.options.size;
  const int repeats = static_cast<int>(in.cfg.integer("import.test_repeats"));
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  h5::File f = h5::File::open(path, h5::Mode::Create);

  // Provenance (run-files.md), written here rather than by write_provenance(), whose clock broadcast
  // is collective while this file is written by one rank.
  f.write_attr("deepvox_version", std::string(version()));
  f.write_attr("command_line", command_line());
  f.write_attr("config", in.cfg.to_yaml());
  f.write_attr<std::int64_t>("mpi_ranks", in.ranks);
  f.write_attr("created_utc", utc_now());
  f.write_attr("stage", "import");
  f.write_attr("manifest", std::filesystem::absolute(st.manifest).string());
  f.write_attr("description",
               "virtual subject of the deepvox demo: generating parameters (/cortex), noise-free responses "
               "(/noise_free) and planted answers (/planted, /voxels); see src/import/virtual_subject.h");

  // Stimuli.
  std::vector<std::string> ids;
  std::vector<std::int64_t> category, group, bbox;
  std::vector<std::uint8_t> test;
  for (const auto& im : st.images) {
    ids.push_back(im.id);
    category.push_back(im.category);
    group.push_back(im.group);
    test.push_back(im.test ? 1 : 0);
    bbox.insert(bbox.end(), im.bbox, im.bbox + 4);
  }
  f.write_strings("stimulus_ids", ids);
  f.write_array("noise_free", in.signal, {S, V});
  h5::CreateOptions masks_opt;
  masks_opt.chunk = {1, H, H};
  masks_opt.deflate = 4;
  f.create_dataset<std::uint8_t>("stimuli/masks", {S, H, H}, masks_opt).write_all(st.masks);
  f.write_array("stimuli/bbox", bbox, {S, 4});
  f.write_vector("stimuli/category", category);
  f.write_vector("stimuli/source_group", group);
  f.write_vector("stimuli/test", test);
  f.write_array("stimuli/category_evidence", in.evidence, {S, C});
  std::vector<std::string> sources, backgrounds;
  for (const auto& s : st.stamps) sources.push_back(s.path);
  for (const auto& b : st.backgrounds) backgrounds.push_back(b.path);
  f.write_strings("stimuli/sources", sources);
  f.write_strings("stimuli/backgrounds", backgrounds);
  f.write_strings("categories/names", st.category_names);

  // Voxels: the planted noise level and what a perfect model could reach.
  std::vector<float> ncsnr(V), noise_sd(V), ceiling(V);
  for (std::int64_t v = 0; v < V; ++v) {
    const double snr = p.snr[v];
    ncsnr[v] = static_cast<float>(std::sqrt(snr));
    noise_sd[v] = static_cast<float>(1.0 / std::sqrt(snr));
    ceiling[v] =
        static_cast<float>(snr / (snr + 1.0 / repeats));  // R^2 ceiling of a mean of `repeats` trials
  }
  const auto cat_r2 = category_r2(in.signal, S, V, category, C);
  f.write_vector("voxels/roi", p.roi);
  f.write_vector("voxels/layer", p.layer);
  f.write_vector("voxels/snr", p.snr);
  f.write_vector("voxels/ncsnr", ncsnr);
  f.write_vector("voxels/noise_sd", noise_sd);
  f.write_vector("voxels/noise_ceiling", ceiling);
  f.write_vector("voxels/category_r2", cat_r2);
  f.group("voxels").write_attr("noise_ceiling_repeats", static_cast<std::int64_t>(repeats));
  const std::int64_t sessions = static_cast<std::int64_t>(in.offsets.size()) / std::max<std::int64_t>(V, 1);
  f.write_array("sessions/offsets", in.offsets, {sessions, V});

  // ROIs and the planted answers.
  f.write_strings("rois/names", p.roi_names);
  std::vector<std::string> roi_layers;
  std::vector<std::int64_t> depth;
  std::vector<float> nc_by_roi, cat_by_roi;
  for (std::size_t r = 0; r < p.roi_names.size(); ++r) {
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(V));
    std::vector<float> nc, cr;
    float share = 0;  // the ROI's category share (the same for all its voxels)
    for (std::int64_t v = 0; v < V; ++v) {
      mask[v] = p.roi[v] == static_cast<std::int64_t>(r) ? 1 : 0;
      if (mask[v]) {
        nc.push_back(ceiling[v]);
        cr.push_back(cat_r2[v]);
        share = p.category_share[v];
      }
    }
    f.write_vector("rois/" + p.roi_names[r], mask);
    std::ostringstream what;
    if (r < 2) {
      what << "gabor_energy ("
           << (r == 0 ? "V1: small fields, 6-24 cycles/image" : "V2: larger fields, 3-12 cycles/image")
           << ")";
    } else {
      what << p.network << ":" << p.layers[r - 2];
      if (share > 0)
        what << " + category evidence (" << static_cast<int>(std::lround(100 * share)) << "% of variance)";
    }
    roi_layers.push_back(what.str());
    depth.push_back(static_cast<std::int64_t>(r));
    nc_by_roi.push_back(median(nc));
    cat_by_roi.push_back(median(cr));
  }
  f.write_strings("planted/roi_layers", roi_layers);
  f.write_vector("planted/roi_depth", depth);
  f.write_vector("planted/noise_ceiling_by_roi", nc_by_roi);
  f.write_vector("planted/category_r2_by_roi", cat_by_roi);
  std::vector<std::string> preferred;
  for (auto c : p.selective_categories) preferred.push_back(p.category_names[c]);
  f.write_strings("planted/selective_categories", preferred);
  f.group("planted").write_attr("selective_roi", p.roi_names.back());

  p.save(f.create_group("cortex"));
  f.close();
}

}  // namespace deepvox::import
