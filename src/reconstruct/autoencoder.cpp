#include "reconstruct/autoencoder.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <vector>

#include "core/log.h"

namespace deepvox::reconstruct {
namespace {

// He-normal weights (std sqrt(2 / fan_in)) and zero biases, from one seeded generator.
// gain < 1 for the layers feeding the code and the output, so training starts near the mean image.
at::Tensor he_normal(at::IntArrayRef shape, std::int64_t fan_in, at::Generator& gen, double gain = 1.0) {
  return (at::randn(shape, gen) * (gain * std::sqrt(2.0 / static_cast<double>(fan_in))))
      .set_requires_grad(true);
}

at::Tensor zero_bias(std::int64_t n) { return at::zeros({n}).set_requires_grad(true); }

void add(torch::jit::Module& m, const std::string& name, const at::Tensor& t,
         std::vector<at::Tensor>& params) {
  m.register_parameter(name, t, false);
  params.push_back(t);
}

std::string encoder_source(int size, std::int64_t z) {
  return "def image_size(self) -> int:\n  return " + std::to_string(size) +
         "\n"
         "def latent_dim(self) -> int:\n  return " +
         std::to_string(z) +
         "\n"
         "def forward(self, x):\n"
         "  h = x * 2.0 - 1.0\n"
         "  h = torch.relu(torch.conv2d(h, self.c1_w, self.c1_b, [2, 2], [1, 1]))\n"
         "  h = torch.relu(torch.conv2d(h, self.c2_w, self.c2_b, [2, 2], [1, 1]))\n"
         "  h = torch.relu(torch.conv2d(h, self.c3_w, self.c3_b, [2, 2], [1, 1]))\n"
         "  h = torch.flatten(h, 1)\n"
         "  return torch.addmm(self.fc_b, h, self.fc_w.t())\n";
}

std::string decoder_source(int size, std::int64_t z) {
  const std::string s8 = std::to_string(size / 8);
  return "def latent_dim(self) -> int:\n  return " + std::to_string(z) +
         "\n"
         "def forward(self, z):\n"
         "  h = torch.relu(torch.addmm(self.fc_b, z, self.fc_w.t()))\n"
         "  h = h.reshape([z.size(0), 64, " +
         s8 + ", " + s8 +
         "])\n"
         "  h = torch.relu(torch.conv_transpose2d(h, self.d1_w, self.d1_b, [2, 2], [1, 1]))\n"
         "  h = torch.relu(torch.conv_transpose2d(h, self.d2_w, self.d2_b, [2, 2], [1, 1]))\n"
         "  return torch.sigmoid(torch.conv_transpose2d(h, self.d3_w, self.d3_b, [2, 2], [1, 1]))\n";
}

}  // namespace

AutoencoderReport train_autoencoder(const at::Tensor& images, const AutoencoderOptions& o,
                                    const std::string& generator_path, const std::string& encoder_path) {
  const int s = o.image_size;
  if (s < 16 || s % 8 != 0)
    throw std::invalid_argument("autoencoder: image size must be a multiple of 8, >= 16");
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s)
    throw std::invalid_argument("autoencoder: images must be [N, 3, " + std::to_string(s) + ", " +
                                std::to_string(s) + "]");
  const std::int64_t n = images.size(0), z = o.latent_dim, flat = 64 * (s / 8) * (s / 8);
  if (n < 2) throw std::invalid_argument("autoencoder: needs at least 2 training images");

  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  std::vector<at::Tensor> params;
  torch::jit::Module enc("DeepvoxEncoder"), dec("DeepvoxGenerator");
  add(enc, "c1_w", he_normal({16, 3, 4, 4}, 3 * 16, gen), params);
  add(enc, "c1_b", zero_bias(16), params);
  add(enc, "c2_w", he_normal({32, 16, 4, 4}, 16 * 16, gen), params);
  add(enc, "c2_b", zero_bias(32), params);
  add(enc, "c3_w", he_normal({64, 32, 4, 4}, 32 * 16, gen), params);
  add(enc, "c3_b", zero_bias(64), params);
  add(enc, "fc_w", he_normal({z, flat}, flat, gen, 0.5), params);
  add(enc, "fc_b", zero_bias(z), params);
  // Transposed convolution weights are [in, out, k, k]; each output sees in * k * k / 4 inputs.
  add(dec, "fc_w", he_normal({flat, z}, z, gen), params);
  add(dec, "fc_b", zero_bias(flat), params);
  add(dec, "d1_w", he_normal({64, 32, 4, 4}, 64 * 4, gen), params);
  add(dec, "d1_b", zero_bias(32), params);
  add(dec, "d2_w", he_normal({32, 16, 4, 4}, 32 * 4, gen), params);
  add(dec, "d2_b", zero_bias(16), params);
  add(dec, "d3_w", he_normal({16, 3, 4, 4}, 16 * 4, gen, 0.5), params);
  add(dec, "d3_b", zero_bias(3), params);
  enc.define(encoder_source(s, z));
  dec.define(decoder_source(s, z));

