#include "reconstruct/pixel_optimizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "reconstruct/image_tensor.h"

namespace deepvox::reconstruct {
namespace {

// Standard normal draws by Box-Muller from mt19937_64's raw output (the standard leaves
// std::normal_distribution's algorithm to the library; this keeps runs identical everywhere).
at::Tensor seeded_normal(at::IntArrayRef shape, std::mt19937_64& rng) {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  std::vector<float> v(static_cast<size_t>(n));
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0); };
  for (std::int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2 * std::log(uniform())), t = 2 * M_PI * uniform();
    v[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(t));
  }
  return at::from_blob(v.data(), shape, at::kFloat).clone();
}

double lerp(double a, double b, std::int64_t t, std::int64_t n) {
  return n > 1 ? a + (b - a) * static_cast<double>(t) / static_cast<double>(n - 1) : a;
}

// Weighted feature loss per image: [B].
at::Tensor feature_loss(const std::map<std::string, at::Tensor>& feats, const MatchTargets& targets,
                        const at::Tensor& weights) {
  at::Tensor loss;
  for (size_t l = 0; l < targets.layers.size(); ++l) {
    at::Tensor d = feats.at(targets.layers[l]) - targets.features[l];
    at::Tensor term = d.pow(2).sum(1) * weights.select(1, static_cast<std::int64_t>(l));
    loss = loss.defined() ? loss + term : term;
  }
  return loss;
}

// Scales each image's (or latent's) gradient to unit mean absolute value.
at::Tensor normalize_gradient(const at::Tensor& g) {
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 1; d < g.dim(); ++d) dims.push_back(d);
  return g / (g.abs().mean(dims, true) + 1e-12);
}

}  // namespace

at::Tensor layer_weights(const MatchTargets& t) {
  const auto L = static_cast<std::int64_t>(t.layers.size());
  if (L == 0 || static_cast<std::int64_t>(t.features.size()) != L)
    throw std::invalid_argument("reconstruct: one target per layer is needed");
  const std::int64_t b = t.features[0].size(0);
  at::Tensor w = at::empty({b, L}, at::kFloat);
  if (!t.layer_weights.empty()) {
    if (static_cast<std::int64_t>(t.layer_weights.size()) != L)
      throw std::invalid_argument("reconstruct.layer_weights has " + std::to_string(t.layer_weights.size()) +
                                  " values for " + std::to_string(L) + " layers");
    for (std::int64_t l = 0; l < L; ++l) w.select(1, l).fill_(t.layer_weights[static_cast<size_t>(l)]);
  } else {
    for (std::int64_t l = 0; l < L; ++l)
      w.select(1, l).copy_(1.0 /
                           (t.features[static_cast<size_t>(l)].detach().to(at::kCPU).pow(2).sum(1) + 1e-12));
  }
  at::Tensor total = w.sum(1, true);
  if ((total <= 0).any().item<bool>())
    throw std::invalid_argument("reconstruct: the layer weights sum to zero");
  return (w / total).to(t.features[0].device());
}

OptimizeResult optimize_images(const extract::FeatureModel& model, const MatchTargets& targets,
                               const OptimizerOptions& o, const Generator* prior, std::uint64_t seed) {
  if (model.layers() != targets.layers)
    throw std::logic_error("reconstruct: feature model and targets differ in layers");
  const std::int64_t b = targets.features.at(0).size(0), T = o.iterations;
  const int s = o.image_size, input = model.input_size();
  const at::TensorOptions opts = targets.features[0].options();
  const at::Tensor weights = layer_weights(targets);
  std::mt19937_64 rng(seed);

  // The optimized variable: pixels (grey plus a little noise) or the generator's latent.
  at::Tensor var = prior ? (seeded_normal({b, prior->latent_dim()}, rng) * 0.1).to(opts.device())
                         : (seeded_normal({b, 3, s, s}, rng) * 8.0 + 128.0).to(opts.device());
  auto render = [&](const at::Tensor& v) { return prior ? resize_square(prior->render(v) * 255.0, s) : v; };

  at::Tensor m1 = at::zeros_like(var), m2 = at::zeros_like(var);
  at::Tensor loss_log = at::zeros({b, T}, at::kFloat);
  const bool adam = o.optimizer == "adam";
  for (std::int64_t t = 0; t < T; ++t) {
    const double lr = prior ? lerp(o.prior_lr_start, o.prior_lr_end, t, T) : lerp(o.lr_start, o.lr_end, t, T);
    const double sigma = lerp(o.blur_start, o.blur_end, t, T);
    const std::int64_t span = 2 * o.jitter + 1;
    const auto dy = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span)) - o.jitter;
    const auto dx = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span)) - o.jitter;

    at::Tensor leaf = var.detach().requires_grad_(true);
    at::Tensor x = resize_square(roll2d(render(leaf), dy, dx), input);
    at::Tensor loss = feature_loss(model.layer_features(model.normalize(x)), targets, weights);
    loss.sum().backward();
    loss_log.select(1, t).copy_(loss.detach().to(at::kCPU));

    at::NoGradGuard no_grad;
    at::Tensor g = normalize_gradient(leaf.grad());
    if (adam) {
      const double c1 = 1 - std::pow(0.9, static_cast<double>(t + 1)),
                   c2 = 1 - std::pow(0.999, static_cast<double>(t + 1));
      m1.mul_(0.9).add_(g, 0.1);
      m2.mul_(0.999).addcmul_(g, g, 0.001);
      var = var - lr * (m1 / c1) / ((m2 / c2).sqrt() + 1e-8);
    } else {
      m1.mul_(o.momentum).add_(g, lr);
      var = var - m1;
    }
    if (!prior) var = gaussian_blur(var, sigma).clamp(0, 255);
  }
  at::NoGradGuard no_grad;
  return {render(var).clamp(0, 255).to(at::kCPU), loss_log};
}

}  // namespace deepvox::reconstruct
