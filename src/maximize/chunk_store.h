// The resume record of maximize.h5 (/chunks): every finished chunk of targets stores its images,
// trajectories and clean scores, flushed before the chunk is marked done, so a killed run resumes
// with only its unfinished chunks (decisions.md "HDF5 layer and resume"). Rows are targets.
//   /chunks/images        uint8   [T, R*S*S*3]
//   /chunks/trajectories  float32 [T, R*K]
//   /chunks/scores/<m>    float64 [T, R*T]   m = model, independent, truth
//   /chunks/done          uint8   [chunks];  /chunks/seconds float64 [chunks] (while running; an
//                         attribute of /chunks once finished, so the datasets are bit-identical across runs)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/chunk_cache.h"
#include "core/mpi.h"
#include "io/h5.h"
#include "maximize/results.h"

namespace deepvox::maximize {

// One chunk's results, laid out as its rows of the /chunks datasets.
struct ChunkRecord {
  std::vector<std::uint8_t> images;
  std::vector<float> trajectories;
  std::vector<double> model, independent, truth;
  double seconds = 0;
};

// A record as a job-array chunk file (core/chunk_cache.h) and back.
ChunkData pack(const ChunkRecord& record);
ChunkRecord unpack(ChunkData data, bool truth);

class ChunkStore {
 public:
  // Collective. Creates the datasets unless the file was resumed.
  ChunkStore(const h5::File& f, bool resumed, const Results& shape, std::int64_t n_chunks, bool truth);
  std::vector<std::uint8_t> done() const;  // every rank reads
  // Collective: every rank calls once per round; a rank with nothing this round passes record = nullptr.
  void write(std::int64_t chunk, const Range& targets, const ChunkRecord* record);
  // Collective, once every chunk is done: every chunk's results into r (images, trajectories, generated
  // scores) and the summed optimization seconds; the per-chunk seconds then become an attribute.
  void finish(Results& r);

 private:
  const h5::File& f_;
  std::int64_t image_cols_, traj_cols_, score_cols_;
  bool truth_;
};

}  // namespace deepvox::maximize
