// Slurm job arrays for the stages whose work is independent chunks of targets (maximize, explain,
// reconstruct), and the per-chunk files that carry results from array tasks to the final run.
//
// An array task (`array.tasks: N`, `array.task: K`) computes only its contiguous block of the stage's
// chunks, saves each finished chunk as run_dir/STAGE.chunks/chunk-C.h5, and writes no stage file. The final
// run is the ordinary stage (no array keys): it loads every chunk it finds there instead of computing it,
// computes any that are missing (a failed array task costs time, not results), writes STAGE.h5 and removes
// the folder. Chunks are fixed by the data and config, never by the rank or task count, so the final file is
// bit-identical to an uninterrupted run. Each chunk file carries the run's key (config + input identities):
// a chunk left by a different config or different inputs is ignored.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/mpi.h"

namespace deepvox {

struct ArrayTask {
  int index = 0;
  int count = 0;  // 0: not an array task; the run does every chunk and writes the stage file
  bool active() const { return count > 0; }
  // This task's contiguous block of the chunks [0, n_chunks) (all of them when not an array task).
  Range block(std::int64_t n_chunks) const;
  // The chunks rank r of p computes: this task's block, round robin over the ranks.
  std::vector<std::int64_t> my_chunks(std::int64_t n_chunks, int r, int p) const;
  // Items (targets, images) in this task's block of chunks: the total its progress line counts to.
  std::int64_t items(const std::vector<Range>& chunks) const;
};

// array.task / array.tasks of the config; throws ConfigError for out-of-range values.
ArrayTask array_task(const Config& cfg, const std::string& stage);

// One chunk's results, flattened. Stages pack and unpack their own layout.
struct ChunkData {
  std::vector<std::uint8_t> bytes;
  std::vector<float> floats;
  std::vector<double> doubles;
};

class ChunkCache {
 public:
  // Folder run_dir/STAGE.chunks; key identifies what the chunks were computed for (config_key()).
  ChunkCache(const Config& cfg, const std::string& stage, std::string key);
  // Is chunk c there, computed for this key? (Any rank; files are read serially.)
  bool has(std::int64_t c) const;
  ChunkData load(std::int64_t c) const;
  // Writes chunk c to a temporary name and renames it: a killed task never leaves a torn chunk.
  void save(std::int64_t c, const ChunkData& data) const;
  // Removes the folder (rank 0, once the stage file is committed).
  void clear() const;
  const std::string& folder() const { return folder_; }

 private:
  std::string path(std::int64_t c) const;
  std::string folder_, key_;
};

}  // namespace deepvox
