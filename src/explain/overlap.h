// How well a heatmap lands on a known object mask (the planted category evidence of the virtual subject):
//   mass_inside  share of the map's positive mass inside the mask (the "energy-based pointing game",
//                Wang et al. 2020); chance is the mask's area share;
//   auc          ROC AUC of the signed map values as a score for mask pixels (0.5 = chance), with ties
//                counted one half (Mann-Whitney U from average ranks).
// Plain C++; NaN where undefined (no positive mass; a mask that is empty or everything).
#pragma once

#include <cstdint>

namespace deepvox::explain {

struct OverlapScore {
  double mass_inside, area, auc;
};

OverlapScore overlap_score(const float* heat, const std::uint8_t* mask, std::int64_t n);

}  // namespace deepvox::explain
