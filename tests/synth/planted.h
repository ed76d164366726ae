// Helpers shared by the synth and decode tests: a fresh copy of the planted run directory per test,
// and small readers.
#pragma once

#include <mpi.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "io/h5.h"

namespace deepvox::testing {

// argv[1]: the planted fixture folder (make_planted.py's OUT); argv[2]: this run's work folder.
extern std::string g_fixture, g_work;

// Copies the fixture's run/ into g_work/<name>/ on rank 0 (replacing it) and returns that run_dir.
inline std::string fresh_run(const std::string& name) {
  namespace fs = std::filesystem;
  const std::string dir = (fs::path(g_work) / name).string();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy(fs::path(g_fixture) / "run", dir, fs::copy_options::recursive);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

inline Config config(const std::string& run_dir, std::vector<std::string> overrides) {
  overrides.insert(overrides.begin(), {"run_dir=" + run_dir, "threads=1", "progress=never"});
  return Config::load("", overrides);
}

template <typename T>
std::vector<T> read(const std::string& path, const std::string& dataset) {
  auto f = h5::File::open(path, h5::Mode::Read);
  return f.dataset(dataset).read_all<T>();
}

inline bool is_root() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0;
}

}  // namespace deepvox::testing
