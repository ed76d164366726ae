// Reader for NumPy's .npy files (the format numpy.save writes), without Python.
//
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//   "\x93NUMPY", major, minor, header length (uint16 LE in v1.0, uint32 LE in v2.0 and v3.0),
//   then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//   padded with spaces to a multiple of 64 bytes, then the raw array data.
// Supported element types: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, either byte order, C or Fortran order.
// Object arrays (pickles, such as Algonauts' ROI-name dictionaries) are refused with a clear error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepvox::import::npy {

struct Header {
  std::string descr;  // as written, e.g. "<f4"
  char kind = 'f';    // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int item_size = 4;  // bytes per element
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;  // empty for a 0-d array
  std::int64_t data_offset = 0;     // where the data starts in the file
  int major_version = 1;
  std::int64_t count() const;  // number of elements
};

// Parses the header; throws std::runtime_error naming the file and what is wrong.
Header read_header(const std::string& path);

// Reads the whole array converted to T, in C (row-major) order whatever the file's order.
// Instantiated for float, double, std::int64_t and std::uint8_t.
template <typename T>
std::vector<T> read(const std::string& path, Header* header_out = nullptr);

}  // namespace deepvox::import::npy
