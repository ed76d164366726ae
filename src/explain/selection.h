// Which images explain explains: the readout of each target from model.h5, its predicted response to every
// stimulus of features.h5, the top-k out-of-category images, and for each the preferred-category reference
// whose readout-weighted feature pattern (the per-dimension contributions w * z) is most similar (cosine).
// Plain C++ on row blocks of features.h5 (no LibTorch), run on rank 0.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fit/matrix.h"
#include "reconstruct/inputs.h"

namespace deepvox::explain {

// The encoding model: predict = ((x - mean) / scale) @ weights + intercept over the concatenated layers.
struct ModelInfo {
  std::string path;
  std::vector<std::string> layers;
  std::vector<std::int64_t> offset;  // B+1
  std::vector<float> mean, scale;    // P
  std::int64_t n_voxels = 0;
  std::int64_t dim() const { return offset.back(); }
};
ModelInfo read_model_info(const std::string& path);

// One target's readout: r(x) = w . z(x) + intercept, z = (x - mean) / scale.
struct Readout {
  std::string name;
  std::vector<float> w;  // P: the mean of its voxels' weights
  double intercept = 0;
  std::int64_t voxels = 0;
};
// targets: ROI names of responses.h5 (the mean model of its valid voxels) or "voxel:<index>".
std::vector<Readout> read_readouts(const ModelInfo& model, const reconstruct::ResponsesInfo& responses,
                                   const std::vector<std::string>& targets);

// Calls fn(row0, z) for consecutive row blocks of features.h5 (z: rows x P, standardized with the model's
// statistics), or only for the given rows (in order, one block of them) when rows is not empty.
void for_each_block(const std::string& features_path, const ModelInfo& model,
                    const std::vector<std::int64_t>& rows,
                    const std::function<void(std::int64_t, const fit::Mat<float>&)>& fn);

struct Pair {
  std::int64_t target = 0;
  std::int64_t image = 0, reference = 0;  // rows of features.h5
  double image_response = 0, reference_response = 0, similarity = 0;
};

struct TargetSelection {
  std::vector<std::string> preferred;  // category names
  std::vector<Pair> pairs;
};

// category: per stimulus of features.h5, -1 = unknown. preferred: names to use ({} = choose the category with
// the highest mean predicted response). Returns one selection per readout.
std::vector<TargetSelection> select_pairs(const std::string& features_path, const ModelInfo& model,
                                          const std::vector<Readout>& readouts,
                                          const std::vector<std::int64_t>& category,
                                          const std::vector<std::string>& category_names,
                                          const std::vector<std::string>& preferred, std::int64_t top_k);

}  // namespace deepvox::explain
