// Crash-safe resume of fit's cross-validation (issue 9). A task is one (fold, band-weight candidate) for
// every voxel: one decomposition, then every voxel block. After each task the running score sums of the
// rank's voxels are flushed to model.h5.partial, and only then is the task marked done, so a killed run
// redoes at most the tasks in flight. Resuming mid-task would need that task's decomposition again, so the
// task is the natural unit of redo. The sums are stored by global voxel, so a resume may use any rank count;
// they are summed in the same fold order either way, so the result is bit-identical.
//   /chunks/fit<k>/done  uint8   [tasks]     k = 0 the model, 1.. the per-layer fits in order
//   /chunks/fit<k>/acc   float64 [C*L, V]    sums over the finished folds (candidate, lambda) x voxel
// The group is removed before the file is committed.
#pragma once

#include <cstdint>
#include <vector>

#include "fit/petsc_voxels.h"
#include "io/h5.h"

namespace deepvox::fit {

class CvCheckpoint {
 public:
  // kill_after >= 0 (debug.kill_after_chunks): SIGKILL the last rank once that many tasks are recorded in
  // this run, to test resume after a real crash.
  CvCheckpoint(const h5::File& f, bool resumed, long kill_after);
  // Collective. Starts fit k (creating its datasets unless resumed); returns the tasks already done (a prefix
  // of the task order) and, when there are any, fills acc with the stored sums of this rank's voxels.
  std::int64_t begin(std::int64_t k, std::int64_t tasks, std::int64_t rows, const VoxelLayout& layout,
                     std::vector<double>& acc);
  // Collective: tasks [t0, t1) of the current fit are finished and acc holds their sums.
  void record(std::int64_t t0, std::int64_t t1, const VoxelLayout& layout, const std::vector<double>& acc);
  // Collective: removes /chunks (every fit finished).
  void finish();

 private:
  const h5::File& f_;
  bool resumed_;
  long kill_after_;
  long recorded_ = 0;
  std::int64_t fit_ = 0, rows_ = 0;
};

}  // namespace deepvox::fit
