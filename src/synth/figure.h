// The synthetic-vs-real repetition figure: per voxel, r(synthetic, real rep) against r(real rep, other
// real rep), coloured by ROI; per ROI, bars of the pattern correlations.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "synth/repetition.h"

namespace deepvox::synth {

void draw_repetition_figure(const RepetitionResult& rep,
                            const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois,
                            const std::string& png_path);

}  // namespace deepvox::synth
