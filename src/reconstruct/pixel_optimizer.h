// Image reconstruction by feature matching (Shen et al. 2019, seed 002): optimize an image so that its
// features at several layers match the decoded ones. The loss of image i is
//     sum_l w_il ||f_l(x_i) - t_il||^2,   w_il = 1 / ||t_il||^2 (normalized over l), or fixed weights;
// each step normalizes the gradient of every image by its mean absolute value (Shen et al.'s icnn_gd), moves
// with SGD + momentum or Adam, with a random circular jitter before the forward pass, and Gaussian-blurs the
// image after the step (sigma shrinking linearly); pixels stay in 0..255. With a generator prior the latent
// z of G(z) is optimized instead (no blur), as in Shen et al.'s DGN variant.
//
// The image of side S is resized to the network's input size inside the graph. Randomness (initial noise,
// jitter) comes from a seed per batch, so a batch's result does not depend on which rank computes it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "extract/feature_model.h"
#include "reconstruct/generator.h"
#include "reconstruct/options.h"

namespace deepvox::reconstruct {

struct MatchTargets {
  std::vector<std::string> layers;    // layers of the feature model, in its plan order
  std::vector<at::Tensor> features;   // per layer [B, D_l]: the decoded features to match
  std::vector<double> layer_weights;  // empty: 1/||t||^2 per image, normalized over layers
};

struct OptimizeResult {
  at::Tensor images;  // [B, 3, S, S] in 0..255
  at::Tensor loss;    // [B, iterations]: the weighted feature loss at each step
};

// model's plans must be exactly targets.layers. prior == nullptr: optimize pixels.
OptimizeResult optimize_images(const extract::FeatureModel& model, const MatchTargets& targets,
                               const OptimizerOptions& options, const Generator* prior, std::uint64_t seed);

// Per-image, per-layer weights [B, L] for the given targets (normalized to sum 1 over layers).
at::Tensor layer_weights(const MatchTargets& targets);

}  // namespace deepvox::reconstruct
