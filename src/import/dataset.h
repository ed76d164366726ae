// What every import reader produces, in memory, before it is written as responses.h5.
// Readers fill a FmriDataset; write_responses() (responses_writer.h) does the shared work:
// unit conversion already done by the reader, optional per-session z-scoring, per-stimulus
// averaging, flagging NaN/constant voxels, and the parallel-HDF5 write (run-files.md layout).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deepvox::import {

struct FmriDataset {
  std::string format;   // "bold5000", "nsd", "virtual", ...
  std::string source;   // what the user pointed at
  std::string subject;

  // Stimuli: one per distinct stimulus (ids follow run-files.md's id rules).
  std::vector<std::string> stimulus_ids;
  std::vector<std::string> stimulus_paths;   // optional: image path per stimulus ("" if unknown)
  std::vector<std::string> category_names;   // optional
  std::vector<std::int64_t> category_index;  // optional, [S], index into category_names (-1 unknown)

  // Trials, row-major [T, V] float32, after unit conversion (e.g. NSD's /300).
  std::int64_t n_voxels = 0;
  std::vector<float> trial_responses;
  std::vector<std::int64_t> trial_stimulus;  // [T] row of stimulus_ids
  std::vector<std::int64_t> trial_session;   // [T]
  std::vector<std::int64_t> trial_run;       // [T]

  // ROI masks in voxel-column order, by name (file order kept by roi_order).
  std::vector<std::string> roi_order;
  std::map<std::string, std::vector<std::uint8_t>> rois;

  // Split: rows of stimulus_ids. Empty train/test = a seeded split is made by the writer.
  std::vector<std::int64_t> split_train, split_test;

  // Volume grid, when the source had one.
  std::vector<std::int64_t> ijk;                 // [V*3]
  std::optional<std::array<double, 16>> affine;  // row-major 4x4
};

}  // namespace deepvox::import
