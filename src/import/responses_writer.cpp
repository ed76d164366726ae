#include "import/responses_writer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <unordered_map>

#include "core/log.h"
#include "core/mpi.h"
#include "core/run_file.h"
#include "import/readers.h"

namespace deepvox::import {
namespace {

// Everything written, computed on rank 0. Other ranks hold only the names and shapes.
struct Prepared {
  std::int64_t S = 0, T = 0, V = 0;
  std::vector<std::string> ids, paths, category_names, roi_names;
  std::vector<std::int64_t> category_index, trial_stimulus, session, run, train, test;
  std::vector<std::int64_t> rep_count, rep_offset, rep_trials, rep_stimuli;
  std::vector<float> trials, responses;
  std::vector<std::vector<std::uint8_t>> masks;
  std::vector<std::uint8_t> valid;
  std::vector<std::int64_t> ijk;
  std::vector<double> affine, xyz;
  std::string format, source, subject, zscore, split_rule, stimulus_images;
  std::int64_t n_invalid = 0;
};

void bcast(std::int64_t& v, MPI_Comm comm) { MPI_Bcast(&v, 1, MPI_INT64_T, 0, comm); }

void bcast(std::string& s, MPI_Comm comm) {
  std::int64_t n = static_cast<std::int64_t>(s.size());
  bcast(n, comm);
  s.resize(static_cast<size_t>(n));
  if (n) MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, 0, comm);
}

void bcast(std::vector<std::string>& v, MPI_Comm comm) {
  // One joined buffer: names can be many (73,000 ids), one broadcast is enough.
  std::string joined;
  std::vector<std::int64_t> lengths;
  for (const auto& s : v) {
    joined += s;
    lengths.push_back(static_cast<std::int64_t>(s.size()));
  }
  std::int64_t n = static_cast<std::int64_t>(v.size());
  bcast(n, comm);
  lengths.resize(static_cast<size_t>(n));
  if (n) MPI_Bcast(lengths.data(), static_cast<int>(n), MPI_INT64_T, 0, comm);
  bcast(joined, comm);
  v.resize(static_cast<size_t>(n));
  size_t pos = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = joined.substr(pos, static_cast<size_t>(lengths[i]));
    pos += static_cast<size_t>(lengths[i]);
  }
}

void bcast(std::vector<double>& v, MPI_Comm comm) {
  std::int64_t n = static_cast<std::int64_t>(v.size());
  bcast(n, comm);
  v.resize(static_cast<size_t>(n));
  if (n) MPI_Bcast(v.data(), static_cast<int>(n), MPI_DOUBLE, 0, comm);
}

[[noreturn]] void bad(const Prepared& p, const std::string& why) {
  throw ImportError("import (" + p.format + ", " + p.source + "): " + why);
}

std::vector<std::int64_t> or_zeros(std::vector<std::int64_t> v, std::int64_t n) {
  if (v.empty()) v.assign(static_cast<size_t>(n), 0);
  return v;
}

void check_split(const Prepared& p, const std::vector<std::int64_t>& rows, const std::string& name) {
  for (auto r : rows)
    if (r < 0 || r >= p.S)
      bad(p, "split " + name + " has row " + std::to_string(r) + " outside [0, " + std::to_string(p.S) + ")");
}

