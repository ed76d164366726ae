#include "explain/overlap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace deepvox::explain {

OverlapScore overlap_score(const float* heat, const std::uint8_t* mask, std::int64_t n) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  OverlapScore s{nan, nan, nan};
  if (n <= 0) return s;
  double pos = 0, pos_in = 0, in = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double h = std::max(0.0f, heat[i]);
    pos += h;
    if (mask[i]) {
      pos_in += h;
      in += 1;
    }
  }
  s.area = in / static_cast<double>(n);
  if (pos > 0) s.mass_inside = pos_in / pos;
  const double out = static_cast<double>(n) - in;
  if (in == 0 || out == 0) return s;
  std::vector<std::int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return heat[a] < heat[b]; });
  double rank_sum = 0;
  for (std::int64_t i = 0; i < n;) {
    std::int64_t j = i;
    while (j + 1 < n && heat[order[j + 1]] == heat[order[i]]) ++j;
    const double avg_rank =
        (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;  // 1-based, ties averaged
    for (std::int64_t k = i; k <= j; ++k)
      if (mask[order[k]]) rank_sum += avg_rank;
    i = j + 1;
  }
  s.auc = (rank_sum - in * (in + 1) / 2) / (in * out);
  return s;
}

}  // namespace deepvox::explain
