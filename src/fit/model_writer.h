// Writing model.h5 (run-files.md): per-voxel fields from PETSc Vecs as collective hyperslab writes of
// each rank's own voxel range, extract attributes copied from features.h5, and ROI summaries computed
// on rank 0 from voxel-ordered gathers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fit/petsc_voxels.h"
#include "io/h5.h"

namespace deepvox::fit {

enum class Stored { Float32, Float64, Int64, UInt8 };

// Collective: creates name [V] and writes every rank's local entries of v.
void write_voxel_field(const h5::Group& g, const std::string& name, const VoxelVec& v, Stored type);
// Collective: name [V, B] (columns = fields) or, transposed, [B, V] (rows = fields).
void write_voxel_matrix(const h5::Group& g, const std::string& name,
                        const std::vector<const VoxelVec*>& fields, bool voxels_first, Stored type);

// Copies the root attributes of features.h5 and each used layer's attributes (as "<layer>.<name>")
// onto dst. Every rank reads them, so the collective attribute writes agree.
void copy_extract_attributes(const std::string& features_path, const std::vector<std::string>& layers,
                             const h5::Group& dst);

// ROI summaries over valid voxels (rank 0 computes from gathered fields; every rank writes the same
// datasets collectively): /rois/<name>/{n_voxels, n_valid, mean_test_r, mean_test_r2, mean_cv_score,
// mean_noise_ceiling, mean_normalized_r, per_layer_mean_test_r [B], best_layer_fraction [B]}.
struct RoiInputs {
  const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>* rois = nullptr;
  const VoxelVec *valid = nullptr, *test_r = nullptr, *test_r2 = nullptr, *cv_score = nullptr;
  const VoxelVec *noise_ceiling = nullptr, *normalized_r = nullptr, *best_layer = nullptr;  // may be null
  std::vector<const VoxelVec*> per_layer_test_r;                                            // may be empty
  std::vector<std::string> layer_names;
};
void write_roi_summaries(const h5::Group& root, const RoiInputs& in, MPI_Comm comm);

}  // namespace deepvox::fit
