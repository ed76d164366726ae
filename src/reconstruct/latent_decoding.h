// Latent decoding (VanRullen & Reddy 2019, seed 004): a linear map (ridge, lambda by cross-validation per
// latent dimension) from voxels to a generator's latent space, fit on the latents of the training images
// (from a TorchScript encoder or an HDF5 file). Test responses are decoded to latents and rendered.
//
// Baseline, as in the seed: the same decoding into the space of the training images' first Z principal
// components (PCA of pixels at the generator's resolution), rendered as mean + coefficients x components.
// Both are scored side by side with pairwise decoding in their latent space and in image space, and a
// binary attribute (membership in a category set) is read out along a linear axis of each latent space:
// Fisher's discriminant of the training latents, thresholded halfway between the class means.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/h5.h"
#include "reconstruct/feature_decoder.h"
#include "reconstruct/identification.h"
#include "reconstruct/inputs.h"
#include "reconstruct/options.h"

namespace deepvox {
class StimulusSet;
}

namespace deepvox::reconstruct {

struct LatentMethod {
  std::string name;                // "generator" | "pca"
  fit::Mat<float> decoded, truth;  // n_test x Z
  std::vector<double> lambda;      // Z
  Identification latent_pairwise, image_pairwise;
  std::vector<std::uint8_t> images;  // n_test x S x S x 3, the rendered decoded latents
  double attribute_accuracy = -1, attribute_ceiling = -1, attribute_chance = -1,
         attribute_p = 1;  // -1: not read out
};

struct LatentResult {
  std::string generator, encoder;  // paths used
  int image_size = 0;
  std::int64_t latent_dim = 0;
  std::vector<std::uint8_t> originals;  // n_test x S x S x 3
  std::vector<LatentMethod> methods;
  std::vector<std::uint8_t> attribute;  // n_test labels (empty when not read out)
  bool trained = false;
  double train_first_loss = 0, train_last_loss = 0;
};

struct LatentInputs {
  const DecodeDesign* design = nullptr;  // voxels of the training then test stimuli
  std::vector<std::string> train_ids, test_ids;
  std::vector<std::int64_t> train_category, test_category;  // -1 unknown; empty when there are no categories
  std::vector<std::string> category_names;
  const StimulusSet* stimuli = nullptr;
  std::vector<std::int64_t> train_rows, test_rows;  // rows of `stimuli`
};

// Collective over comm. rescale: give decoded latents the training mean and s.d. (as decoded features get),
// which undoes ridge shrinkage before rendering and before the attribute threshold.
LatentResult decode_latents(const LatentOptions& options, const LatentInputs& in, std::int64_t target_block,
                            bool rescale, const std::string& device, std::uint64_t seed, MPI_Comm comm);

// Collective: writes /latent/... into the stage file.
void write_latent(const h5::Group& root, const LatentResult& r, const std::vector<std::string>& test_ids);
// Rank 0 only: dir/latent.png, originals then each method's renderings for the first 8 test images.
void write_latent_grid(const std::string& dir, const LatentResult& r);

}  // namespace deepvox::reconstruct
