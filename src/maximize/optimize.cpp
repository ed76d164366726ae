#include "maximize/optimize.h"

#include <chrono>
#include <cmath>

#include "maximize/transforms.h"

namespace deepvox::maximize {
namespace {

// torch.optim.Adam's defaults, and its update written out (no weight decay, no amsgrad).
constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;

at::Tensor to_device(const std::vector<float>& v, std::vector<std::int64_t> shape, at::Device device) {
  return at::tensor(v).view(shape).to(device);
}

}  // namespace

Optimizer::Optimizer(const Options& options, const extract::FeatureModel& model, const LinearReadout& readout,
                     at::Device device)
    : o_(options),
      model_(model),
      readout_(readout),
      device_(device),
      param_(options.parameterization, options.decorrelate, options.decay_power, options.image_size, device),
      recorded_(recorded_steps(options.steps, options.record_every)) {
  weights_ = to_device(readout.weights, {readout.dim, readout.n_targets}, device);
  std::vector<float> bias(readout.bias.begin(), readout.bias.end());
  bias_ = to_device(bias, {readout.n_targets}, device);
  if (o_.diversity > 0) {
    if (readout.feature_mean.empty())
      throw std::logic_error("maximize: the diversity term needs model.h5 features/mean");
    feature_mean_ = to_device(readout.feature_mean, {1, readout.dim}, device);
    std::vector<float> scale = readout.feature_scale;
    for (auto& s : scale)
      if (s == 0) s = 1;
    feature_scale_ = to_device(scale, {1, readout.dim}, device);
  }
}

at::Tensor Optimizer::objective(const at::Tensor& features, const at::Tensor& readout, const at::Tensor& bias,
                                const at::Tensor& target_of_image) const {
  // [B, k] objectives of every chunk target; each image keeps its own target's column.
  auto all = at::mm(features, readout) + bias;
  return all.gather(1, target_of_image.view({-1, 1})).view({-1});
}

at::Tensor Optimizer::diversity_penalty(const at::Tensor& features, std::int64_t n_targets) const {
  // Mean cosine similarity between the z-scored features of different restarts of one target
  // (Lucid's diversity objective uses a layer's Gram matrices; the encoding model's own features are
  // the representation the readout sees). Scaled by R so its weight is per image.
  const std::int64_t r = o_.restarts;
  auto z = (features - feature_mean_) / feature_scale_;
  z = z / z.norm(2, {1}, true).clamp_min(1e-12);
  auto per = z.view({n_targets, r, -1});
  auto sim = at::bmm(per, per.transpose(1, 2));  // [k, R, R]
  auto off_diagonal = sim.sum({1, 2}) - sim.diagonal(0, 1, 2).sum(1);
  return off_diagonal.sum() / static_cast<double>(r - 1);
}

ChunkResult Optimizer::run(const ChunkJob& job) const {
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t k = job.n_targets, r = o_.restarts, b = k * r;
  const std::int64_t in = model_.input_size();

  // Streams and starting parameters of every image (image i = target i / R, restart i % R).
  std::vector<std::int64_t> target_of(static_cast<size_t>(b)), restart_of(static_cast<size_t>(b));
  std::vector<std::uint64_t> init_seeds(static_cast<size_t>(b));
  for (std::int64_t i = 0; i < b; ++i) {
    target_of[static_cast<size_t>(i)] = job.first_target + i / r;
    restart_of[static_cast<size_t>(i)] = i % r;
    init_seeds[static_cast<size_t>(i)] = stream_seed(o_.seed, job.first_target + i / r, i % r);
  }
  at::Tensor params;
  switch (o_.init) {
    case Init::Grey:
      params = at::zeros(param_.shape(b), at::TensorOptions().device(device_));
      break;
    case Init::Noise:
      params = param_.noise(init_seeds, o_.init_sd);
      break;
    case Init::Natural: {
      // Every restart starts from the natural image, plus its own small noise.
      auto base = param_.from_rgb(job.init_rgb.repeat_interleave(r, 0));
      params = base + param_.noise(init_seeds, o_.init_sd);
      break;
    }
  }
  params = params.detach().contiguous().set_requires_grad(true);
  auto m = at::zeros_like(params), v = at::zeros_like(params);

  auto local_target = at::arange(b, at::TensorOptions().dtype(at::kLong)).div(r, "floor").to(device_);
  auto readout = weights_.narrow(1, job.first_target, k);
  auto bias = bias_.narrow(0, job.first_target, k);

  ChunkResult out;
  const auto n_rec = static_cast<std::int64_t>(recorded_.size());
  out.trajectories.assign(static_cast<size_t>(b * n_rec), 0.0f);
  size_t next_record = 0;
  for (std::int64_t step = 0; step < o_.steps; ++step) {
    auto rgb = param_.to_rgb(params);
    at::Tensor seen;
    if (o_.transforms) {
      std::vector<View> views;
      for (std::int64_t i = 0; i < b; ++i)
        views.push_back(draw_view(o_, stream_seed(o_.seed, target_of[static_cast<size_t>(i)],
                                                  restart_of[static_cast<size_t>(i)], step)));
      seen = apply_views(rgb, views, o_.pad, in);
    } else {
      seen = resize_to(rgb, in);
    }
    if (o_.channels_last) seen = seen.contiguous(at::MemoryFormat::ChannelsLast);
    auto features = model_.features(model_.normalize(seen * 255.0));
    auto obj = objective(features, readout, bias, local_target);
    auto loss = -obj.sum();
    if (o_.tv > 0) loss = loss + o_.tv * total_variation(rgb).sum();
    if (o_.l2 > 0) loss = loss + o_.l2 * l2_from_grey(rgb).sum();
    if (o_.blur > 0) loss = loss + o_.blur * blur_distance(rgb).sum();
    if (o_.diversity > 0 && r > 1) loss = loss + o_.diversity * diversity_penalty(features, k);
    loss.backward();

    if (next_record < recorded_.size() && recorded_[next_record] == step) {
      auto values = obj.detach().to(at::kCPU).contiguous();
      const float* p = values.data_ptr<float>();
      for (std::int64_t i = 0; i < b; ++i)
        out.trajectories[static_cast<size_t>(i * n_rec) + next_record] = p[i];
      ++next_record;
    }

    at::NoGradGuard no_grad;
    auto g = params.grad();
    const double t = static_cast<double>(step + 1);
    m.mul_(kBeta1).add_(g, 1 - kBeta1);
    v.mul_(kBeta2).addcmul_(g, g, 1 - kBeta2);
    const double bias1 = 1 - std::pow(kBeta1, t), bias2 = 1 - std::pow(kBeta2, t);
    auto denom = (v.sqrt() / std::sqrt(bias2)).add_(kEps);
    params.addcdiv_(m, denom, -learning_rate(o_, step) / bias1);
    params.mutable_grad().zero_();
  }

  at::NoGradGuard no_grad;
  out.images = to_uint8_hwc(param_.to_rgb(params));
  out.passes = o_.steps;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::vector<std::uint8_t> to_uint8_hwc(const at::Tensor& rgb01) {
  auto q =
      (rgb01.detach() * 255.0).round().clamp(0, 255).to(at::kByte).permute({0, 2, 3, 1}).contiguous().cpu();
  const auto* p = q.data_ptr<std::uint8_t>();
  return std::vector<std::uint8_t>(p, p + q.numel());
}

at::Tensor from_uint8_hwc(const std::uint8_t* data, std::int64_t b, std::int64_t s) {
  auto t = at::from_blob(const_cast<std::uint8_t*>(data), {b, s, s, 3}, at::kByte);
  return t.permute({0, 3, 1, 2}).to(at::kFloat).div(255.0).contiguous();
}

}  // namespace deepvox::maximize