Prepared prepare(FmriDataset ds, const Config& cfg, const WriteOptions& opt, const std::string& z,
                 double fraction) {
  Prepared p;
  p.format = ds.format;
  p.source = ds.source;
  p.subject = ds.subject;
  p.S = static_cast<std::int64_t>(ds.stimulus_ids.size());
  p.T = static_cast<std::int64_t>(ds.trial_stimulus.size());
  p.V = ds.n_voxels;
  // 1. Shapes and ids.
  if (p.S == 0) bad(p, "no stimuli were read");
  if (p.T == 0) bad(p, "no trials were read");
  if (p.V <= 0) bad(p, "no voxels were read");
  if (static_cast<std::int64_t>(ds.trial_responses.size()) != p.T * p.V)
    bad(p, "trial responses hold " + std::to_string(ds.trial_responses.size()) + " values, expected " +
               std::to_string(p.T) + " trials x " + std::to_string(p.V) + " voxels");
  std::unordered_map<std::string, std::int64_t> seen;
  for (std::int64_t s = 0; s < p.S; ++s) {
    auto [it, fresh] = seen.emplace(ds.stimulus_ids[static_cast<size_t>(s)], s);
    if (!fresh)
      bad(p, "duplicate stimulus id '" + it->first + "' (stimuli " + std::to_string(it->second) + " and " +
                 std::to_string(s) + ")");
    if (it->first.empty()) bad(p, "stimulus " + std::to_string(s) + " has an empty id");
  }
  for (const auto* v : {&ds.trial_session, &ds.trial_run})
    if (!v->empty() && static_cast<std::int64_t>(v->size()) != p.T)
      bad(p, "session/run vectors do not have one entry per trial");
  p.session = or_zeros(std::move(ds.trial_session), p.T);
  p.run = or_zeros(std::move(ds.trial_run), p.T);
  p.trial_stimulus = std::move(ds.trial_stimulus);
  p.rep_count.assign(static_cast<size_t>(p.S), 0);
  for (std::int64_t t = 0; t < p.T; ++t) {
    auto s = p.trial_stimulus[static_cast<size_t>(t)];
    if (s < 0 || s >= p.S)
      bad(p, "trial " + std::to_string(t) + " points at stimulus row " + std::to_string(s));
    ++p.rep_count[static_cast<size_t>(s)];
  }
  for (std::int64_t s = 0; s < p.S; ++s)
    if (p.rep_count[static_cast<size_t>(s)] == 0)
      bad(p, "stimulus '" + ds.stimulus_ids[static_cast<size_t>(s)] + "' has no trial");
  p.ids = std::move(ds.stimulus_ids);

  // 2. Optional per-stimulus and per-voxel metadata.
  if (!ds.stimulus_paths.empty()) {
    if (static_cast<std::int64_t>(ds.stimulus_paths.size()) != p.S)
      bad(p, "stimulus_paths does not have one entry per stimulus");
    if (std::any_of(ds.stimulus_paths.begin(), ds.stimulus_paths.end(), [](auto& s) { return !s.empty(); }))
      p.paths = std::move(ds.stimulus_paths);
  }
  if (!ds.category_names.empty()) {
    if (static_cast<std::int64_t>(ds.category_index.size()) != p.S)
      bad(p, "category_index does not have one entry per stimulus");
    for (auto c : ds.category_index)
      if (c < -1 || c >= static_cast<std::int64_t>(ds.category_names.size()))
        bad(p, "category_index out of range");
    p.category_names = std::move(ds.category_names);
    p.category_index = std::move(ds.category_index);
  }
  std::vector<std::string> order = ds.roi_order;
  for (const auto& [name, mask] : ds.rois)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  for (const auto& name : order) {
    auto it = ds.rois.find(name);
    if (it == ds.rois.end()) bad(p, "roi_order names '" + name + "', which has no mask");
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      bad(p, "ROI name '" + name + "' cannot be an HDF5 dataset name");
    if (static_cast<std::int64_t>(it->second.size()) != p.V)
      bad(p, "ROI '" + name + "' has " + std::to_string(it->second.size()) + " entries for " +
                 std::to_string(p.V) + " voxels");
    p.roi_names.push_back(name);
    p.masks.push_back(std::move(it->second));
  }
  if (!ds.ijk.empty()) {
    if (static_cast<std::int64_t>(ds.ijk.size()) != 3 * p.V) bad(p, "ijk does not have 3 entries per voxel");
    p.ijk = std::move(ds.ijk);
    if (ds.affine) p.affine.assign(ds.affine->begin(), ds.affine->end());
  }
  if (!opt.voxel_xyz.empty()) {
    if (static_cast<std::int64_t>(opt.voxel_xyz.size()) != 3 * p.V)
      bad(p, "voxel_xyz does not have 3 entries per voxel");
    p.xyz = opt.voxel_xyz;
  }

  // 3. Values: z-scoring, NaN handling, validity.
  p.zscore = z;
  p.trials = std::move(ds.trial_responses);
  Cleaned c = clean_trials(p.trials, p.V, p.session, z == "session");
  p.valid = std::move(c.valid);
  p.n_invalid = std::count(p.valid.begin(), p.valid.end(), std::uint8_t{0});
  if (c.nonfinite_values > 0)
    log::warn("import: {} non-finite trial values set to 0; their voxels are flagged invalid",
              c.nonfinite_values);
  if (p.n_invalid > 0)
    log::warn("import: {} of {} voxels flagged invalid (NaN, or constant)", p.n_invalid, p.V);

  // 4. Repetition groups (CSR, trials in chronological order) and per-stimulus means.
  p.rep_offset.assign(static_cast<size_t>(p.S + 1), 0);
  for (std::int64_t s = 0; s < p.S; ++s)
    p.rep_offset[static_cast<size_t>(s + 1)] =
        p.rep_offset[static_cast<size_t>(s)] + p.rep_count[static_cast<size_t>(s)];
  p.rep_trials.assign(static_cast<size_t>(p.T), 0);
  std::vector<std::int64_t> fill(p.rep_offset.begin(), p.rep_offset.end() - 1);
  for (std::int64_t t = 0; t < p.T; ++t)
    p.rep_trials[static_cast<size_t>(fill[static_cast<size_t>(p.trial_stimulus[static_cast<size_t>(t)])]++)] =
        t;
  for (std::int64_t s = 0; s < p.S; ++s)
    if (p.rep_count[static_cast<size_t>(s)] >= 2) p.rep_stimuli.push_back(s);
  p.responses.assign(static_cast<size_t>(p.S * p.V), 0.0f);
  std::vector<double> acc(static_cast<size_t>(p.V));
  for (std::int64_t s = 0; s < p.S; ++s) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (auto k = p.rep_offset[static_cast<size_t>(s)]; k < p.rep_offset[static_cast<size_t>(s + 1)]; ++k) {
      const float* row = p.trials.data() + p.rep_trials[static_cast<size_t>(k)] * p.V;
      for (std::int64_t v = 0; v < p.V; ++v) acc[static_cast<size_t>(v)] += row[v];
    }
    const double n = static_cast<double>(p.rep_count[static_cast<size_t>(s)]);
    float* out = p.responses.data() + s * p.V;
    for (std::int64_t v = 0; v < p.V; ++v) out[v] = static_cast<float>(acc[static_cast<size_t>(v)] / n);
  }

  // 5. Split: the dataset's convention when the reader gave one, else seeded.
  if (!ds.split_train.empty() || !ds.split_test.empty()) {
    check_split(p, ds.split_train, "train");
    check_split(p, ds.split_test, "test");
    std::vector<char> side(static_cast<size_t>(p.S), 0);
    for (auto r : ds.split_test) {
      if (side[static_cast<size_t>(r)]) bad(p, "split test lists stimulus " + std::to_string(r) + " twice");
      side[static_cast<size_t>(r)] = 2;
    }
    for (auto r : ds.split_train) {
      if (side[static_cast<size_t>(r)])
        bad(p, "stimulus " + std::to_string(r) + " is in both train and test (or listed twice)");
      side[static_cast<size_t>(r)] = 1;
    }
    p.test = std::move(ds.split_test);
    p.train = std::move(ds.split_train);
    if (p.train.empty())
      for (std::int64_t s = 0; s < p.S; ++s)
        if (!side[static_cast<size_t>(s)]) p.train.push_back(s);
    p.split_rule = opt.split_rule.empty() ? "given by the reader" : opt.split_rule;
  } else {
    auto seed =
        static_cast<std::uint64_t>(cfg.has("import.seed") ? cfg.integer("import.seed") : cfg.integer("seed"));
    if (!opt.split_groups.empty() && static_cast<std::int64_t>(opt.split_groups.size()) != p.S)
      bad(p, "split_groups does not have one entry per stimulus");
    seeded_split(p.S, p.category_index, opt.split_groups, fraction, seed, p.train, p.test);
    p.split_rule = "seeded: test_fraction " + std::to_string(fraction) + ", seed " + std::to_string(seed) +
                   (p.category_index.empty() ? "" : ", stratified by category") +
                   (opt.split_groups.empty() ? "" : ", groups kept together");
  }
  p.stimulus_images = opt.stimulus_images;
  log::info(
      "import: {} stimuli, {} trials, {} voxels ({} invalid), {} ROIs, {} repeated stimuli, split {} train / "
      "{} test",
      p.S, p.T, p.V, p.n_invalid, p.roi_names.size(), p.rep_stimuli.size(), p.train.size(), p.test.size());
  return p;
}

