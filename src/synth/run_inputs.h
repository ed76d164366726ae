// What synth and decode read from the run directory besides their own files: responses.h5 (import)
// and model.h5 (fit), as run-files.md lays them out. Files are opened serially by every rank; the
// small datasets are read whole, the big matrices by rows or columns on demand.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/h5.h"

namespace deepvox::synth {

// Rows of a 1-D or 2-D dataset in the given order (any order, repeats allowed), read as contiguous runs.
template <typename T>
std::vector<T> read_row_list(const h5::Dataset& d, const std::vector<std::int64_t>& rows);

// The small datasets of responses.h5.
struct Responses {
  std::string path;
  std::vector<std::string> ids;  // S
  std::int64_t n_voxels = 0;
  std::vector<std::int64_t> train, test;                                // rows of /stimulus_ids
  std::vector<std::uint8_t> valid;                                      // V (all ones when absent)
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> rois;  // name order
  std::vector<std::string> category_names;                              // empty when unknown
  std::vector<std::int64_t> category;                                   // S, -1 = unknown
  std::vector<std::int64_t> trial_stimulus;                             // T (empty without /trials)

  static Responses read(const std::string& path);
  std::int64_t row_of(const std::string& id) const;  // -1 when absent
  // Per-stimulus rows of /responses, all voxels, row-major [rows.size(), V].
  std::vector<float> responses(const std::vector<std::int64_t>& rows) const;
  // Single-trial rows of /trials/responses, row-major [trials.size(), V].
  std::vector<float> trials(const std::vector<std::int64_t>& trial_rows) const;
  // Trials of each stimulus in trial order (index = stimulus row).
  std::vector<std::vector<std::int64_t>> trials_by_stimulus() const;

 private:
  std::map<std::string, std::int64_t> index_;
};

// model.h5: the fitted voxelwise encoding model.
class EncodingModel {
 public:
  static EncodingModel open(const std::string& path);

  const std::string& path() const { return path_; }
  std::int64_t n_features() const { return offsets_.back(); }
  std::int64_t n_voxels() const { return n_voxels_; }
  const std::vector<std::string>& layers() const { return layers_; }
  std::int64_t layer_width(size_t i) const { return offsets_[i + 1] - offsets_[i]; }
  std::int64_t layer_offset(size_t i) const { return offsets_[i]; }
  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& scale() const { return scale_; }
  const std::vector<float>& intercept() const { return intercept_; }
  // Chosen ridge penalty per voxel (empty when the model was banded or the file lacks /voxels/lambda).
  const std::vector<double>& lambda() const { return lambda_; }
  // Attributes of /extract (network, weights_sha256, normalization, ...) as text.
  const std::map<std::string, std::string>& extract_attrs() const { return extract_attrs_; }

  // Reads /weights [P, V] into memory (float32); predict() needs it.
  void load_weights();
  // Features [B, P] (float32, layers concatenated in model order) -> responses [B, V].
  at::Tensor predict(const at::Tensor& features) const;
  // Features -> z-scored features ((x - mean) / scale; constant features become 0).
  at::Tensor standardize(const at::Tensor& features) const;

  // Throws ConfigError unless `layers` (name, width) of `source` hold exactly the model's layers with
  // the model's widths. Nothing has been written when it throws.
  void check_layout(const std::vector<std::pair<std::string, std::int64_t>>& layers,
                    const std::string& source) const;

 private:
  std::string path_;
  std::vector<std::string> layers_;
  std::vector<std::int64_t> offsets_;
  std::int64_t n_voxels_ = 0;
  std::vector<float> mean_, scale_, intercept_;
  std::vector<double> lambda_;
  std::map<std::string, std::string> extract_attrs_;
  at::Tensor weights_, mean_t_, inv_scale_t_, intercept_t_;
};

// Layers (name, width) of a features file, in the order of its /layers list or creation order.
std::vector<std::pair<std::string, std::int64_t>> feature_file_layers(const std::string& path);

}  // namespace deepvox::synth
