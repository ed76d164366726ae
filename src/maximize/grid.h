// PNG contact sheets of the generated images: one per ROI, one row per target (its label on the left),
// one column per restart, each cell captioned with its predicted objective.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepvox::maximize {

struct GridRow {
  std::string label;
  std::vector<const std::uint8_t*> images;  // restarts, each S x S x 3 RGB
  std::vector<std::string> captions;        // one per image
};

// Writes the sheet; throws std::runtime_error naming the file when it cannot be written.
void write_grid(const std::string& path, const std::string& title, const std::vector<GridRow>& rows,
                int size);

}  // namespace deepvox::maximize