// Collective write of a 1-D or 2-D array that rank 0 holds; rows go in blocks below 256 MiB
// (MPI-IO's 2 GiB per call limit), and every rank makes the same calls.
template <typename T>
void put(const h5::Group& g, const std::string& name, const std::vector<T>& data, std::int64_t rows,
         std::int64_t cols, bool two_d, bool root) {
  h5::Shape shape = two_d ? h5::Shape{rows, cols} : h5::Shape{rows};
  h5::Dataset d = g.create_dataset<T>(name, shape);
  const std::int64_t row_bytes = std::max<std::int64_t>(1, cols * static_cast<std::int64_t>(sizeof(T)));
  const std::int64_t step = std::max<std::int64_t>(1, (std::int64_t{256} << 20) / row_bytes);
  static const T dummy{};
  for (std::int64_t r0 = 0; r0 < rows; r0 += step) {
    std::int64_t n = std::min(step, rows - r0);
    h5::Block b{r0, root ? n : 0, 0, cols};
    d.write_block<T>(b, root ? data.data() + r0 * cols : &dummy);
  }
}

void write_affine(const h5::Dataset& d, const std::vector<double>& affine) {
  hsize_t dims[2] = {4, 4};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t attr = H5Acreate2(d.id(), "affine", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr >= 0 ? H5Awrite(attr, H5T_NATIVE_DOUBLE, affine.data()) : -1;
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  if (st < 0) throw h5::Error("HDF5: cannot write attribute affine of " + d.path());
}

}  // namespace

