#include "test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <hdf5.h>
#include <torch/script.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

#include "core/mpi.h"
#include "extract/extract.h"
#include "io/h5.h"
#include "io/manifest.h"

namespace deepvox::testkit {
namespace {

double uniform(std::mt19937_64& rng, double a, double b) {
  return a + (b - a) * (static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0));
}

std::uint8_t clamp_byte(double v) {
  return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
}

}  // namespace

TinyNet random_tiny_net(std::int64_t c1, std::int64_t c2, std::int64_t k, std::uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TinyNet n;
  n.w1 = at::randn({c1, 3, k, k}, gen) * std::sqrt(2.0 / static_cast<double>(3 * k * k));
  n.b1 = at::randn({c1}, gen) * 0.1;
  n.w2 = at::randn({c2, c1, 3, 3}, gen) * std::sqrt(2.0 / static_cast<double>(c1 * 9));
  n.b2 = at::randn({c2}, gen) * 0.1;
  return n;
}

void save_tiny_network(const std::string& path, const TinyNet& net) {
  torch::jit::Module m("TinyNet");
  m.register_parameter("w1", net.w1.clone(), false);
  m.register_parameter("b1", net.b1.clone(), false);
  m.register_parameter("w2", net.w2.clone(), false);
  m.register_parameter("b2", net.b2.clone(), false);
  const std::string pad = std::to_string(net.w1.size(2) / 2);
  m.define(
      "def layer_names(self) -> List[str]:\n"
      "  return ['conv1', 'conv2']\n"
      "def forward(self, x):\n"
      "  c1 = torch.relu(torch.conv2d(x, self.w1, self.b1, [1, 1], [" +
      pad + ", " + pad +
      "]))\n"
      "  c2 = torch.relu(torch.conv2d(c1, self.w2, self.b2, [2, 2], [1, 1]))\n"
      "  return {'conv1': c1, 'conv2': c2}\n");
  m.save(path);
}

image::RgbImage blob_image(int size, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  double bg[3], col[3][3], cx[3], cy[3], sg[3];
  for (double& c : bg) c = uniform(rng, 40, 215);
  for (int b = 0; b < 3; ++b) {
    for (double& c : col[b]) c = uniform(rng, 0, 255);
    cx[b] = uniform(rng, 0, size);
    cy[b] = uniform(rng, 0, size);
    sg[b] = uniform(rng, size / 8.0, size / 4.0);
  }
  image::RgbImage img;
  img.width = img.height = size;
  img.pixels.resize(static_cast<size_t>(size) * size * 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        double v = bg[c];
        for (int b = 0; b < 3; ++b) {
          const double d2 = (x - cx[b]) * (x - cx[b]) + (y - cy[b]) * (y - cy[b]);
          v += (col[b][c] - bg[c]) * std::exp(-d2 / (2 * sg[b] * sg[b]));
        }
        img.row(y)[3 * x + c] = clamp_byte(v);
      }
  return img;
}

image::RgbImage disc_image(int size, std::uint64_t seed, const std::uint8_t colour[3],
                           std::vector<std::uint8_t>* mask) {
  std::mt19937_64 rng(seed);
  const double r = uniform(rng, size / 7.0, size / 5.0);
  const double cx = uniform(rng, r + 1, size - r - 1), cy = uniform(rng, r + 1, size - r - 1);
  const double gx = uniform(rng, 0, size), gy = uniform(rng, 0, size),
               gs = uniform(rng, size / 4.0, size / 2.0);
  const double shade = uniform(rng, -40, 40);
  image::RgbImage img;
  img.width = img.height = size;
  img.pixels.resize(static_cast<size_t>(size) * size * 3);
  mask->assign(static_cast<size_t>(size) * size, 0);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const bool in = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
      (*mask)[static_cast<size_t>(y) * size + x] = in ? 1 : 0;
      const double grey = 128 +
                          shade * std::exp(-((x - gx) * (x - gx) + (y - gy) * (y - gy)) / (2 * gs * gs)) +
                          uniform(rng, -8, 8);
      for (int c = 0; c < 3; ++c) img.row(y)[3 * x + c] = in ? colour[c] : clamp_byte(grey);
    }
  return img;
}

