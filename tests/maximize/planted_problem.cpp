#include "planted_problem.h"

#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "extract/extract.h"
#include "io/h5.h"
#include "io/image.h"
#include "io/manifest.h"

namespace deepvox::maximize::testing {
namespace fs = std::filesystem;
namespace {

// conv1: 3->8, 5x5, stride 2 (32 -> 16); conv2: 8->16, 3x3, stride 2 (16 -> 8). He-scaled seeded weights.
void write_tiny_net(const std::string& path) {
  torch::jit::Module m("TinyNet");
  at::Generator gen = at::detail::createCPUGenerator(1234);
  auto he = [&](std::vector<std::int64_t> shape) {
    const double fan_in = static_cast<double>(shape[1] * shape[2] * shape[3]);
    return at::randn(shape, gen, at::kFloat) * std::sqrt(2.0 / fan_in);
  };
  m.register_parameter("w1", he({8, 3, 5, 5}), false);
  m.register_parameter("b1", at::randn({8}, gen, at::kFloat) * 0.1, false);
  m.register_parameter("w2", he({16, 8, 3, 3}), false);
  m.register_parameter("b2", at::randn({16}, gen, at::kFloat) * 0.1, false);
  m.define(R"JIT(
def forward(self, x):
    a = torch.relu(torch.conv2d(x, self.w1, self.b1, [2, 2], [2, 2]))
    b = torch.relu(torch.conv2d(a, self.w2, self.b2, [2, 2], [1, 1]))
    return {"conv1": a, "conv2": b}

def layer_names(self) -> List[str]:
    return ["conv1", "conv2"]
)JIT");
  m.save(path);
}

// Smooth colour fields, gratings and blobs: varied enough that a few images drive each voxel well.
image::RgbImage draw_image(std::int64_t index, int size) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(1000 + index));
  std::uniform_real_distribution<double> u(0, 1);
  image::RgbImage img;
  img.width = img.height = size;
  img.pixels.resize(static_cast<size_t>(size * size * 3));
  const double angle = u(rng) * M_PI, freq = 0.05 + 0.3 * u(rng), phase = u(rng) * 6.28;
  double base[3], colour[3];
  for (int c = 0; c < 3; ++c) base[c] = 0.2 + 0.6 * u(rng), colour[c] = u(rng) - 0.5;
  const double bx = u(rng) * size, by = u(rng) * size, radius = 3 + 8 * u(rng), blob = u(rng) - 0.5;
  const int kind = static_cast<int>(index % 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double g = std::sin(2 * M_PI * freq * (x * std::cos(angle) + y * std::sin(angle)) + phase);
      const double b = std::exp(-((x - bx) * (x - bx) + (y - by) * (y - by)) / (2 * radius * radius));
      for (int c = 0; c < 3; ++c) {
        double v = base[c] + (kind != 1 ? 0.35 * g * colour[c] : 0.0) + (kind != 0 ? blob * b : 0.0);
        img.pixels[static_cast<size_t>((y * size + x) * 3 + c)] =
            static_cast<std::uint8_t>(std::lround(255 * std::clamp(v, 0.0, 1.0)));
      }
    }
  return img;
}

void copy_inputs(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const char* name : {"features.h5", "model.h5", "responses.h5"})
    fs::copy_file(fs::path(from) / name, fs::path(to) / name, fs::copy_options::overwrite_existing);
  fs::remove(fs::path(to) / "maximize.h5");
}

