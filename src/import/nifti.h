// NIfTI-1/NIfTI-2 volumes (.nii, .nii.gz) through Debian's libnifti2 (nifti_clib).
// Format: https://nifti.nimh.nih.gov/nifti-1 ; values are returned after the header's
// scl_slope/scl_inter scaling, in the file's own voxel order (x fastest, then y, z, t).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace deepvox::import {

struct Volume {
  std::int64_t nx = 1, ny = 1, nz = 1, nt = 1;
  std::vector<float> data;          // [nt][nz][ny][nx], x fastest
  std::array<double, 16> affine{};  // voxel (i,j,k,1) -> scanner mm, row-major 4x4 (sform, else qform)
  bool has_affine = false;
  std::int64_t voxels() const { return nx * ny * nz; }
};

// Reads a whole volume; throws std::runtime_error naming the file when it cannot.
Volume read_nifti(const std::string& path);

}  // namespace deepvox::import
