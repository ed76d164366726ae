// PETSc for the voxel distribution: a PetscLayout whose ownership ranges are whole global voxel
// blocks (fixed by fit.voxel_block, never by the rank count), per-voxel result fields as PETSc Vecs
// on that layout, and ordered gathers to rank 0 (VecScatterCreateToZero) for ROI summaries, so every
// cross-rank reduction runs in voxel order on one rank (decisions.md: bit-identical at any rank count).
#pragma once

#include <petscvec.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deepvox::fit {

// Throws std::runtime_error naming what failed when a PETSc call returns an error.
void petsc_check(PetscErrorCode code, const char* what);

// PetscInitialize on the existing MPI (main initialized it; PETSc then leaves MPI alone) with
// PETSC_COMM_WORLD = comm, and PetscFinalize at scope exit. Nested sessions are no-ops.
class PetscSession {
 public:
  explicit PetscSession(MPI_Comm comm);
  ~PetscSession();
  PetscSession(const PetscSession&) = delete;
  PetscSession& operator=(const PetscSession&) = delete;

 private:
  bool owner_ = false;
};

// Voxels [0, V) owned by ranks in contiguous runs of whole blocks.
class VoxelLayout {
 public:
  VoxelLayout(MPI_Comm comm, std::int64_t n_voxels, std::int64_t block);
  ~VoxelLayout();
  VoxelLayout(const VoxelLayout&) = delete;
  VoxelLayout& operator=(const VoxelLayout&) = delete;

  MPI_Comm comm() const { return comm_; }
  std::int64_t global() const { return n_; }
  std::int64_t begin() const { return begin_; }
  std::int64_t end() const { return end_; }
  std::int64_t local() const { return end_ - begin_; }
  // This rank's blocks as global [begin, end) voxel ranges.
  const std::vector<std::pair<std::int64_t, std::int64_t>>& blocks() const { return blocks_; }
  // The most blocks any rank owns: the number of rounds of a collective per-block loop.
  std::int64_t rounds() const { return rounds_; }
  PetscLayout petsc() const { return map_; }

 private:
  MPI_Comm comm_;
  std::int64_t n_ = 0, begin_ = 0, end_ = 0, rounds_ = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> blocks_;
  PetscLayout map_ = nullptr;
};

// One per-voxel field: an MPI Vec on the layout (double precision, as Debian's PETSc is built).
class VoxelVec {
 public:
  explicit VoxelVec(const VoxelLayout& layout, double fill = 0.0);
  ~VoxelVec();
  VoxelVec(VoxelVec&& other) noexcept;
  VoxelVec(const VoxelVec&) = delete;
  VoxelVec& operator=(const VoxelVec&) = delete;
  VoxelVec& operator=(VoxelVec&&) = delete;

  void set_local(const std::vector<double>& values);  // this rank's entries, in voxel order
  std::vector<double> local_values() const;
  // Every entry in voxel order on rank 0 (collective; empty elsewhere).
  std::vector<double> gather_to_root() const;
  Vec vec() const { return v_; }

 private:
  Vec v_ = nullptr;
  std::int64_t local_ = 0;
};

}  // namespace deepvox::fit