// Planted responses and model: early voxels read conv1 features, late voxels conv2 features.
void write_responses_and_model(const PlantedProblem& p) {
  auto feat = h5::File::open(p.dir + "/features.h5", h5::Mode::Read);
  auto f1 = feat.dataset("features/conv1").read_all<float>();
  auto f2 = feat.dataset("features/conv2").read_all<float>();
  const std::int64_t d1 = feat.dataset("features/conv1").cols(), d2 = feat.dataset("features/conv2").cols();
  const std::int64_t n = p.n_images, P = d1 + d2, V = p.n_voxels;
  std::vector<double> x(static_cast<size_t>(n * P));
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d1; ++j)
      x[static_cast<size_t>(i * P + j)] = f1[static_cast<size_t>(i * d1 + j)];
    for (std::int64_t j = 0; j < d2; ++j)
      x[static_cast<size_t>(i * P + d1 + j)] = f2[static_cast<size_t>(i * d2 + j)];
  }
  // Training statistics (ddof 0), as fit computes them.
  std::vector<float> mean(static_cast<size_t>(P)), scale(static_cast<size_t>(P));
  for (std::int64_t j = 0; j < P; ++j) {
    double m = 0, s = 0;
    for (std::int64_t i = 0; i < p.n_train; ++i) m += x[static_cast<size_t>(i * P + j)];
    m /= static_cast<double>(p.n_train);
    for (std::int64_t i = 0; i < p.n_train; ++i) s += std::pow(x[static_cast<size_t>(i * P + j)] - m, 2);
    s = std::sqrt(s / static_cast<double>(p.n_train));
    mean[static_cast<size_t>(j)] = static_cast<float>(m);
    scale[static_cast<size_t>(j)] = static_cast<float>(s > 0 ? s : 1.0);
  }
  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal(0, 1);
  std::vector<float> w(static_cast<size_t>(P * V), 0.0f), intercept(static_cast<size_t>(V));
  for (std::int64_t v = 0; v < V; ++v) {
    const bool early = v < V / 2;
    const std::int64_t lo = early ? 0 : d1, hi = early ? d1 : P;
    for (int k = 0; k < 20; ++k) {
      const std::int64_t j = lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo));
      w[static_cast<size_t>(j * V + v)] += static_cast<float>(normal(rng) / std::sqrt(20.0));
    }
    intercept[static_cast<size_t>(v)] = static_cast<float>(0.5 + 0.1 * v);
  }
  std::vector<float> responses(static_cast<size_t>(n * V));
  std::vector<double> pred(static_cast<size_t>(n * V));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t v = 0; v < V; ++v) {
      double acc = intercept[static_cast<size_t>(v)];
      for (std::int64_t j = 0; j < P; ++j)
        acc += (x[static_cast<size_t>(i * P + j)] - mean[static_cast<size_t>(j)]) /
               scale[static_cast<size_t>(j)] * w[static_cast<size_t>(j * V + v)];
      pred[static_cast<size_t>(i * V + v)] = acc;
      responses[static_cast<size_t>(i * V + v)] = static_cast<float>(acc + 0.1 * normal(rng));
    }
  std::vector<float> test_r(static_cast<size_t>(V));
  for (std::int64_t v = 0; v < V; ++v) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0, m = static_cast<double>(n - p.n_train);
    for (std::int64_t i = p.n_train; i < n; ++i)
      ma += pred[static_cast<size_t>(i * V + v)], mb += responses[static_cast<size_t>(i * V + v)];
    ma /= m, mb /= m;
    for (std::int64_t i = p.n_train; i < n; ++i) {
      const double a = pred[static_cast<size_t>(i * V + v)] - ma,
                   b = responses[static_cast<size_t>(i * V + v)] - mb;
      sab += a * b, saa += a * a, sbb += b * b;
    }
    test_r[static_cast<size_t>(v)] = static_cast<float>(sab / std::sqrt(saa * sbb));
  }

  std::vector<std::int64_t> train, test;
  for (std::int64_t i = 0; i < n; ++i) (i < p.n_train ? train : test).push_back(i);
  {
    auto r = h5::File::open(p.dir + "/responses.h5", h5::Mode::Create);
    r.write_strings("stimulus_ids", feat.dataset("stimulus_ids").read_strings());
    r.write_array<float>("responses", responses, {n, V});
    r.write_vector<std::int64_t>("split/train", train);
    r.write_vector<std::int64_t>("split/test", test);
    std::vector<std::uint8_t> early(static_cast<size_t>(V), 0), late(static_cast<size_t>(V), 0),
        valid(static_cast<size_t>(V), 1);
    for (std::int64_t v = 0; v < V; ++v) (v < V / 2 ? early : late)[static_cast<size_t>(v)] = 1;
    r.write_vector<std::uint8_t>("rois/early", early);
    r.write_vector<std::uint8_t>("rois/late", late);
    r.write_vector<std::uint8_t>("voxels/valid", valid);
  }
  auto m = h5::File::open(p.dir + "/model.h5", h5::Mode::Create);
  m.write_array<float>("weights", w, {P, V});
  m.write_vector<float>("intercept", intercept);
  m.write_vector<float>("features/mean", mean);
  m.write_vector<float>("features/scale", scale);
  m.write_strings("layers/names", {"conv1", "conv2"});
  m.write_vector<std::int64_t>("layers/offset", {0, d1, P});
  m.write_vector<float>("voxels/test_r", test_r);
}

}  // namespace

PlantedProblem build_planted_problem(const std::string& dir, MPI_Comm comm) {
  PlantedProblem p;
  p.dir = fs::absolute(dir).string();
  p.net_path = p.dir + "/tiny_net.pt";
  p.manifest_path = p.dir + "/images/manifest.csv";
  int r = 0;
  MPI_Comm_rank(comm, &r);
  if (r == 0) {
    fs::remove_all(p.dir);
    fs::create_directories(p.dir + "/images");
    write_tiny_net(p.net_path);
    std::vector<std::vector<std::string>> rows;
    for (std::int64_t i = 0; i < p.n_images; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "img_%03lld", static_cast<long long>(i));
      image::write_image_file(p.dir + "/images/" + id + ".png",
                              draw_image(i, static_cast<int>(p.input_size)));
      rows.push_back({id, std::string(id) + ".png"});
    }
    write_manifest(p.manifest_path, {"stimulus_id", "path"}, rows);
  }
  MPI_Barrier(comm);
  Config cfg =
      Config::load("", {"run_dir=" + p.dir, "extract.images=" + p.manifest_path,
                        "extract.network=torchscript", "extract.weights=" + p.net_path,
                        "extract.input_size=32", "extract.layers=[conv1, conv2]", "extract.max_features=256",
                        "extract.normalization=imagenet", "extract.batch_size=8", "progress=never"});
  extract::run(cfg, comm);
  if (r == 0) write_responses_and_model(p);
  MPI_Barrier(comm);
  return p;
}

Config planted_config(const PlantedProblem& p, const std::string& run_dir,
                      const std::vector<std::string>& overrides, MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  MPI_Barrier(comm);  // nobody still reads the previous run's copies
  if (r == 0) copy_inputs(p.dir, run_dir);
  MPI_Barrier(comm);
  std::vector<std::string> all = {
      "run_dir=" + run_dir,
      "progress=never",
      "maximize.targets=[roi:early, roi:late, voxel:3, contrast:late:early, top:late:1]",
      "maximize.restarts=2",
      "maximize.steps=40",
      "maximize.image_size=24",
      "maximize.targets_per_pass=2",
      "maximize.record_every=5",
      "maximize.pad=2",
      "maximize.jitter=2",
      "maximize.lr=0.1"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return Config::load("", all);
}

}  // namespace deepvox::maximize::testing