  // Adam, written out (the optimizer headers cost more to compile than these lines).
  std::vector<at::Tensor> m1, m2;
  for (const auto& p : params) {
    m1.push_back(at::zeros_like(p));
    m2.push_back(at::zeros_like(p));
  }
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::int64_t step = 0;
  std::mt19937_64 rng(o.seed ^ 0x5eed5eedull);
  std::vector<std::int64_t> order(static_cast<size_t>(n));
  AutoencoderReport report;
  const at::Tensor data = images.to(at::kFloat).contiguous();
  for (std::int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    for (std::int64_t i = 0; i < n; ++i) order[i] = i;
    for (std::int64_t i = n - 1; i > 0; --i)
      std::swap(order[i], order[rng() % static_cast<std::uint64_t>(i + 1)]);
    double total = 0;
    for (std::int64_t b0 = 0; b0 < n; b0 += o.batch_size) {
      const std::int64_t b = std::min(o.batch_size, n - b0);
      at::Tensor idx = at::from_blob(order.data() + b0, {b}, at::kLong).clone();
      at::Tensor x = data.index_select(0, idx);
      at::Tensor code = enc.forward({x}).toTensor();
      at::Tensor y = dec.forward({code}).toTensor();
      at::Tensor loss = (y - x).pow(2).mean();
      for (auto& p : params)
        if (p.grad().defined()) p.mutable_grad().zero_();
      loss.backward();
      ++step;
      at::NoGradGuard no_grad;
      const double c1 = 1 - std::pow(b1, static_cast<double>(step)),
                   c2 = 1 - std::pow(b2, static_cast<double>(step));
      for (size_t k = 0; k < params.size(); ++k) {
        const at::Tensor g = params[k].grad();
        m1[k].mul_(b1).add_(g, 1 - b1);
        m2[k].mul_(b2).addcmul_(g, g, 1 - b2);
        params[k].sub_(o.lr / c1 * m1[k] / ((m2[k] / c2).sqrt() + eps));
      }
      total += loss.item<double>() * static_cast<double>(b);
    }
    const double mean = total / static_cast<double>(n);
    if (epoch == 0) report.first_epoch_loss = mean;
    report.last_epoch_loss = mean;
    if (epoch == 0 || (epoch + 1) % 10 == 0 || epoch + 1 == o.epochs)
      log::info("reconstruct: autoencoder epoch {}/{}: reconstruction MSE {:.5f}", epoch + 1, o.epochs, mean);
  }
  for (auto& p : params) p.set_requires_grad(false);
  // Temporary names, renamed once both are written: a killed run never leaves a half-written generator
  // that a rerun would take as trained.
  try {
    const auto dir = std::filesystem::path(generator_path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir);
    enc.save(encoder_path + ".tmp");
    dec.save(generator_path + ".tmp");
    std::filesystem::rename(encoder_path + ".tmp", encoder_path);
    std::filesystem::rename(generator_path + ".tmp", generator_path);
  } catch (const c10::Error& e) {
    throw std::runtime_error("cannot save the autoencoder to " + generator_path + " / " + encoder_path +
                             ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot save the autoencoder to " + generator_path + " / " + encoder_path + ": " +
                             e.what());
  }
  return report;
}

}  // namespace deepvox::reconstruct
