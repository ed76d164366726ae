// What reconstruct and explain read from the run directory: responses.h5 (split, ROIs, categories),
// features.h5 (ids, layers, the stimulus source) and blocks of their matrices. Files are opened serially
// on every rank, which then reads only what it needs. Every error names the file and what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fit/matrix.h"
#include "io/h5.h"

namespace deepvox::reconstruct {

struct ResponsesInfo {
  std::string path;
  std::vector<std::string> ids;           // S
  std::vector<std::int64_t> train, test;  // rows of /responses
  std::int64_t n_voxels = 0;
  std::vector<std::uint8_t> valid;  // V (all ones without /voxels/valid)
  std::map<std::string, std::vector<std::uint8_t>> rois;
  std::vector<std::string> category_names;  // empty when the file has no /categories
  std::vector<std::int64_t> category;       // S: index into category_names, -1 = unknown
};
// `stage` prefixes error messages ("reconstruct").
ResponsesInfo read_responses_info(const std::string& path, const std::string& stage);

// Valid voxels of the union of `rois` (empty = every valid voxel), ascending. `key` names the config key in
// errors, which list the ROIs the file has.
std::vector<std::int64_t> voxel_columns(const ResponsesInfo& info, const std::vector<std::string>& rois,
                                        const std::string& key);

// /responses at the given rows and voxel columns (rows.size() x cols.size()).
fit::Mat<float> read_responses(const std::string& path, const std::vector<std::int64_t>& rows,
                               const std::vector<std::int64_t>& cols);

struct FeaturesInfo {
  std::string path;
  std::vector<std::string> ids;
  std::vector<std::string> layers;  // file order
  std::map<std::string, std::int64_t> dims;
  std::string images;  // the stimulus source extract read (attribute `images`), "" if absent
};
FeaturesInfo read_features_info(const std::string& path, const std::string& stage);
// Checks that every name is a layer of the file (error lists the layers); empty = all, in file order.
std::vector<std::string> pick_layers(const FeaturesInfo& info, const std::vector<std::string>& wanted,
                                     const std::string& key);

// Row of each wanted id in `have`; throws naming the first missing ids and `what` (the two files).
std::vector<std::int64_t> match_ids(const std::vector<std::string>& wanted,
                                    const std::vector<std::string>& have, const std::string& what);

// Columns [c0, c0 + b) of /features/<layer> at the given rows (rows.size() x b).
fit::Mat<float> read_feature_columns(const h5::File& f, const std::string& layer,
                                     const std::vector<std::int64_t>& rows, std::int64_t c0, std::int64_t b);

// The stimulus source: `configured` (extract.images) if given, else features.h5's `images` attribute, else
// run_dir/stimuli/manifest.csv.
std::string resolve_images(const std::string& configured, const FeaturesInfo& features,
                           const std::string& run_dir);

}  // namespace deepvox::reconstruct
