// What the reconstruct stage computed, held on every rank, and how it is scored, written and drawn.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fit/matrix.h"
#include "io/h5.h"
#include "reconstruct/feature_decoder.h"
#include "reconstruct/identification.h"

namespace deepvox::reconstruct {

struct LayerDecoding {
  std::string layer;
  std::vector<std::int64_t> voxels;  // voxel columns of responses.h5 used
  std::vector<double> lambda;
  std::vector<float> cv_score;
  std::int64_t at_lower_edge = 0, at_upper_edge = 0;
  DecodingScores scores;   // on every test stimulus, after rescaling
  fit::Mat<float> picked;  // decoded features of the images to reconstruct (n_picked x D)
};

// One way of reconstructing ("multi_layer", "baseline").
struct MethodImages {
  std::string name, description;
  std::vector<std::uint8_t> images;               // N x S x S x 3
  std::vector<std::vector<float>> eval_features;  // per eval layer: N x D_l
  std::vector<float> loss;                        // N x iterations
};

struct Reconstructions {
  std::vector<std::string> ids;
  std::vector<std::int64_t> test_index;  // position in /split/test
  int image_size = 0;
  std::int64_t iterations = 0;
  std::vector<std::uint8_t> originals;  // N x S x S x 3
  std::vector<std::vector<float>> original_features;
  std::vector<std::string> eval_layers;
  std::vector<std::int64_t> eval_dims;
  std::string eval_description;
  std::vector<MethodImages> methods;
};

// Scores of one method against the originals.
struct MethodScores {
  Identification overall;                 // similarity = mean over eval layers of Pearson r
  std::vector<Identification> per_layer;  // one per eval layer
  std::vector<double> pixel_r;            // per image: Pearson r with its original
  Identification pixel;                   // pairwise identification by pixel correlation
};
MethodScores score_method(const Reconstructions& r, const MethodImages& m);

// Collective: /images, /originals, /baseline/images, /identification/*, /pixel/*, /optimization/loss.
void write_reconstructions(const h5::Group& root, const Reconstructions& r,
                           const std::vector<MethodScores>& scores);
// Collective: /decoding/<layer>/* and /decoding/summary/*.
void write_decoding(const h5::Group& root, const std::vector<LayerDecoding>& layers);
// Rank 0 only: grids of originals and each method's reconstructions, 8 images per file:
// dir/reconstructions_00.png, ...
void write_reconstruction_grids(const std::string& dir, const Reconstructions& r);

}  // namespace deepvox::reconstruct
