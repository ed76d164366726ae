// Scoring with the virtual subject's planted ground truth (run_dir/truth.h5, demo only): the closest
// thing to showing the generated images to the subject, as the seed's fMRI validation did.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "maximize/targets.h"

namespace deepvox::maximize {

class TruthScorer {
 public:
  virtual ~TruthScorer() = default;
  // Noise-free true objective of every natural stimulus of features.h5 ([N, T], row-major).
  virtual std::vector<double> natural_objectives() const = 0;
  // Noise-free true objective of uint8 images [B,S,S,3] for every target ([B, T]). Not collective.
  virtual std::vector<double> score(const std::uint8_t* images, std::int64_t b, std::int64_t s) = 0;
};

// Collective. nullptr when there is no ground truth to score with; *note then says why.
std::unique_ptr<TruthScorer> open_truth(const Config& cfg, const std::vector<Target>& targets,
                                        const std::vector<std::string>& natural_ids, MPI_Comm comm,
                                        std::string* note);

}  // namespace deepvox::maximize
