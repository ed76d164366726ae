// Helpers of the tests/nets references: fixture files written by make_fixture.sh into $NETS_FIXTURES.
#pragma once

#include <ATen/ATen.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace deepvox::nets::test {

inline std::string fixture_dir() {
  const char* d = std::getenv("NETS_FIXTURES");
  return d ? d : "";
}

inline bool exists(const std::string& path) { return std::ifstream(path).good(); }

// float32 little-endian file -> tensor of the given shape; the file may hold more (a prefix is read).
inline at::Tensor read_f32(const std::string& path, std::vector<int64_t> shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  auto t = at::empty(shape, at::kFloat);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * 4));
  if (!in)
    throw std::runtime_error("fixture " + path + " is shorter than " + std::to_string(t.numel()) + " floats");
  return t;
}

// {layer: shape} written beside the references.
inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path);
  nlohmann::json j;
  in >> j;
  return j;
}

// NHWC photos of make_inputs.py -> NCHW network input.
inline at::Tensor read_inputs(int size, int count) {
  return read_f32(fixture_dir() + "/inputs_" + std::to_string(size) + ".f32", {count, size, size, 3})
      .permute({0, 3, 1, 2})
      .contiguous();
}

// The agreement measure of the project: max|a - b| / max|b|.
inline double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

}  // namespace deepvox::nets::test
