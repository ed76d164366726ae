#include "core/run_file.h"

#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"

#ifndef DEEPVOX_VERSION
#define DEEPVOX_VERSION "unknown"
#endif

namespace deepvox {
namespace {
std::string g_command_line;

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + std::string(argv[i]);
}
const std::string& command_line() { return g_command_line; }
const char* version() { return DEEPVOX_VERSION; }

void write_provenance(const h5::Object& root, const Config& cfg, const std::string& stage, int ranks) {
  root.write_attr("deepvox_version", std::string(version()));
  root.write_attr("command_line", command_line());
  root.write_attr("config", cfg.to_yaml());
  root.write_attr<std::int64_t>("mpi_ranks", ranks);
  // Every rank must write identical attribute values in a parallel file: take rank 0's clock.
  std::string now = utc_now();
  now.resize(32, '\0');
  MPI_Bcast(now.data(), 32, MPI_CHAR, 0, MPI_COMM_WORLD);
  root.write_attr("created_utc", std::string(now.c_str()));
  root.write_attr("stage", stage);
}

RunFile::RunFile(const Config& cfg, const std::string& stage, MPI_Comm comm, bool resume) : comm_(comm) {
  namespace fs = std::filesystem;
  final_path_ = cfg.run_file(stage);
  partial_path_ = final_path_ + ".partial";
  bool ok = true;
  std::string why;
  if (is_root(comm_)) {
    try {
      fs::create_directories(cfg.run_dir());
    } catch (const std::exception& e) {
      ok = false;
      why = e.what();
    }
  }
  if (!all_ok(ok, comm_)) throw std::runtime_error("cannot create run_dir " + cfg.run_dir() + ": " + why);

  // Resume only from a .partial that opens and belongs to this stage; anything else is discarded.
  int reuse = 0;
  if (resume && is_root(comm_) && h5::is_hdf5(partial_path_)) {
    try {
      auto f = h5::File::open(partial_path_, h5::Mode::Read);
      reuse = f.has_attr("stage") && f.read_attr_string("stage") == stage ? 1 : 0;
    } catch (const std::exception&) {
      reuse = 0;
    }
  }
  MPI_Bcast(&reuse, 1, MPI_INT, 0, comm_);
  if (reuse) {
    file_ = h5::File::open(partial_path_, h5::Mode::ReadWrite, comm_);
    resumed_ = true;
    log::info("{}: resuming from {}", stage, partial_path_);
  } else {
    file_ = h5::File::open(partial_path_, h5::Mode::Create, comm_);
  }
  write_provenance(file_, cfg, stage, size(comm_));
}

void RunFile::commit() {
  file_.flush();
  file_.close();
  // Every rank reached this point without throwing; rank 0 makes the result visible atomically.
  MPI_Barrier(comm_);
  int ok = 1;
  if (is_root(comm_)) {
    std::error_code ec;
    std::filesystem::rename(partial_path_, final_path_, ec);
    if (ec) ok = 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
  if (!ok) throw std::runtime_error("cannot rename " + partial_path_ + " to " + final_path_);
  log::info("wrote {}", final_path_);
}

}  // namespace deepvox
