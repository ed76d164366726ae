#include "fit/cv_checkpoint.h"

#include <csignal>
#include <string>

#include "core/mpi.h"

namespace deepvox::fit {

namespace {
std::string group_of(std::int64_t k) { return "chunks/fit" + std::to_string(k); }
const double kNoDouble = 0.0;  // a valid pointer for empty collective writes
}  // namespace

CvCheckpoint::CvCheckpoint(const h5::File& f, bool resumed, long kill_after)
    : f_(f), resumed_(resumed), kill_after_(kill_after) {}

std::int64_t CvCheckpoint::begin(std::int64_t k, std::int64_t tasks, std::int64_t rows,
                                 const VoxelLayout& layout, std::vector<double>& acc) {
  fit_ = k;
  rows_ = rows;
  const std::string g = group_of(k);
  if (!resumed_ || !f_.exists(g)) {
    h5::CreateOptions early;
    early.allocate_early = true;  // stable storage before any task is marked done
    f_.create_dataset<double>(g + "/acc", {rows, layout.global()}, early);
    f_.create_dataset<std::uint8_t>(g + "/done", {tasks}, early)
        .write_all(std::vector<std::uint8_t>(static_cast<size_t>(tasks), 0));
    f_.flush();
    return 0;
  }
  const auto done = f_.dataset(g + "/done").read_all<std::uint8_t>();
  if (static_cast<std::int64_t>(done.size()) != tasks)
    throw std::runtime_error("fit: " + f_.path() + " /" + g + " has " + std::to_string(done.size()) +
                             " tasks, expected " + std::to_string(tasks));
  std::int64_t n = 0;
  while (n < tasks && done[static_cast<size_t>(n)]) ++n;
  const std::int64_t nv = layout.local();
  if (n > 0) {
    double none = 0;  // a valid pointer for a rank without voxels
    f_.dataset(g + "/acc")
        .read_block<double>({0, nv > 0 ? rows : 0, layout.begin(), nv}, nv > 0 ? acc.data() : &none);
  }
  return n;
}

void CvCheckpoint::record(std::int64_t t0, std::int64_t t1, const VoxelLayout& layout,
                          const std::vector<double>& acc) {
  const std::string g = group_of(fit_);
  const std::int64_t nv = layout.local();
  f_.dataset(g + "/acc")
      .write_block<double>({0, nv > 0 ? rows_ : 0, layout.begin(), nv}, nv > 0 ? acc.data() : &kNoDouble);
  f_.flush();  // the sums reach the disk before their tasks are marked done
  const bool root = is_root(layout.comm());
  const std::vector<std::uint8_t> ones(static_cast<size_t>(t1 - t0), 1);
  const std::uint8_t dummy = 0;
  f_.dataset(g + "/done")
      .write_block<std::uint8_t>({root ? t0 : 0, root ? t1 - t0 : 0, 0, 1}, root ? ones.data() : &dummy);
  f_.flush();
  recorded_ += t1 - t0;
  if (kill_after_ >= 0 && recorded_ >= kill_after_ && rank(layout.comm()) == size(layout.comm()) - 1)
    std::raise(SIGKILL);
}

void CvCheckpoint::finish() {
  if (f_.exists("chunks")) f_.remove("chunks");
}

}  // namespace deepvox::fit
