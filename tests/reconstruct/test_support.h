// Small planted problems for the reconstruct and explain tests: tiny TorchScript networks built in C++
// (Module::define, no Python), synthetic images with known object masks, and run-directory files written in
// exactly the layouts of run-files.md (responses.h5, model.h5, truth.h5).
#pragma once

#include <ATen/core/Tensor.h>
#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "io/image.h"

namespace deepvox::testkit {

// conv1: 3 -> c1 (k x k, same padding) + relu, tap "conv1"; conv2: c1 -> c2 (3 x 3, stride 2) + relu, tap
// "conv2".
struct TinyNet {
  at::Tensor w1, b1, w2, b2;
};
TinyNet random_tiny_net(std::int64_t c1, std::int64_t c2, std::int64_t k, std::uint64_t seed);
// Saves it as TorchScript: forward(x) -> Dict[str, Tensor] {"conv1", "conv2"}, and layer_names().
void save_tiny_network(const std::string& path, const TinyNet& net);

// A smooth random colour image: a random background tint plus a few Gaussian blobs of random colours.
image::RgbImage blob_image(int size, std::uint64_t seed);

// A grey textured background with one disc of the given colour; mask (size * size) marks the disc.
image::RgbImage disc_image(int size, std::uint64_t seed, const std::uint8_t colour[3],
                           std::vector<std::uint8_t>* mask);

// A fresh folder shared by every rank of comm (made by rank 0 under the system temp folder).
std::string shared_temp_dir(const std::string& tag, MPI_Comm comm);

struct ResponsesFile {
  std::vector<std::string> ids;
  std::vector<float> responses;  // S x V
  std::int64_t voxels = 0;
  std::vector<std::int64_t> train, test;
  std::map<std::string, std::vector<std::uint8_t>> rois;
  std::vector<std::string> category_names;
  std::vector<std::int64_t> category;
};
void write_responses(const std::string& path, const ResponsesFile& r);

// Writes the images as PNG under dir/images and dir/manifest.csv (stimulus_id, path, category); returns it.
std::string write_stimuli(const std::string& dir, const std::vector<std::string>& ids,
                          const std::vector<image::RgbImage>& images,
                          const std::vector<std::string>& categories);

// Runs the real extract stage on comm: network torchscript at `size` px, raw normalization.
void run_extract(const std::string& run_dir, const std::string& manifest, const std::string& network,
                 const std::vector<std::string>& layers, int size, std::int64_t max_features, MPI_Comm comm);

// Reads /features/<layer> of run_dir/features.h5 (rows x D).
std::vector<float> read_features(const std::string& run_dir, const std::string& layer, std::int64_t* dim);

// Every dataset of an HDF5 file (path -> raw bytes), for bit-identity checks.
std::map<std::string, std::vector<char>> dataset_bytes(const std::string& path);

// A config with run_dir and the given overrides ("key=value").
Config make_config(const std::string& run_dir, const std::vector<std::string>& overrides);

}  // namespace deepvox::testkit