Cleaned clean_trials(std::vector<float>& trials, std::int64_t V, const std::vector<std::int64_t>& session,
                     bool zscore) {
  const std::int64_t T = static_cast<std::int64_t>(session.size());
  Cleaned c;
  c.valid.assign(static_cast<size_t>(V), 1);
  // Constant over all trials, or never finite: no signal to model.
  std::vector<float> lo(static_cast<size_t>(V), std::numeric_limits<float>::infinity());
  std::vector<float> hi(static_cast<size_t>(V), -std::numeric_limits<float>::infinity());
  for (std::int64_t t = 0; t < T; ++t) {
    const float* row = trials.data() + t * V;
    for (std::int64_t v = 0; v < V; ++v) {
      float x = row[v];
      if (!std::isfinite(x)) {
        c.valid[static_cast<size_t>(v)] = 0;
        ++c.nonfinite_values;
        continue;
      }
      lo[static_cast<size_t>(v)] = std::min(lo[static_cast<size_t>(v)], x);
      hi[static_cast<size_t>(v)] = std::max(hi[static_cast<size_t>(v)], x);
    }
  }
  for (std::int64_t v = 0; v < V; ++v)
    if (!(hi[static_cast<size_t>(v)] > lo[static_cast<size_t>(v)])) c.valid[static_cast<size_t>(v)] = 0;

  if (!zscore) {
    for (auto& x : trials)
      if (!std::isfinite(x)) x = 0.0f;
    return c;
  }
  // Sessions in order of first appearance; each z-scored on its own (mean and ddof-0 std of the
  // finite values, two passes in double). Non-finite values become 0, the session mean.
  std::vector<std::int64_t> keys;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> rows_of;
  for (std::int64_t t = 0; t < T; ++t) {
    auto& rows = rows_of[session[static_cast<size_t>(t)]];
    if (rows.empty()) keys.push_back(session[static_cast<size_t>(t)]);
    rows.push_back(t);
  }
  std::vector<double> sum(static_cast<size_t>(V)), sq(static_cast<size_t>(V));
  std::vector<std::int64_t> n(static_cast<size_t>(V));
  for (auto key : keys) {
    const auto& rows = rows_of[key];
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(sq.begin(), sq.end(), 0.0);
    std::fill(n.begin(), n.end(), 0);
    for (auto t : rows) {
      const float* row = trials.data() + t * V;
      for (std::int64_t v = 0; v < V; ++v)
        if (std::isfinite(row[v])) {
          sum[static_cast<size_t>(v)] += row[v];
          ++n[static_cast<size_t>(v)];
        }
    }
    for (std::int64_t v = 0; v < V; ++v)
      sum[static_cast<size_t>(v)] /= std::max<std::int64_t>(n[static_cast<size_t>(v)], 1);
    for (auto t : rows) {
      const float* row = trials.data() + t * V;
      for (std::int64_t v = 0; v < V; ++v)
        if (std::isfinite(row[v])) {
          double d = row[v] - sum[static_cast<size_t>(v)];
          sq[static_cast<size_t>(v)] += d * d;
        }
    }
    for (std::int64_t v = 0; v < V; ++v) {
      double sd =
          std::sqrt(sq[static_cast<size_t>(v)] / std::max<std::int64_t>(n[static_cast<size_t>(v)], 1));
      sq[static_cast<size_t>(v)] = sd;  // reuse as the std
      if (!(sd > 0.0)) c.valid[static_cast<size_t>(v)] = 0;
    }
    for (auto t : rows) {
      float* row = trials.data() + t * V;
      for (std::int64_t v = 0; v < V; ++v) {
        double sd = sq[static_cast<size_t>(v)];
        row[v] = (std::isfinite(row[v]) && sd > 0.0)
                     ? static_cast<float>((row[v] - sum[static_cast<size_t>(v)]) / sd)
                     : 0.0f;
      }
    }
  }
  return c;
}

