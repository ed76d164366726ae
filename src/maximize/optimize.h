// The optimization of one chunk of targets: every restart of every target in one batch, so one
// forward/backward pass serves several targets. Each image's loss depends on that image only (the
// network runs in inference mode; the diversity term couples only restarts of one target, which always
// share a chunk), and its random streams are keyed by (seed, target, restart, step): the result of a
// target does not depend on which rank optimizes it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "extract/feature_model.h"
#include "maximize/image_param.h"
#include "maximize/options.h"
#include "maximize/readout.h"

namespace deepvox::maximize {

struct ChunkJob {
  std::int64_t first_target = 0, n_targets = 0;  // global indices [first, first + n)
  at::Tensor init_rgb;                           // [n, 3, S, S] in 0..1 for Init::Natural, else undefined
};

struct ChunkResult {
  std::vector<std::uint8_t> images;  // [n, R, S, S, 3]
  std::vector<float> trajectories;   // [n, R, recorded steps]: the objective under that step's view
  double seconds = 0;                // optimization wall time
  std::int64_t passes = 0;           // forward/backward passes (steps)
};

class Optimizer {
 public:
  // `model` computes the readout's layers in readout order; `readout` covers every target.
  Optimizer(const Options& options, const extract::FeatureModel& model, const LinearReadout& readout,
            at::Device device);
  ChunkResult run(const ChunkJob& job) const;

 private:
  at::Tensor objective(const at::Tensor& features, const at::Tensor& readout, const at::Tensor& bias,
                       const at::Tensor& target_of_image) const;
  at::Tensor diversity_penalty(const at::Tensor& features, std::int64_t n_targets) const;

  const Options& o_;
  const extract::FeatureModel& model_;
  const LinearReadout& readout_;
  at::Device device_;
  ImageParam param_;
  at::Tensor weights_;                       // [P, T] on device
  at::Tensor bias_;                          // [T]
  at::Tensor feature_mean_, feature_scale_;  // [P] (diversity)
  std::vector<std::int64_t> recorded_;
};

// Images [B,3,S,S] in 0..1 -> uint8 [B,S,S,3] as stored (round to nearest).
std::vector<std::uint8_t> to_uint8_hwc(const at::Tensor& rgb01);
// uint8 [B,S,S,3] -> float [B,3,S,S] in 0..1.
at::Tensor from_uint8_hwc(const std::uint8_t* data, std::int64_t b, std::int64_t s);

}  // namespace deepvox::maximize
