// explain's results as held on every rank, written to explain.h5 and drawn as PNG panels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5.h"

namespace deepvox {
class StimulusSet;
}

namespace deepvox::explain {

// Per pair: kMaps heatmaps (image, reference, plain image, plain reference; heatmap_size^2 each), then
// kScores numbers: shared dimensions, and (mass inside the mask, mask area, AUC) for the image's parallel
// map, the reference's parallel map and the image's plain map (NaN where there is no mask or no map).
constexpr int kMaps = 4;
constexpr int kScores = 10;

struct ExplainResults {
  int heatmap_size = 0;
  std::vector<std::string> targets;
  std::string preferred;      // per target, ';'-separated lists of ','-separated category names
  std::vector<double> pairs;  // 6 per pair: target, image row, reference row, responses (2), similarity
  std::vector<std::vector<float>> per_pair;
  std::string masks, method;
  std::int64_t ig_steps = 0;
  bool baseline = true;

  std::int64_t count() const { return static_cast<std::int64_t>(pairs.size() / 6); }
  std::int64_t image_row(std::int64_t k) const { return static_cast<std::int64_t>(pairs[6 * k + 1]); }
  std::int64_t reference_row(std::int64_t k) const { return static_cast<std::int64_t>(pairs[6 * k + 2]); }
  const float* map(std::int64_t k, int j) const {
    return per_pair[static_cast<size_t>(k)].data() +
           static_cast<std::int64_t>(j) * heatmap_size * heatmap_size;
  }
  const float* scores(std::int64_t k) const { return map(k, kMaps); }
};

// Collective: every dataset of explain.h5. ids: /stimulus_ids of features.h5 (what /pairs indexes).
void write_explain(const h5::Group& root, const ExplainResults& r, const std::vector<std::string>& ids);

// Rank 0: dir/pairs_NN.png, 8 pairs per file; each row: image, its shared-feature map, reference, its map,
// the image's plain single-image map, and the object mask when known.
void write_panels(const std::string& dir, const ExplainResults& r, const StimulusSet& stimuli,
                  const std::vector<std::int64_t>& stimulus_rows,
                  const std::vector<std::vector<std::uint8_t>>& masks);

}  // namespace deepvox::explain
