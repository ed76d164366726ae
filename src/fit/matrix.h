// A dense row-major matrix: the one container the ridge solver passes around.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepvox::fit {

template <typename T>
struct Mat {
  std::int64_t rows = 0, cols = 0;
  std::vector<T> v;

  Mat() = default;
  Mat(std::int64_t r, std::int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), T(0)) {}
  void resize(std::int64_t r, std::int64_t c) {
    rows = r;
    cols = c;
    v.assign(static_cast<size_t>(r * c), T(0));
  }
  T* data() { return v.data(); }
  const T* data() const { return v.data(); }
  T* row(std::int64_t i) { return v.data() + i * cols; }
  const T* row(std::int64_t i) const { return v.data() + i * cols; }
  T& operator()(std::int64_t i, std::int64_t j) { return v[static_cast<size_t>(i * cols + j)]; }
  T operator()(std::int64_t i, std::int64_t j) const { return v[static_cast<size_t>(i * cols + j)]; }
  bool empty() const { return rows == 0 || cols == 0; }
};

}  // namespace deepvox::fit
