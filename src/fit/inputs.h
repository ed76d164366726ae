// What fit reads: features.h5 (any file with /stimulus_ids and /features/<layer>) and responses.h5
// (run-files.md). Inputs are opened serially on every rank: each rank reads the small datasets whole
// and its own voxel columns of /responses independently, with no collective to keep in step.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fit/matrix.h"
#include "io/h5.h"

namespace deepvox::fit {

// The small datasets of responses.h5.
struct ResponseMeta {
  std::string path;
  std::vector<std::string> stimulus_ids;  // S
  std::vector<std::int64_t> train, test;  // rows of /responses, in /split order
  std::int64_t n_voxels = 0;
  std::vector<std::uint8_t> valid;  // V: /voxels/valid, or all ones
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> rois;
  // Trials (empty when the file has none).
  std::vector<std::int64_t> trial_stimulus;  // T: row of /stimulus_ids
  bool has_trial_responses = false;
};
ResponseMeta read_response_meta(const std::string& path);

// Group label of each training stimulus from the first of its trials in /trials/<column>.
std::vector<std::int64_t> train_labels(const ResponseMeta& meta, const std::string& column);

// The features of the training then the test stimuli, matched by id, layers concatenated.
struct FeatureSet {
  std::vector<std::string> layers;
  std::vector<std::int64_t> offset;  // B+1 column offsets
  Mat<float> x;                      // (n_train + n_test) x P
};
// layers empty = every /features/<layer> in file order (creation order where the file tracks it).
FeatureSet read_features(const std::string& path, const ResponseMeta& meta,
                         const std::vector<std::string>& layers);

// Layer names of a features file in file order.
std::vector<std::string> feature_layers(const std::string& path);

// A rank's voxel columns of /responses, block by block: training and test rows in T, with invalid
// voxels (flagged in /voxels/valid, non-finite, or constant over the training stimuli) zeroed.
template <typename T>
class ResponseSource {
 public:
  struct Block {
    std::int64_t col0 = 0, cols = 0;  // global voxel range
    Mat<T> train, test;               // n_train x cols, n_test x cols
    std::vector<std::uint8_t> valid;  // cols
  };
  // blocks: the rank's global voxel ranges, in order. cache: keep every block after its first read.
  ResponseSource(const ResponseMeta& meta, std::vector<std::pair<std::int64_t, std::int64_t>> blocks,
                 bool cache);
  size_t count() const { return blocks_.size(); }
  const Block& get(size_t i);
  // Single-trial responses of block i (T x cols), float as stored.
  Mat<float> trials(size_t i) const;
  // Invalid voxels found so far on this rank, by reason (flagged, non-finite, constant): the same
  // keys in the same order on every rank.
  std::map<std::string, std::int64_t> invalid_counts() const { return invalid_; }

 private:
  void load(size_t i, Block& out);
  const ResponseMeta& meta_;
  h5::File file_;
  std::vector<std::pair<std::int64_t, std::int64_t>> blocks_;
  bool cache_;
  std::vector<Block> cached_;
  std::vector<bool> loaded_, counted_;
  Block scratch_;
  std::map<std::string, std::int64_t> invalid_;
};

// Bytes a rank's cached blocks take (decides fit.cache_mb).
std::int64_t cache_bytes(const ResponseMeta& meta, std::int64_t local_voxels, std::int64_t value_bytes);

}  // namespace deepvox::fit
