#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"

namespace deepvox {
namespace {
ProgressMode g_mode = ProgressMode::Auto;

std::string format_seconds(double s) {
  if (s < 0 || s > 1e7) return "?";
  char buf[32];
  int h = static_cast<int>(s) / 3600, m = (static_cast<int>(s) % 3600) / 60, sec = static_cast<int>(s) % 60;
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%dh%02dm%02ds", h, m, sec);
  else if (m > 0)
    std::snprintf(buf, sizeof buf, "%dm%02ds", m, sec);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}
}  // namespace

ProgressMode parse_progress_mode(const std::string& s) {
  if (s == "auto") return ProgressMode::Auto;
  if (s == "always") return ProgressMode::Always;
  if (s == "never") return ProgressMode::Never;
  throw std::invalid_argument("progress must be auto, always or never, got '" + s + "'");
}

void set_progress_mode(ProgressMode mode) { g_mode = mode; }

Progress::Progress(std::string label, std::int64_t total, MPI_Comm comm)
    : label_(std::move(label)), total_(total), comm_(comm) {
  int r = 0;
  MPI_Comm_rank(comm_, &r);
  MPI_Comm_size(comm_, &size_);
  root_ = r == 0;
  // One-sided counters only when every rank shares rank 0's node: there OpenMPI's shared-memory window
  // is fast and needs no progress from rank 0. Across hosts its TCP windows either fail to allocate
  // or make every add() wait for rank 0, so rank 0 extrapolates from its own share instead.
  if (one_node(comm_)) {
    // Rank 0 owns two counters [done, skipped]; other ranks expose an empty window.
    MPI_Aint bytes = root_ ? static_cast<MPI_Aint>(2 * sizeof(std::int64_t)) : 0;
    MPI_Win_allocate(bytes, sizeof(std::int64_t), MPI_INFO_NULL, comm_, &counter_, &win_);
    if (root_) counter_[0] = counter_[1] = 0;
  }
  if (root_)
    enabled_ = g_mode == ProgressMode::Always || (g_mode == ProgressMode::Auto && isatty(STDERR_FILENO));
  MPI_Barrier(comm_);
  start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  // Unwinding from an error: no collectives (other ranks may never reach them); the job aborts next.
  if (std::uncaught_exceptions() > 0 && size_ > 1) return;
  // Exact totals for the final line, once every rank has added its last count.
  std::int64_t mine[2] = {local_[0], local_[1]}, all[2] = {0, 0};
  MPI_Reduce(mine, all, 2, MPI_INT64_T, MPI_SUM, 0, comm_);
  if (root_) report_line(true, all);
  if (win_ != MPI_WIN_NULL) MPI_Win_free(&win_);
}

void Progress::count(std::int64_t done, std::int64_t skipped) {
  local_[0] += done;
  local_[1] += skipped;
  if (win_ == MPI_WIN_NULL) return;
  std::int64_t add[2] = {done, skipped};
  MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win_);
  MPI_Accumulate(add, 2, MPI_INT64_T, 0, 0, 2, MPI_INT64_T, MPI_SUM, win_);
  MPI_Win_unlock(0, win_);
}

void Progress::add(std::int64_t n) {
  count(n, 0);
  report();
}

void Progress::add_skipped(std::int64_t n) { count(n, n); }

void Progress::report() {
  if (!root_ || !enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < 2.0) return;
  last_ = now;
  std::int64_t done[2] = {local_[0] * size_, local_[1] * size_};  // estimate: every rank as far as rank 0
  if (win_ != MPI_WIN_NULL) {
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win_);
    MPI_Get_accumulate(nullptr, 0, MPI_INT64_T, done, 2, MPI_INT64_T, 0, 0, 2, MPI_INT64_T, MPI_NO_OP, win_);
    MPI_Win_unlock(0, win_);
  }
  report_line(false, done);
}

void Progress::report_line(bool final, const std::int64_t* done) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0 ? static_cast<double>(done[0] - done[1]) / elapsed : 0.0;
  double eta = rate > 0 ? static_cast<double>(total_ - done[0]) / rate : -1.0;
  if (final) {
    log::info("{}: {}/{} done in {} ({:.2f}/s{})", label_, done[0], total_, format_seconds(elapsed), rate,
              done[1] ? ", " + std::to_string(done[1]) + " resumed" : std::string());
  } else {
    const char* approx = win_ == MPI_WIN_NULL && size_ > 1 ? "~" : "";  // extrapolated from rank 0
    const std::int64_t shown = std::min(done[0], total_);
    log::info("{}: {}{}/{} ({:.0f}%), {:.2f}/s, ETA {}", label_, approx, shown, total_,
              total_ ? 100.0 * static_cast<double>(shown) / static_cast<double>(total_) : 100.0, rate,
              format_seconds(eta));
  }
}

}  // namespace deepvox
