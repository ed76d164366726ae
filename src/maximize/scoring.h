// Clean scoring of finished images: the stored uint8 image, resized to the network input without any
// robustness transform, through the encoding model(s). What a later reader of maximize.h5 would get by
// feeding /images to the same models.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "extract/feature_model.h"
#include "maximize/readout.h"

namespace deepvox::maximize {

// Pooled features of uint8 images [B,S,S,3] for every layer of `model` (no gradient).
std::map<std::string, at::Tensor> clean_features(const extract::FeatureModel& model,
                                                 const std::uint8_t* images, std::int64_t b, std::int64_t s,
                                                 at::Device device);

// Every target's objective [B, T] from per-layer features, assembled in the readout's layer order.
std::vector<double> score_features(const LinearReadout& readout,
                                   const std::map<std::string, at::Tensor>& features);

// A FeatureModel over a subset of another's layers, sharing its network (which must outlive it).
extract::FeatureModel sub_model(const extract::FeatureModel& model, const std::vector<std::string>& layers);

}  // namespace deepvox::maximize
