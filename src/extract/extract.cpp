// Stage `extract`: config -> stimuli + network -> batched forward passes -> pooled features -> features.h5.
#include "extract/extract.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <sstream>

#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "extract/pooling.h"
#include "io/image.h"
#include "io/manifest.h"
#include "nets/network.h"

namespace deepvox::extract {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Everything the stage needs from the config, resolved and checked once.
struct Options {
  std::string images;
  std::string brick_dataset;
  nets::NetworkSpec net;
  std::vector<std::string> layers;
  int input_size = 0;
  std::string normalization;
  std::int64_t max_features = 0;
  std::string pooling;
  std::int64_t batch_size = 0;
  std::int64_t projection_seed = 0;
};

Options read_options(const Config& cfg) {
  Options o;
  o.images = cfg.has("extract.images")
                 ? cfg.str("extract.images")
                 : (std::filesystem::path(cfg.run_dir()) / "stimuli" / "manifest.csv").string();
  o.brick_dataset = cfg.str("extract.brick_dataset");
  o.net.name = cfg.str("extract.network");
  o.net.weights = cfg.has("extract.weights") ? cfg.str("extract.weights") : "";
  o.net.device = cfg.str("extract.device");
  o.layers = cfg.strings("extract.layers");
  o.input_size = static_cast<int>(cfg.integer("extract.input_size"));
  if (o.input_size == 0) o.input_size = nets::default_input_size(o.net.name);
  if (o.input_size <= 0)
    throw ConfigError("extract.input_size is required for extract.network=" + o.net.name);
  o.net.probe_size = o.input_size;
  o.normalization = cfg.has("extract.normalization") ? cfg.str("extract.normalization")
                                                     : nets::default_normalization(o.net.name);
  o.max_features = cfg.integer("extract.max_features");
  o.pooling = cfg.str("extract.pooling");
  o.batch_size = cfg.integer("extract.batch_size");
  o.projection_seed = cfg.integer("extract.projection_seed");
  if (o.batch_size <= 0) throw ConfigError("extract.batch_size must be positive");
  if (o.max_features <= 0) throw ConfigError("extract.max_features must be positive");
  if (o.pooling != "avg" && o.pooling != "max") throw ConfigError("extract.pooling must be avg or max");
  if (o.net.device != "cpu" && o.net.device != "cuda")
    throw ConfigError("extract.device must be cpu or cuda, got '" + o.net.device + "'");
  try {
    image::parse_normalization(o.normalization);
  } catch (const std::exception& e) {
    throw ConfigError(std::string("extract.normalization: ") + e.what());
  }
  return o;
}

// A decoded, preprocessed batch: float NCHW in one buffer.
struct Batch {
  Range rows;
  std::vector<float> pixels;
};

Batch load_batch(const StimulusSet& set, Range rows, int size, image::Normalization norm) {
  Batch b{rows, std::vector<float>(static_cast<size_t>(rows.size() * 3 * size * size))};
  const size_t per_image = static_cast<size_t>(3 * size * size);
  for (std::int64_t i = rows.begin; i < rows.end; ++i) {
    image::preprocess(set.load(i), size, norm,
                      b.pixels.data() + static_cast<size_t>(i - rows.begin) * per_image);
  }
  return b;
}

// Identifies the inputs a .partial was written for, so resume never mixes two configurations.
std::string resume_key(const Options& o, const StimulusSet& set, const std::string& weights_sha) {
  std::ostringstream k;
  k << "images=" << std::filesystem::absolute(o.images).string() << ";n=" << set.size()
    << ";network=" << o.net.name << ";weights=" << weights_sha << ";size=" << o.input_size
    << ";norm=" << o.normalization << ";max=" << o.max_features << ";pool=" << o.pooling
    << ";batch=" << o.batch_size << ";seed=" << o.projection_seed << ";layers=";
  for (const auto& l : o.layers) k << l << ",";
  return k.str();
}

}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  const int my_rank = rank(comm), ranks = size(comm);

  // 1. Options, stimuli and network (every rank: all cheap next to the forward passes).
  Options opt = read_options(cfg);
  // Errors found here are the same on every rank, so they take the ConfigError path (rank 0 reports).
  StimulusSet set =
      deterministic("extract.images", [&] { return StimulusSet::open(opt.images, opt.brick_dataset); });
  if (set.size() == 0) throw ConfigError("no stimuli in " + opt.images);
  at::set_num_threads(omp_get_max_threads());
  auto net = deterministic("extract.weights", [&] { return nets::load_network(opt.net); });
  if (opt.layers.empty()) opt.layers = nets::default_layers(opt.net.name);
  try {
    nets::check_layers(*net, opt.layers);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("extract.layers: ") + e.what());
  }
  const auto norm = image::parse_normalization(opt.normalization);
  const std::string weights_sha = sha256_file(net->weights_path());
  const at::Device device(opt.net.device == "cuda" ? at::kCUDA : at::kCPU);
  log::info("extract: {} stimuli from {}, network {} ({}), {} px, {} normalization, layers: {}", set.size(),
            opt.images, opt.net.name, net->weights_path(), opt.input_size, opt.normalization, [&] {
              std::string s;
              for (const auto& l : opt.layers) s += (s.empty() ? "" : " ") + l;
              return s;
            }());

  // 2. Pooling plans from one probe pass (shapes only; identical on every rank).
  std::vector<LayerPlan> plans;
  {
    c10::InferenceMode guard;
    auto probe = net->forward(at::zeros({1, 3, opt.input_size, opt.input_size}).to(device), opt.layers);
    for (const auto& name : opt.layers) {
      auto s = probe.at(name).sizes().vec();
      s.erase(s.begin());
      plans.push_back(plan_layer(name, s, opt.max_features, opt.pooling,
                                 opt.projection_seed + static_cast<std::int64_t>(plans.size())));
      const auto& p = plans.back();
      std::string src, dst;
      for (auto d : p.source_shape) src += (src.empty() ? "" : "x") + std::to_string(d);
      for (auto d : p.pooled_shape) dst += (dst.empty() ? "" : "x") + std::to_string(d);
      log::info("  {}: {} -> {} ({}), {} features", name, src, dst, p.pooling, p.out_dim);
    }
  }

  // 3. The output file: datasets preallocated, so a resumed run only fills the missing chunks.
  const auto batches = chunks(set.size(), opt.batch_size);
  const auto n_chunks = static_cast<std::int64_t>(batches.size());
  RunFile out(cfg, "features", comm, resume_key(opt, set, weights_sha));
  h5::File& f = out.file();
  std::vector<std::uint8_t> done(static_cast<size_t>(n_chunks), 0);
  if (out.resumed()) {
    done = f.dataset("chunks/done").read_all<std::uint8_t>();
  } else {
    f.write_strings("stimulus_ids", set.ids());
    f.write_attr("network", opt.net.name);
    f.write_attr("weights", net->weights_path());
    f.write_attr("weights_sha256", weights_sha);
    f.write_attr<std::int64_t>("input_size", opt.input_size);
    f.write_attr("normalization", opt.normalization);
    f.write_attr("images", opt.images);
    f.write_attr<std::int64_t>("max_features", opt.max_features);
    f.write_attr<std::int64_t>("batch_size", opt.batch_size);
    f.write_strings("layers", opt.layers);
    f.create_group("features");  // creation order = layer order for readers
    for (const auto& p : plans) {
      auto d = f.create_dataset<float>("features/" + p.layer, {set.size(), p.out_dim});
      d.write_attr<std::int64_t>("source_shape", p.source_shape);
      d.write_attr<std::int64_t>("pooled_shape", p.pooled_shape);
      d.write_attr("pooling", p.pooling);
      if (p.projection.defined()) d.write_attr<std::int64_t>("projection_seed", p.projection_seed);
    }
    f.create_dataset<std::uint8_t>("chunks/done", {n_chunks}).write_all(done);
    f.flush();
  }
  std::vector<h5::Dataset> feature_sets;
  for (const auto& p : plans) feature_sets.push_back(f.dataset("features/" + p.layer));
  h5::Dataset done_set = f.dataset("chunks/done");

  // 4. My chunks, decoded one batch ahead on a prefetch thread while the network runs.
  std::vector<std::int64_t> mine;
  std::int64_t skipped = 0;
  for (auto c : my_chunks(n_chunks, my_rank, ranks)) {
    if (done[static_cast<size_t>(c)])
      skipped += batches[static_cast<size_t>(c)].size();
    else
      mine.push_back(c);
  }
  // Collective writes need the same number of calls on every rank: pad with empty rounds.
  std::int64_t rounds = static_cast<std::int64_t>(mine.size());
  MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, comm);

  Progress progress("extract images", set.size(), comm);
  progress.add_skipped(skipped);
  const bool async = set.thread_safe();
  auto fetch = [&](std::int64_t k) {
    return load_batch(set, batches[static_cast<size_t>(mine[static_cast<size_t>(k)])], opt.input_size, norm);
  };
  std::future<Batch> next;
  if (!mine.empty()) next = std::async(async ? std::launch::async : std::launch::deferred, fetch, 0);
  double t_wait = 0, t_forward = 0, t_write = 0;
  for (std::int64_t k = 0; k < rounds; ++k) {
    const bool have = k < static_cast<std::int64_t>(mine.size());
    std::vector<at::Tensor> pooled(plans.size());
    Range rows{0, 0};
    if (have) {
      auto t0 = Clock::now();
      Batch batch = next.get();
      t_wait += seconds_since(t0);
      if (k + 1 < static_cast<std::int64_t>(mine.size()))
        next = std::async(async ? std::launch::async : std::launch::deferred, fetch, k + 1);
      rows = batch.rows;
      t0 = Clock::now();
      c10::InferenceMode guard;
      at::Tensor x =
          at::from_blob(batch.pixels.data(), {rows.size(), 3, opt.input_size, opt.input_size}, at::kFloat)
              .to(device);
      auto taps = net->forward(x, opt.layers);
      for (size_t l = 0; l < plans.size(); ++l)
        pooled[l] = apply_plan(plans[l], taps.at(plans[l].layer)).cpu().contiguous();
      t_forward += seconds_since(t0);
    }
    auto t0 = Clock::now();
    for (size_t l = 0; l < plans.size(); ++l) {
      const float* data = have ? pooled[l].data_ptr<float>() : nullptr;
      feature_sets[l].write_block<float>({rows.begin, rows.size(), 0, plans[l].out_dim}, data);
    }
    // Flush the features before recording the chunk as done: a kill between the two only redoes it.
    f.flush();
    std::uint8_t one = 1;
    std::int64_t c = have ? mine[static_cast<size_t>(k)] : 0;
    done_set.write_block<std::uint8_t>({c, have ? 1 : 0, 0, 1}, &one);
    f.flush();
    t_write += seconds_since(t0);
    if (have) progress.add(rows.size());
  }
  log::info("extract: rank 0 time waiting for decoding {:.2f}s, forward+pool {:.2f}s, writing {:.2f}s",
            t_wait, t_forward, t_write);

  // 5. Publish.
  out.commit();
}

}  // namespace deepvox::extract
