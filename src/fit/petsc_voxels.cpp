#include "fit/petsc_voxels.h"

#include <algorithm>
#include <stdexcept>

#include "core/mpi.h"

namespace deepvox::fit {

void petsc_check(PetscErrorCode code, const char* what) {
  if (code == 0) return;
  const char* text = nullptr;
  PetscErrorMessage(code, &text, nullptr);
  throw std::runtime_error(std::string("fit: PETSc ") + what + " failed: " + (text ? text : "unknown error"));
}

PetscSession::PetscSession(MPI_Comm comm) {
  PetscBool initialized = PETSC_FALSE;
  petsc_check(PetscInitialized(&initialized), "PetscInitialized");
  if (initialized) return;
  PETSC_COMM_WORLD = comm;
  // Our main handles signals and errors: PETSc must not install its own handlers.
  petsc_check(PetscOptionsSetValue(nullptr, "-no_signal_handler", nullptr), "PetscOptionsSetValue");
  petsc_check(PetscInitializeNoArguments(), "PetscInitialize");
  petsc_check(PetscPushErrorHandler(PetscReturnErrorHandler, nullptr), "PetscPushErrorHandler");
  owner_ = true;
}

PetscSession::~PetscSession() {
  if (!owner_) return;
  PetscPopErrorHandler();
  PetscFinalize();
}

VoxelLayout::VoxelLayout(MPI_Comm comm, std::int64_t n_voxels, std::int64_t block)
    : comm_(comm), n_(n_voxels) {
  // Whole blocks per rank, contiguous (deepvox::block_range over the block count): the block cut is
  // fixed by the data, so a voxel's computation is the same at any rank count.
  const auto cuts = chunks(n_voxels, block);
  const int r = rank(comm), p = size(comm);
  const Range mine = block_range(static_cast<std::int64_t>(cuts.size()), r, p);
  std::int64_t local = 0;
  for (std::int64_t c = mine.begin; c < mine.end; ++c) {
    blocks_.emplace_back(cuts[static_cast<size_t>(c)].begin, cuts[static_cast<size_t>(c)].end);
    local += cuts[static_cast<size_t>(c)].size();
  }
  for (int q = 0; q < p; ++q)
    rounds_ = std::max(rounds_, block_range(static_cast<std::int64_t>(cuts.size()), q, p).size());
  petsc_check(PetscLayoutCreate(comm, &map_), "PetscLayoutCreate");
  petsc_check(PetscLayoutSetLocalSize(map_, static_cast<PetscInt>(local)), "PetscLayoutSetLocalSize");
  petsc_check(PetscLayoutSetSize(map_, static_cast<PetscInt>(n_voxels)), "PetscLayoutSetSize");
  petsc_check(PetscLayoutSetUp(map_), "PetscLayoutSetUp");
  PetscInt b = 0, e = 0;
  petsc_check(PetscLayoutGetRange(map_, &b, &e), "PetscLayoutGetRange");
  begin_ = b;
  end_ = e;
  if (!blocks_.empty() && (blocks_.front().first != begin_ || blocks_.back().second != end_))
    throw std::logic_error("fit: PETSc ownership range differs from the voxel blocks");
}

VoxelLayout::~VoxelLayout() {
  if (map_) PetscLayoutDestroy(&map_);
}

VoxelVec::VoxelVec(const VoxelLayout& layout, double fill) : local_(layout.local()) {
  petsc_check(VecCreate(layout.comm(), &v_), "VecCreate");
  petsc_check(VecSetLayout(v_, layout.petsc()), "VecSetLayout");
  petsc_check(VecSetType(v_, VECMPI), "VecSetType");
  petsc_check(VecSet(v_, fill), "VecSet");
}

VoxelVec::~VoxelVec() {
  if (v_) VecDestroy(&v_);
}

VoxelVec::VoxelVec(VoxelVec&& other) noexcept : v_(other.v_), local_(other.local_) { other.v_ = nullptr; }

void VoxelVec::set_local(const std::vector<double>& values) {
  if (static_cast<std::int64_t>(values.size()) != local_) throw std::logic_error("fit: VoxelVec local size");
  PetscScalar* a = nullptr;
  petsc_check(VecGetArrayWrite(v_, &a), "VecGetArrayWrite");
  std::copy(values.begin(), values.end(), a);
  petsc_check(VecRestoreArrayWrite(v_, &a), "VecRestoreArrayWrite");
}

std::vector<double> VoxelVec::local_values() const {
  const PetscScalar* a = nullptr;
  petsc_check(VecGetArrayRead(v_, &a), "VecGetArrayRead");
  std::vector<double> out(a, a + local_);
  petsc_check(VecRestoreArrayRead(v_, &a), "VecRestoreArrayRead");
  return out;
}

std::vector<double> VoxelVec::gather_to_root() const {
  VecScatter scatter = nullptr;
  Vec all = nullptr;
  petsc_check(VecScatterCreateToZero(v_, &scatter, &all), "VecScatterCreateToZero");
  petsc_check(VecScatterBegin(scatter, v_, all, INSERT_VALUES, SCATTER_FORWARD), "VecScatterBegin");
  petsc_check(VecScatterEnd(scatter, v_, all, INSERT_VALUES, SCATTER_FORWARD), "VecScatterEnd");
  PetscInt n = 0;
  petsc_check(VecGetLocalSize(all, &n), "VecGetLocalSize");
  const PetscScalar* a = nullptr;
  petsc_check(VecGetArrayRead(all, &a), "VecGetArrayRead");
  std::vector<double> out(a, a + n);
  petsc_check(VecRestoreArrayRead(all, &a), "VecRestoreArrayRead");
  VecScatterDestroy(&scatter);
  VecDestroy(&all);
  return out;
}

}  // namespace deepvox::fit
