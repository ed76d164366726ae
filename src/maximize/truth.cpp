#include "maximize/truth.h"

#include <filesystem>

namespace deepvox::maximize {

std::unique_ptr<TruthScorer> open_truth(const Config& cfg, const std::vector<Target>& targets,
                                        const std::vector<std::string>& natural_ids, MPI_Comm comm,
                                        std::string* note) {
  (void)targets;
  (void)natural_ids;
  (void)comm;
  const std::string path = cfg.run_file("truth");
  if (!std::filesystem::exists(path)) {
    *note = "no " + path + ": not the virtual subject";
    return nullptr;
  }
  *note = "this build cannot evaluate the virtual subject's ground truth on new images";
  return nullptr;
}

}  // namespace deepvox::maximize
