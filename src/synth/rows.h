// The images synth predicts, one row each: rows of a features file, images of a stimulus set, and
// augmented copies of the training-split images. Built identically on every rank.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "extract/feature_model.h"
#include "io/manifest.h"
#include "synth/options.h"
#include "synth/run_inputs.h"

namespace deepvox::synth {

struct SynthRows {
  std::vector<std::string> ids;
  std::vector<std::int64_t> feature_row;    // row of the features file; -1 = extracted from an image
  std::vector<std::int64_t> image_index;    // index in the image set; -1 = none
  std::vector<std::int64_t> source_index;   // augmented copy: the row of its original; else the row itself
  std::vector<std::int64_t> copy;           // 0 = original image, k = augmented copy k
  std::vector<std::string> category;        // "" = unknown
  std::vector<std::string> group;           // source photo (synth.group_column), else the id
  std::vector<std::int64_t> responses_row;  // row of responses.h5 /stimulus_ids; -1 = not in the fMRI data
  std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }
  std::int64_t n_augmented() const;
};

// The image set with what the manifest says about each image (categories, groups).
struct ImageSet {
  std::shared_ptr<StimulusSet> set;
  std::vector<std::string> group;  // per image ("" when the column is absent)
};
std::optional<ImageSet> open_image_set(const Options& opt);

// Rows for the options; `responses` may be null (no fMRI data: no split, categories from the images).
SynthRows build_rows(const Options& opt, const Responses* responses, const std::optional<ImageSet>& images);

// Computes the concatenated model-layer features of a range of rows.
class FeatureSource {
 public:
  FeatureSource(const Options& opt, const EncodingModel& model, const SynthRows& rows,
                const std::optional<ImageSet>& images);
  // Throws ConfigError when the layout does not match the model (called before anything is written).
  void check();
  at::Tensor features(std::int64_t row0, std::int64_t row1);  // [row1 - row0, P] float32
  // Augmentation parameters of each row of the last features() call: flip, x0, y0, w, h (zeros for
  // originals).
  const std::vector<std::int64_t>& last_augmentation() const { return last_aug_; }

 private:
  const Options& opt_;
  const EncodingModel& model_;
  const SynthRows& rows_;
  const std::optional<ImageSet>& images_;
  std::vector<std::pair<std::string, std::int64_t>> file_layers_;
  std::unique_ptr<extract::FeatureModel> network_;
  std::vector<std::int64_t> last_aug_;
};

}  // namespace deepvox::synth
