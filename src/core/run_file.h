// A stage's output file: written as run_dir/NAME.h5.partial with provenance attributes, and renamed
// to NAME.h5 by rank 0 only after every rank has succeeded (commit). A run that fails or is killed
// keeps the .partial (for resume) and never leaves a complete-looking file.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "io/h5.h"

namespace deepvox {

// The command line of this process, set once by main (stored in provenance).
void set_command_line(int argc, char** argv);
const std::string& command_line();
const char* version();

class RunFile {
 public:
  // Collective. Creates run_dir (if needed) and NAME.h5.partial, writing provenance.
  // A non-empty resume_key (with `resume: true`) reopens an existing .partial written for the same
  // inputs (its `resume_key` attribute matches) instead of truncating it; anything else is discarded.
  RunFile(const Config& cfg, const std::string& stage, MPI_Comm comm, const std::string& resume_key = "");
  h5::File& file() { return file_; }
  const std::string& final_path() const { return final_path_; }
  const std::string& partial_path() const { return partial_path_; }
  bool resumed() const { return resumed_; }
  // Collective: close, check every rank succeeded, rename on rank 0.
  void commit();

 private:
  h5::File file_;
  MPI_Comm comm_;
  std::string final_path_, partial_path_;
  bool resumed_ = false;
};

// What a stage's .partial or chunk files were computed for: every STAGE.* key, the seed and threads, and
// the identity (path and creation time) of each input file. Equal keys mean reusable results.
std::string config_key(const Config& cfg, const std::string& stage, const std::vector<std::string>& inputs);

// Hex SHA-256 of a file's bytes (weights provenance); throws naming the file.
std::string sha256_file(const std::string& path);
std::string utc_now();  // ISO 8601, e.g. 2026-11-24T02:20:00Z

// Writes the provenance attributes (deepvox_version, command_line, config, mpi_ranks, created_utc, stage).
void write_provenance(const h5::Object& root, const Config& cfg, const std::string& stage, int ranks);

}  // namespace deepvox
