#include "maximize/options.h"

#include <cmath>

namespace deepvox::maximize {
namespace {

template <typename E>
E pick(const Config& cfg, const std::string& key, const std::vector<std::pair<const char*, E>>& choices) {
  const std::string v = cfg.str(key);
  std::string names;
  for (const auto& [name, value] : choices) {
    if (v == name) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw ConfigError(key + " must be one of " + names + " (got '" + v + "')");
}

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

constexpr double kPi = 3.14159265358979323846;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Options read_options(const Config& cfg) {
  Options o;
  o.targets =
      cfg.has("maximize.targets") ? cfg.strings("maximize.targets") : std::vector<std::string>{"rois"};
  require(!o.targets.empty(), "maximize.targets is empty");
  o.restarts = cfg.integer("maximize.restarts");
  require(o.restarts >= 1, "maximize.restarts must be >= 1 (got " + std::to_string(o.restarts) + ")");
  o.steps = cfg.integer("maximize.steps");
  require(o.steps >= 1, "maximize.steps must be >= 1 (got " + std::to_string(o.steps) + ")");
  o.image_size = cfg.integer("maximize.image_size");
  require(o.image_size >= 8 && o.image_size <= 4096,
          "maximize.image_size must be in 8..4096 (got " + std::to_string(o.image_size) + ")");
  o.parameterization =
      pick<Parameterization>(cfg, "maximize.parameterization",
                             {{"fourier", Parameterization::Fourier}, {"pixel", Parameterization::Pixel}});
  o.decorrelate = cfg.flag("maximize.decorrelate");
  o.decay_power = cfg.real("maximize.decay_power");
  require(o.decay_power >= 0 && std::isfinite(o.decay_power), "maximize.decay_power must be >= 0");
  o.init = pick<Init>(cfg, "maximize.init",
                      {{"grey", Init::Grey}, {"noise", Init::Noise}, {"natural", Init::Natural}});
  o.init_sd = cfg.real("maximize.init_sd");
  require(o.init_sd >= 0 && std::isfinite(o.init_sd), "maximize.init_sd must be >= 0");
  o.init_image = cfg.has("maximize.init_image") ? cfg.str("maximize.init_image") : "";
  o.lr = cfg.real("maximize.lr");
  require(o.lr > 0 && std::isfinite(o.lr), "maximize.lr must be > 0");
  o.lr_schedule = pick<LrSchedule>(
      cfg, "maximize.lr_schedule",
      {{"constant", LrSchedule::Constant}, {"cosine", LrSchedule::Cosine}, {"step", LrSchedule::Step}});
  o.lr_final = cfg.real("maximize.lr_final");
  require(o.lr_final >= 0 && o.lr_final <= 1, "maximize.lr_final must be in 0..1");
  o.transforms = cfg.flag("maximize.transforms");
  o.pad = cfg.integer("maximize.pad");
  o.jitter = cfg.integer("maximize.jitter");
  require(o.pad >= 0 && o.jitter >= 0, "maximize.pad and maximize.jitter must be >= 0");
  auto scale = cfg.reals("maximize.scale");
  require(scale.size() == 2 && scale[0] > 0 && scale[0] <= scale[1],
          "maximize.scale must be [low, high] with 0 < low <= high");
  o.scale_low = scale[0];
  o.scale_high = scale[1];
  o.rotate_degrees = cfg.real("maximize.rotate");
  require(o.rotate_degrees >= 0 && o.rotate_degrees <= 180, "maximize.rotate must be in 0..180 degrees");
  o.tv = cfg.real("maximize.tv");
  o.l2 = cfg.real("maximize.l2");
  o.blur = cfg.real("maximize.blur");
  o.diversity = cfg.real("maximize.diversity");
  for (const char* key : {"maximize.tv", "maximize.l2", "maximize.blur", "maximize.diversity"})
    require(cfg.real(key) >= 0, std::string(key) + " must be >= 0");
  o.contrast_weight = cfg.real("maximize.contrast_weight");
  require(o.contrast_weight >= 0, "maximize.contrast_weight must be >= 0");
  o.targets_per_pass = cfg.integer("maximize.targets_per_pass");
  require(o.targets_per_pass >= 1, "maximize.targets_per_pass must be >= 1");
  o.record_every = cfg.integer("maximize.record_every");
  require(o.record_every >= 1, "maximize.record_every must be >= 1");
  o.device = cfg.str("maximize.device");
  require(o.device == "cpu" || o.device == "cuda",
          "maximize.device must be cpu or cuda (got '" + o.device + "')");
  o.channels_last = cfg.flag("maximize.channels_last");
  if (cfg.has("maximize.independent_layers"))
    o.independent_layers = cfg.strings("maximize.independent_layers");
  if (cfg.has("maximize.independent_lambdas")) {
    o.independent_lambdas = cfg.reals("maximize.independent_lambdas");
  } else {
    for (int i = 0; i <= 20; ++i) o.independent_lambdas.push_back(std::pow(10.0, -2.0 + 0.5 * i));
  }
  require(!o.independent_lambdas.empty(), "maximize.independent_lambdas is empty");
  for (double l : o.independent_lambdas)
    require(l > 0 && std::isfinite(l), "maximize.independent_lambdas must be > 0");
  o.grid = cfg.flag("maximize.grid");
  o.seed = static_cast<std::uint64_t>(cfg.integer("seed"));
  return o;
}

double learning_rate(const Options& o, std::int64_t step) {
  const double t = o.steps > 1 ? static_cast<double>(step) / static_cast<double>(o.steps - 1) : 0.0;
  switch (o.lr_schedule) {
    case LrSchedule::Constant:
      return o.lr;
    case LrSchedule::Cosine:
      return o.lr * (o.lr_final + (1.0 - o.lr_final) * 0.5 * (1.0 + std::cos(kPi * t)));
    case LrSchedule::Step:
      return 3 * step >= 2 * o.steps ? o.lr * o.lr_final : o.lr;
  }
  return o.lr;
}

std::vector<std::int64_t> recorded_steps(std::int64_t steps, std::int64_t record_every) {
  std::vector<std::int64_t> out;
  for (std::int64_t s = 0; s < steps; s += record_every) out.push_back(s);
  if (out.back() != steps - 1) out.push_back(steps - 1);
  return out;
}

std::uint64_t stream_seed(std::uint64_t seed, std::int64_t target, std::int64_t restart, std::int64_t step) {
  std::uint64_t h = splitmix64(seed ^ 0x6d6178696d697a65ULL);  // "maximize"
  h = splitmix64(h ^ static_cast<std::uint64_t>(target));
  h = splitmix64(h ^ static_cast<std::uint64_t>(restart));
  return splitmix64(h ^ static_cast<std::uint64_t>(step + 1));
}

double uniform01(std::uint64_t stream, std::uint64_t draw) {
  return static_cast<double>(splitmix64(stream ^ splitmix64(draw)) >> 11) * 0x1.0p-53;
}

}  // namespace deepvox::maximize
