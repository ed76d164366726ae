#include "maximize/truth.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "io/h5.h"
#include "io/image.h"

// The ground truth is evaluated by the import stage's virtual cortex; CMake defines
// DEEPVOX_MAXIMIZE_TRUTH when deepvox_import is built (and linked into deepvox_maximize).
#if defined(DEEPVOX_MAXIMIZE_TRUTH) && __has_include("import/virtual_cortex.h")
#include "import/virtual_cortex.h"
#define DEEPVOX_HAVE_VIRTUAL_CORTEX 1
#endif

namespace deepvox::maximize {
namespace {

// Objectives [rows, T] from responses [rows, V].
std::vector<double> objectives(const std::vector<float>& responses, std::int64_t rows, std::int64_t n_voxels,
                               const std::vector<Target>& targets) {
  const auto T = targets.size();
  std::vector<double> out(static_cast<size_t>(rows) * T);
  for (std::int64_t i = 0; i < rows; ++i)
    for (size_t t = 0; t < T; ++t) {
      double acc = 0;
      for (const auto& [v, c] : targets[t].coefficients)
        acc += c * responses[static_cast<size_t>(i * n_voxels + v)];
      out[static_cast<size_t>(i) * T + t] = acc;
    }
  return out;
}

#ifdef DEEPVOX_HAVE_VIRTUAL_CORTEX
class VirtualSubjectTruth : public TruthScorer {
 public:
  VirtualSubjectTruth(const std::string& path, const std::vector<Target>& targets,
                      const std::vector<std::string>& natural_ids)
      : targets_(targets) {
    auto f = h5::File::open(path, h5::Mode::Read);
    for (const char* name : {"noise_free", "stimulus_ids", "cortex"})
      if (!f.exists(name)) throw std::runtime_error(path + " has no /" + std::string(name));
    auto noise_free = f.dataset("noise_free");
    n_voxels_ = noise_free.cols();
    for (const auto& t : targets)
      for (const auto& [v, c] : t.coefficients)
        if (v >= n_voxels_)
          throw std::runtime_error(path + " has " + std::to_string(n_voxels_) +
                                   " voxels, fewer than the model");
    // The natural stimuli's noise-free responses, in features.h5 order.
    auto ids = f.dataset("stimulus_ids").read_strings();
    std::map<std::string, std::int64_t> row;
    for (size_t i = 0; i < ids.size(); ++i) row[ids[i]] = static_cast<std::int64_t>(i);
    auto all = noise_free.read_all<float>();
    std::vector<float> ordered(natural_ids.size() * static_cast<size_t>(n_voxels_));
    for (size_t i = 0; i < natural_ids.size(); ++i) {
      auto it = row.find(natural_ids[i]);
      if (it == row.end()) throw std::runtime_error("stimulus '" + natural_ids[i] + "' is not in " + path);
      std::copy_n(all.begin() + it->second * n_voxels_, n_voxels_,
                  ordered.begin() + static_cast<std::ptrdiff_t>(i) * n_voxels_);
    }
    natural_ = objectives(ordered, static_cast<std::int64_t>(natural_ids.size()), n_voxels_, targets_);
    cortex_ = import::VirtualCortex::from_truth_file(path);
  }

  std::vector<double> natural_objectives() const override { return natural_; }

  std::vector<double> score(const std::uint8_t* images, std::int64_t b, std::int64_t s) override {
    std::vector<image::RgbImage> batch(static_cast<size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) {
      auto& img = batch[static_cast<size_t>(i)];
      img.width = img.height = static_cast<int>(s);
      img.pixels.assign(images + i * s * s * 3, images + (i + 1) * s * s * 3);
    }
    return objectives(cortex_->respond(batch), b, n_voxels_, targets_);
  }

 private:
  const std::vector<Target>& targets_;
  std::int64_t n_voxels_ = 0;
  std::vector<double> natural_;
  std::unique_ptr<import::VirtualCortex> cortex_;
};
#endif

}  // namespace

std::unique_ptr<TruthScorer> open_truth(const Config& cfg, const std::vector<Target>& targets,
                                        const std::vector<std::string>& natural_ids, MPI_Comm comm,
                                        std::string* note) {
  const std::string path = cfg.run_file("truth");
  if (!std::filesystem::exists(path)) {
    *note = "no " + path + ": not the virtual subject";
    return nullptr;
  }
#ifdef DEEPVOX_HAVE_VIRTUAL_CORTEX
  // Every rank loads it (each scores its own chunks); a failure is the same everywhere, but check anyway.
  std::unique_ptr<TruthScorer> scorer;
  std::string error;
  try {
    scorer = std::make_unique<VirtualSubjectTruth>(path, targets, natural_ids);
  } catch (const std::exception& e) {
    error = e.what();
  }
  int bad = error.empty() ? 0 : 1;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
  if (bad)
    throw std::runtime_error("maximize: ground truth: " + (error.empty() ? "failed on another rank" : error));
  return scorer;
#else
  (void)targets;
  (void)natural_ids;
  (void)comm;
  *note = "this build has no virtual cortex (deepvox_import) to evaluate the ground truth on new images";
  return nullptr;
#endif
}

}  // namespace deepvox::maximize