void seeded_split(std::int64_t S, const std::vector<std::int64_t>& category,
                  const std::vector<std::int64_t>& groups, double test_fraction, std::uint64_t seed,
                  std::vector<std::int64_t>& train, std::vector<std::int64_t>& test) {
  // Units: a group's stimuli, or one stimulus; ordered by their first row.
  std::vector<std::vector<std::int64_t>> units;
  std::unordered_map<std::int64_t, size_t> unit_of_group;
  for (std::int64_t s = 0; s < S; ++s) {
    std::int64_t g = groups.empty() ? -1 : groups[static_cast<size_t>(s)];
    if (g < 0) {
      units.push_back({s});
      continue;
    }
    auto [it, fresh] = unit_of_group.emplace(g, units.size());
    if (fresh) units.emplace_back();
    units[it->second].push_back(s);
  }
  // Strata: the category of a unit's first stimulus (one stratum when categories are unknown).
  std::map<std::int64_t, std::vector<size_t>> strata;
  for (size_t u = 0; u < units.size(); ++u)
    strata[category.empty() ? 0 : category[static_cast<size_t>(units[u][0])]].push_back(u);
  // mt19937_64's output is fixed by the C++ standard; the modulo keeps the shuffle portable
  // (std::uniform_int_distribution differs between standard libraries).
  std::mt19937_64 rng(seed);
  std::vector<char> is_test(units.size(), 0);
  for (auto& [cat, members] : strata) {
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng() % i]);
    std::int64_t n = static_cast<std::int64_t>(members.size());
    std::int64_t k =
        n >= 2 ? std::clamp<std::int64_t>(std::llround(test_fraction * static_cast<double>(n)), 1, n - 1) : 0;
    if (test_fraction <= 0.0) k = 0;
    for (std::int64_t i = 0; i < k; ++i) is_test[members[static_cast<size_t>(i)]] = 1;
  }
  train.clear();
  test.clear();
  for (size_t u = 0; u < units.size(); ++u)
    for (auto s : units[u]) (is_test[u] ? test : train).push_back(s);
  std::sort(test.begin(), test.end());
}

void write_responses(FmriDataset ds, const Config& cfg, MPI_Comm comm) {
  write_responses(std::move(ds), cfg, comm, WriteOptions{});
}

