#include "explain/writer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/manifest.h"
#include "reconstruct/image_tensor.h"

namespace deepvox::explain {
namespace {

// Mean over the finite values (NaN when there are none).
double finite_mean(const std::vector<float>& v) {
  double s = 0;
  std::int64_t n = 0;
  for (float x : v)
    if (std::isfinite(x)) {
      s += x;
      ++n;
    }
  return n ? s / static_cast<double>(n) : std::nan("");
}

}  // namespace

void write_explain(const h5::Group& root, const ExplainResults& r, const std::vector<std::string>& ids) {
  const std::int64_t K = r.count(), hs = r.heatmap_size, per_map = hs * hs;
  root.write_attr("method", r.method);
  root.write_attr<std::int64_t>("ig_steps", r.ig_steps);
  root.write_attr("masks", r.masks);
  root.write_attr("preferred_categories", r.preferred);
  root.write_strings("stimulus_ids", ids);
  root.write_strings("targets", r.targets);
  std::vector<std::int64_t> pairs, target;
  std::vector<std::string> image_ids, reference_ids;
  std::vector<double> responses, similarity;
  std::vector<std::int64_t> shared;
  std::vector<float> maps[kMaps];
  std::vector<float> score[kScores];
  for (std::int64_t k = 0; k < K; ++k) {
    const double* p = r.pairs.data() + 6 * k;
    target.push_back(static_cast<std::int64_t>(p[0]));
    pairs.push_back(r.image_row(k));
    pairs.push_back(r.reference_row(k));
    image_ids.push_back(ids[static_cast<size_t>(r.image_row(k))]);
    reference_ids.push_back(ids[static_cast<size_t>(r.reference_row(k))]);
    responses.push_back(p[3]);
    responses.push_back(p[4]);
    similarity.push_back(p[5]);
    for (int j = 0; j < kMaps; ++j) maps[j].insert(maps[j].end(), r.map(k, j), r.map(k, j) + per_map);
    for (int j = 0; j < kScores; ++j) score[j].push_back(r.scores(k)[j]);
  }
  for (float v : score[0]) shared.push_back(static_cast<std::int64_t>(v));
  auto pr = root.write_array<std::int64_t>("pairs", pairs, {K, 2});
  pr.write_attr("columns", "image, reference (rows of /stimulus_ids)");
  root.write_vector<std::int64_t>("pair_target", target);
  root.write_strings("image_ids", image_ids);
  root.write_strings("reference_ids", reference_ids);
  root.write_array<double>("responses", responses, {K, 2})
      .write_attr("columns", "predicted response of image, reference");
  root.write_vector<double>("similarity", similarity);
  root.write_vector<std::int64_t>("shared_dims", shared);
  root.write_array<float>("heatmaps", maps[0], {K, hs, hs});
  root.write_array<float>("reference_heatmaps", maps[1], {K, hs, hs});
  root.write_vector<float>("overlap", score[1])
      .write_attr("meaning", "share of the positive map mass inside the object mask");
  root.write_vector<float>("overlap_chance", score[2])
      .write_attr("meaning", "the mask's share of the image (chance)");
  root.write_vector<float>("overlap_auc", score[3]);
  root.write_vector<float>("reference_overlap", score[4]);
  root.write_vector<float>("reference_overlap_chance", score[5]);
  root.write_vector<float>("reference_overlap_auc", score[6]);
  h5::Group summary = root.require_group("summary");
  summary.write_attr<double>("overlap", finite_mean(score[1]));
  summary.write_attr<double>("overlap_chance", finite_mean(score[2]));
  summary.write_attr<double>("overlap_auc", finite_mean(score[3]));
  summary.write_attr<double>("reference_overlap", finite_mean(score[4]));
  summary.write_attr<double>("reference_overlap_auc", finite_mean(score[6]));
  if (r.baseline) {
    h5::Group b = root.require_group("baseline");
    b.write_attr("method",
                 "plain single-image backpropagation of the response (no shared-feature weighting)");
    b.write_array<float>("heatmaps", maps[2], {K, hs, hs});
    b.write_array<float>("reference_heatmaps", maps[3], {K, hs, hs});
    b.write_vector<float>("overlap", score[7]);
    b.write_vector<float>("overlap_auc", score[9]);
    summary.write_attr<double>("baseline_overlap", finite_mean(score[7]));
    summary.write_attr<double>("baseline_overlap_auc", finite_mean(score[9]));
  }
}

void write_panels(const std::string& dir, const ExplainResults& r, const StimulusSet& stimuli,
                  const std::vector<std::int64_t>& stimulus_rows,
                  const std::vector<std::vector<std::uint8_t>>& masks) {
  std::filesystem::create_directories(dir);
  const int hs = r.heatmap_size;
  auto picture = [&](std::int64_t row) {
    return reconstruct::tensor_image(
        reconstruct::image_tensor(stimuli.load(stimulus_rows[static_cast<size_t>(row)]), hs));
  };
  auto heat = [&](std::int64_t k, int j) {
    return at::from_blob(const_cast<float*>(r.map(k, j)), {hs, hs}, at::kFloat).clone();
  };
  for (std::int64_t start = 0, page = 0; start < r.count(); start += 8, ++page) {
    std::vector<std::vector<image::RgbImage>> rows;
    for (std::int64_t k = start; k < std::min<std::int64_t>(r.count(), start + 8); ++k) {
      const image::RgbImage img = picture(r.image_row(k)), ref = picture(r.reference_row(k));
      std::vector<image::RgbImage> row{img, reconstruct::heat_overlay(img, heat(k, 0)), ref,
                                       reconstruct::heat_overlay(ref, heat(k, 1))};
      if (r.baseline) row.push_back(reconstruct::heat_overlay(img, heat(k, 2)));
      const auto& m = masks[static_cast<size_t>(k)];
      if (!m.empty()) {
        image::RgbImage mi = img;
        for (size_t i = 0; i < m.size(); ++i)
          for (int c = 0; c < 3; ++c) mi.pixels[3 * i + c] = m[i] ? img.pixels[3 * i + c] : 255;
        row.push_back(mi);
      }
      rows.push_back(std::move(row));
    }
    char name[64];
    std::snprintf(name, sizeof(name), "pairs_%02lld.png", static_cast<long long>(page));
    reconstruct::write_grid((std::filesystem::path(dir) / name).string(), rows);
  }
}

}  // namespace deepvox::explain
