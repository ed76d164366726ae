// Progress of a long loop, aggregated over ranks: rank 0 prints items done, rate and ETA.
// Each rank adds its own count to a counter on rank 0 (one-sided MPI over shared memory), so ranks
// never wait for each other to report. Across hosts rank 0 extrapolates from its own count ("~");
// the final line is always the exact total. Quiet when stderr is not a terminal unless `progress: always`.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace deepvox {

enum class ProgressMode { Auto, Always, Never };
ProgressMode parse_progress_mode(const std::string& s);
// Process-wide default, set once from the config key `progress`.
void set_progress_mode(ProgressMode mode);

class Progress {
 public:
  // Collective: every rank of comm constructs it with the same total.
  Progress(std::string label, std::int64_t total, MPI_Comm comm = MPI_COMM_WORLD);
  ~Progress();  // collective, prints the final line on rank 0
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Adds n finished items on this rank (not collective).
  void add(std::int64_t n = 1);
  // Items already done before this run (resume); counted as done, not in the rate.
  void add_skipped(std::int64_t n);

 private:
  void count(std::int64_t done, std::int64_t skipped);
  void report();
  void report_line(bool final, const std::int64_t* done);
  std::string label_;
  std::int64_t total_;
  MPI_Comm comm_;
  MPI_Win win_ = MPI_WIN_NULL;
  std::int64_t* counter_ = nullptr;  // on rank 0: [done, skipped] of every rank
  std::int64_t local_[2] = {0, 0};   // this rank's [done, skipped]
  bool root_ = false;
  int size_ = 1;
  bool enabled_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace deepvox