void write_responses(FmriDataset ds, const Config& cfg, MPI_Comm comm, const WriteOptions& options) {
  const bool root = is_root(comm);
  // 1. Config checks on every rank (deterministic), then check and compute on rank 0; a problem
  //    there stops every rank with the same message.
  std::string z = opt_str(cfg, "import.zscore", options.zscore_default);
  if (z == "auto") z = options.zscore_default;
  if (z != "session" && z != "none")
    throw ConfigError("import.zscore must be session, none or auto, not '" + z + "'");
  double fraction = opt_real(cfg, "import.test_fraction", 0.1);
  if (!(fraction >= 0.0 && fraction < 1.0)) throw ConfigError("import.test_fraction must be in [0, 1)");
  Prepared p;
  std::string error;
  if (root) {
    try {
      p = prepare(std::move(ds), cfg, options, z, fraction);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  raise_if_any(error, comm);

  // 2. Names and shapes to every rank (collective creates need identical arguments everywhere).
  std::int64_t R = static_cast<std::int64_t>(p.rep_stimuli.size()),
               ntrain = static_cast<std::int64_t>(p.train.size()),
               ntest = static_cast<std::int64_t>(p.test.size()), has_ijk = p.ijk.empty() ? 0 : 1,
               has_xyz = p.xyz.empty() ? 0 : 1;
  for (auto* v : {&p.S, &p.T, &p.V, &R, &ntrain, &ntest, &has_ijk, &has_xyz, &p.n_invalid}) bcast(*v, comm);
  for (auto* v : {&p.ids, &p.paths, &p.category_names, &p.roi_names}) bcast(*v, comm);
  for (auto* s : {&p.format, &p.source, &p.subject, &p.zscore, &p.split_rule, &p.stimulus_images})
    bcast(*s, comm);
  bcast(p.affine, comm);

  // 3. Write through parallel HDF5: rank 0 provides the data, every rank takes part.
  RunFile run_file(cfg, "responses", comm);
  h5::File& f = run_file.file();
  f.write_strings("stimulus_ids", p.ids);
  put<float>(f, "responses", p.responses, p.S, p.V, true, root);
  h5::Group trials = f.create_group("trials");
  put<float>(trials, "responses", p.trials, p.T, p.V, true, root);
  put<std::int64_t>(trials, "stimulus_index", p.trial_stimulus, p.T, 1, false, root);
  put<std::int64_t>(trials, "session", p.session, p.T, 1, false, root);
  put<std::int64_t>(trials, "run", p.run, p.T, 1, false, root);
  h5::Group split = f.create_group("split");
  put<std::int64_t>(split, "train", p.train, ntrain, 1, false, root);
  put<std::int64_t>(split, "test", p.test, ntest, 1, false, root);
  split.write_attr("rule", p.split_rule);
  h5::Group rois = f.create_group("rois");
  for (size_t r = 0; r < p.roi_names.size(); ++r)
    put<std::uint8_t>(rois, p.roi_names[r], root ? p.masks[r] : std::vector<std::uint8_t>{}, p.V, 1, false,
                      root);
  h5::Group voxels = f.create_group("voxels");
  put<std::uint8_t>(voxels, "valid", p.valid, p.V, 1, false, root);
  if (has_ijk) {
    put<std::int64_t>(voxels, "ijk", p.ijk, p.V, 3, true, root);
    if (!p.affine.empty()) write_affine(voxels.dataset("ijk"), p.affine);
  }
  if (has_xyz) put<double>(voxels, "xyz", p.xyz, p.V, 3, true, root);
  if (!p.category_names.empty()) {
    h5::Group cats = f.create_group("categories");
    cats.write_strings("names", p.category_names);
    put<std::int64_t>(cats, "index", p.category_index, p.S, 1, false, root);
  }
  h5::Group reps = f.create_group("repetitions");
  put<std::int64_t>(reps, "count", p.rep_count, p.S, 1, false, root);
  put<std::int64_t>(reps, "offset", p.rep_offset, p.S + 1, 1, false, root);
  put<std::int64_t>(reps, "trial_index", p.rep_trials, p.T, 1, false, root);
  put<std::int64_t>(reps, "stimulus_index", p.rep_stimuli, R, 1, false, root);
  if (!p.paths.empty()) f.write_strings("stimulus_paths", p.paths);
  f.write_attr("format", p.format);
  f.write_attr("source", p.source);
  f.write_attr("subject", p.subject);
  f.write_attr("zscore", p.zscore);
  f.write_attr("split_rule", p.split_rule);
  f.write_attr<std::int64_t>("n_invalid_voxels", p.n_invalid);
  if (!p.stimulus_images.empty()) f.write_attr("stimulus_images", p.stimulus_images);
  run_file.commit();
}

}  // namespace deepvox::import
