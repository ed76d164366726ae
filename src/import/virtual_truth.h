// truth.h5 of the virtual subject: generating parameters and planted answers (layout in
// virtual_subject.h). Written serially by one rank, so the object masks can be compressed.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "import/demo_stimuli.h"
#include "import/virtual_cortex.h"

namespace deepvox::import {

struct TruthInputs {
  const Config& cfg;
  const DemoStimuli& stimuli;          // with masks
  const CortexParams& params;          // fitted
  const std::vector<float>& signal;    // [S, V] noise-free
  const std::vector<float>& evidence;  // [S, C] category evidence
  const std::vector<float>& offsets;   // [sessions, V]
  int ranks;
};

// Writes the file at `path` (serial HDF5; the caller renames it into place).
void write_truth_file(const std::string& path, const TruthInputs& in);

// Share of each voxel's variance over the stimuli explained by the category labels (between-category
// variance / total variance): the category information a decoder can recover at most.
std::vector<float> category_r2(const std::vector<float>& signal, std::int64_t n, std::int64_t voxels,
                               const std::vector<std::int64_t>& labels, std::int64_t categories);

}  // namespace deepvox::import