std::string shared_temp_dir(const std::string& tag, MPI_Comm comm) {
  std::string dir;
  if (is_root(comm)) {
    dir = (std::filesystem::temp_directory_path() / ("deepvox_" + tag + "_" + std::to_string(getpid())))
              .string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  int n = static_cast<int>(dir.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, comm);
  dir.resize(static_cast<size_t>(n));
  MPI_Bcast(dir.data(), n, MPI_CHAR, 0, comm);
  return dir;
}

void write_responses(const std::string& path, const ResponsesFile& r) {
  auto f = h5::File::open(path, h5::Mode::Create);
  const auto s = static_cast<std::int64_t>(r.ids.size());
  f.write_strings("stimulus_ids", r.ids);
  f.write_array<float>("responses", r.responses, {s, r.voxels});
  f.write_vector<std::int64_t>("split/train", r.train);
  f.write_vector<std::int64_t>("split/test", r.test);
  for (const auto& [name, mask] : r.rois) f.write_vector<std::uint8_t>("rois/" + name, mask);
  if (!r.category_names.empty()) {
    f.write_strings("categories/names", r.category_names);
    f.write_vector<std::int64_t>("categories/index", r.category);
  }
}

std::string write_stimuli(const std::string& dir, const std::vector<std::string>& ids,
                          const std::vector<image::RgbImage>& images,
                          const std::vector<std::string>& categories) {
  std::filesystem::create_directories(dir + "/images");
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string rel = "images/" + ids[i] + ".png";
    image::write_image_file(dir + "/" + rel, images[i]);
    rows.push_back({ids[i], rel, categories.empty() ? "" : categories[i]});
  }
  const std::string manifest = dir + "/manifest.csv";
  write_manifest(manifest, {"stimulus_id", "path", "category"}, rows);
  return manifest;
}

void run_extract(const std::string& run_dir, const std::string& manifest, const std::string& network,
                 const std::vector<std::string>& layers, int size, std::int64_t max_features, MPI_Comm comm) {
  std::string list = "[";
  for (size_t i = 0; i < layers.size(); ++i) list += (i ? ", " : "") + layers[i];
  list += "]";
  Config cfg =
      make_config(run_dir, {"extract.images=" + manifest, "extract.network=torchscript",
                            "extract.weights=" + network, "extract.layers=" + list,
                            "extract.input_size=" + std::to_string(size), "extract.normalization=raw",
                            "extract.max_features=" + std::to_string(max_features), "extract.batch_size=16"});
  extract::run(cfg, comm);
}

std::vector<float> read_features(const std::string& run_dir, const std::string& layer, std::int64_t* dim) {
  auto f = h5::File::open(run_dir + "/features.h5", h5::Mode::Read);
  auto d = f.dataset("features/" + layer);
  *dim = d.cols();
  return d.read_all<float>();
}

std::map<std::string, std::vector<char>> dataset_bytes(const std::string& path) {
  std::map<std::string, std::vector<char>> out;
  auto f = h5::File::open(path, h5::Mode::Read);
  std::function<void(const h5::Group&, const std::string&)> walk = [&](const h5::Group& g,
                                                                       const std::string& prefix) {
    for (const auto& name : g.children()) {
      const std::string full = prefix + "/" + name;
      if (g.is_group(name)) {
        walk(g.group(name), full);
        continue;
      }
      auto d = g.dataset(name);
      hid_t type = H5Dget_type(d.id());
      hid_t space = H5Dget_space(d.id());
      const auto n = static_cast<size_t>(H5Sget_simple_extent_npoints(space));
      std::vector<char> buf(n * H5Tget_size(type));
      if (!buf.empty() && !H5Tis_variable_str(type))
        H5Dread(d.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
      H5Sclose(space);
      H5Tclose(type);
      out[full] = std::move(buf);
    }
  };
  walk(f, "");
  return out;
}

Config make_config(const std::string& run_dir, const std::vector<std::string>& overrides) {
  std::vector<std::string> all = {"run_dir=" + run_dir, "progress=never", "threads=1"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return Config::load("", all);
}

}  // namespace deepvox::testkit
