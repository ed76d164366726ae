#include "decode/plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "core/config.h"
#include "core/log.h"
#include "synth/random.h"

namespace deepvox::decode {

SyntheticMeta SyntheticMeta::read(const std::string& path, const synth::Responses& responses) {
  if (!h5::is_hdf5(path)) throw ConfigError("decode needs " + path + " (run `deepvox synth` first)");
  auto f = h5::File::open(path, h5::Mode::Read);
  SyntheticMeta m;
  m.path = path;
  for (const char* d :
       {"stimulus_ids", "responses", "categories/index", "source_index", "copy", "responses_index"})
    if (!f.exists(d)) throw ConfigError(path + " has no /" + d);
  auto resp = f.dataset("responses");
  if (resp.cols() != responses.n_voxels)
    throw ConfigError(path + " has " + std::to_string(resp.cols()) + " voxels but " + responses.path +
                      " has " + std::to_string(responses.n_voxels));
  m.rows = resp.rows();
  const auto ids = f.dataset("stimulus_ids").read_strings();
  const auto names = f.exists("categories/names") ? f.dataset("categories/names").read_strings()
                                                  : std::vector<std::string>{};
  const auto index = f.dataset("categories/index").read_all<std::int64_t>();
  m.source_index = f.dataset("source_index").read_all<std::int64_t>();
  m.copy = f.dataset("copy").read_all<std::int64_t>();
  m.responses_index = f.dataset("responses_index").read_all<std::int64_t>();
  m.groups = f.exists("groups") ? f.dataset("groups").read_strings() : ids;
  for (const std::vector<std::int64_t>* v : std::initializer_list<const std::vector<std::int64_t>*>{
           &index, &m.source_index, &m.copy, &m.responses_index})
    if (static_cast<std::int64_t>(v->size()) != m.rows)
      throw ConfigError(path + ": per-row datasets disagree in length");
  // Categories by name, so the two files may list them in different orders.
  std::map<std::string, std::int64_t> to_responses;
  for (size_t c = 0; c < responses.category_names.size(); ++c)
    to_responses[responses.category_names[c]] = static_cast<std::int64_t>(c);
  m.category.assign(static_cast<size_t>(m.rows), -1);
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const auto c = index[static_cast<size_t>(r)];
    if (c >= 0 && c < static_cast<std::int64_t>(names.size())) {
      auto it = to_responses.find(names[static_cast<size_t>(c)]);
      if (it != to_responses.end()) m.category[static_cast<size_t>(r)] = it->second;
    }
    const auto s = m.responses_index[static_cast<size_t>(r)];
    if (s >= static_cast<std::int64_t>(responses.ids.size()) ||
        (s >= 0 && responses.ids[static_cast<size_t>(s)] != ids[static_cast<size_t>(r)]))
      throw ConfigError(path + " row " + std::to_string(r) + " (" + ids[static_cast<size_t>(r)] +
                        ") does not match " + responses.path + ": rerun `deepvox synth`");
  }
  if (f.exists("holdout/responses") && f.exists("holdout/categories"))
    m.held_out = f.dataset("holdout/categories").read_strings();
  return m;
}

std::vector<Roi> select_rois(const Options& opt, const synth::Responses& responses) {
  std::vector<std::string> names = opt.rois;
  if (names.empty())
    for (const auto& r : responses.rois) names.push_back(r.first);
  if (names.empty()) names.push_back("all");
  std::vector<Roi> out;
  for (const auto& name : names) {
    const std::vector<std::uint8_t>* mask = nullptr;
    for (const auto& r : responses.rois)
      if (r.first == name) mask = &r.second;
    if (!mask && name != "all")
      throw ConfigError("decode.rois: no ROI '" + name + "' in " + responses.path +
                        " (\"all\" = every valid voxel)");
    Roi roi{name, {}};
    for (std::int64_t v = 0; v < responses.n_voxels; ++v)
      if (responses.valid[static_cast<size_t>(v)] && (!mask || (*mask)[static_cast<size_t>(v)]))
        roi.voxels.push_back(v);
    if (static_cast<std::int64_t>(roi.voxels.size()) < opt.min_voxels) {
      log::warn("decode: ROI {} has {} valid voxels (< decode.min_voxels = {}): skipped", name,
                roi.voxels.size(), opt.min_voxels);
      continue;
    }
    out.push_back(std::move(roi));
  }
  if (out.empty()) throw ConfigError("decode: no ROI with at least decode.min_voxels valid voxels");
  return out;
}

double Job::cost() const { return static_cast<double>(train_rows.size()) + 1.0; }

namespace {

std::string job_key(DataKind kind, std::int64_t roi, const std::vector<std::int64_t>& rows,
                    const std::vector<std::int64_t>& labels) {
  // FNV-1a over rows and labels: a job is its data, so identical training sets are fitted once.
  std::uint64_t h = 1469598103934665603ULL;
  for (const auto* v : {&rows, &labels})
    for (auto x : *v) {
      h ^= static_cast<std::uint64_t>(x);
      h *= 1099511628211ULL;
    }
  std::ostringstream k;
  k << static_cast<int>(kind) << ":" << roi << ":" << rows.size() << ":" << std::hex << h;
  return k.str();
}

std::string multiple_name(double m) {
  std::ostringstream os;
  os << m;
  return "synthetic_" + os.str() + "x";
}

}  // namespace

Plan build_plan(const Options& opt, const synth::Responses& responses, const SyntheticMeta& syn) {
  Plan plan;
  plan.classes = responses.category_names;
  if (plan.classes.size() < 2)
    throw ConfigError("decode needs at least two stimulus categories (/categories in " + responses.path +
                      ")");
  plan.rois = select_rois(opt, responses);

  // Real training and test stimuli with a known category.
  auto known = [&](const std::vector<std::int64_t>& split) {
    std::vector<std::int64_t> out;
    for (auto s : split)
      if (responses.category[static_cast<size_t>(s)] >= 0) out.push_back(s);
    return out;
  };
  const auto train = known(responses.train), test = known(responses.test);
  if (test.empty()) throw ConfigError("decode: no test stimulus with a category in " + responses.path);
  std::vector<std::int64_t> test_labels;
  for (auto s : test) test_labels.push_back(responses.category[static_cast<size_t>(s)]);
  const std::set<std::int64_t> train_set(responses.train.begin(), responses.train.end()),
      test_set(responses.test.begin(), responses.test.end());

  // Synthetic rows that may train a decoder: never a test image, a copy of one, or its source photo.
  std::set<std::string> test_groups;
  for (std::int64_t r = 0; r < syn.rows; ++r)
    if (test_set.count(syn.responses_index[static_cast<size_t>(r)]))
      test_groups.insert(syn.groups[static_cast<size_t>(r)]);
  auto usable = [&](std::int64_t r) {
    const auto ur = static_cast<size_t>(r);
    const auto src = syn.source_index[ur];
    return syn.category[ur] >= 0 && !test_set.count(syn.responses_index[ur]) &&
           !(src >= 0 && src < syn.rows && test_set.count(syn.responses_index[static_cast<size_t>(src)])) &&
           !test_groups.count(syn.groups[ur]);
  };
  std::vector<std::int64_t> originals, extras, augmented;
  for (std::int64_t r = 0; r < syn.rows; ++r) {
    if (!usable(r)) continue;
    const auto ur = static_cast<size_t>(r);
    if (syn.copy[ur] == 0 && train_set.count(syn.responses_index[ur]))
      originals.push_back(r);
    else if (syn.copy[ur] == 0 && syn.responses_index[ur] < 0)
      extras.push_back(r);
    else if (syn.copy[ur] > 0)
      augmented.push_back(r);
  }
  std::stable_sort(augmented.begin(), augmented.end(), [&](auto a, auto b) {
    return syn.copy[static_cast<size_t>(a)] < syn.copy[static_cast<size_t>(b)];
  });
  log::info(
      "decode: {} real training and {} real test stimuli; synthetic pool: {} training images, {} new images, "
      "{} "
      "augmented copies",
      train.size(), test.size(), originals.size(), extras.size(), augmented.size());

  std::map<std::string, std::int64_t> job_index;
  auto labels_of = [&](DataKind kind, const std::vector<std::int64_t>& rows) {
    std::vector<std::int64_t> l;
    for (auto r : rows)
      l.push_back(kind == DataKind::Real ? responses.category[static_cast<size_t>(r)]
                                         : syn.category[static_cast<size_t>(r)]);
    return l;
  };
  auto condition = [&](const std::string& name, DataKind kind, const std::vector<std::int64_t>& rows,
                       std::vector<std::int64_t> labels) {
    Condition c{name, static_cast<std::int64_t>(rows.size()), {}};
    for (std::int64_t roi = 0; roi < static_cast<std::int64_t>(plan.rois.size()); ++roi) {
      const std::string key = job_key(kind, roi, rows, labels);
      auto it = job_index.find(key);
      if (it == job_index.end()) {
        Job j{key, roi, kind, rows, labels, test, test_labels};
        it = job_index.emplace(key, static_cast<std::int64_t>(plan.jobs.size())).first;
        plan.jobs.push_back(std::move(j));
      }
      c.jobs.push_back(it->second);
    }
    return c;
  };
  const std::vector<bool> all_scored(test.size(), true);

  if (opt.has("unseen_images")) {
    if (originals.empty())
      throw ConfigError("decode: no synthetic responses to training-split images in " + syn.path);
    Experiment e{"unseen_images", "experiments", {}, all_scored};
    e.conditions.push_back(
        condition("synthetic", DataKind::Synthetic, originals, labels_of(DataKind::Synthetic, originals)));
    plan.experiments.push_back(std::move(e));
  }
  if (opt.has("unseen_categories")) {
    if (syn.held_out.empty()) {
      log::warn("decode: {} has no held-out-category model (synth.holdout_count): unseen_categories skipped",
                syn.path);
    } else {
      std::set<std::int64_t> held;
      for (const auto& name : syn.held_out) {
        auto it = std::find(plan.classes.begin(), plan.classes.end(), name);
        if (it != plan.classes.end()) held.insert(it - plan.classes.begin());
      }
      Experiment e{"unseen_categories", "experiments", {}, {}};
      for (auto l : test_labels) e.scored.push_back(held.count(l) > 0);
      e.report_complement = true;
      e.held_out = syn.held_out;
      e.conditions.push_back(
          condition("synthetic", DataKind::Holdout, originals, labels_of(DataKind::Holdout, originals)));
      plan.experiments.push_back(std::move(e));
    }
  }
  if (opt.has("real_vs_synthetic")) {
    // The real decoder's training set: every training stimulus, or a category-balanced subset (round robin
    // over categories in split order) when decode.learning_curve_base asks for fewer.
    std::vector<std::int64_t> real = train;
    if (opt.learning_curve_base > 0 && opt.learning_curve_base < static_cast<std::int64_t>(train.size())) {
      std::map<std::int64_t, std::vector<std::int64_t>> by_class;
      for (auto s : train) by_class[responses.category[static_cast<size_t>(s)]].push_back(s);
      real.clear();
      for (size_t i = 0; static_cast<std::int64_t>(real.size()) < opt.learning_curve_base; ++i)
        for (auto& [c, members] : by_class)
          if (i < members.size() && static_cast<std::int64_t>(real.size()) < opt.learning_curve_base)
            real.push_back(members[i]);
      std::sort(real.begin(), real.end());
      log::info(
          "decode: real-vs-synthetic uses {} of the {} real training stimuli (decode.learning_curve_base)",
          real.size(), train.size());
    }
    Experiment e{"real_vs_synthetic", "experiments", {}, all_scored};
    e.conditions.push_back(condition("real", DataKind::Real, real, labels_of(DataKind::Real, real)));
    // The synthetic pool: the real decoder's images first (1x is the same images), then the other
    // training images, new images, and augmented copies.
    const std::set<std::int64_t> real_set(real.begin(), real.end());
    std::vector<std::int64_t> pool, rest;
    for (auto r : originals)
      (real_set.count(syn.responses_index[static_cast<size_t>(r)]) ? pool : rest).push_back(r);
    pool.insert(pool.end(), rest.begin(), rest.end());
    pool.insert(pool.end(), extras.begin(), extras.end());
    pool.insert(pool.end(), augmented.begin(), augmented.end());
    std::int64_t previous = 0;
    for (double m : opt.learning_curve) {
      const auto wanted = static_cast<std::int64_t>(std::llround(m * static_cast<double>(real.size())));
      const auto n = std::min({wanted, opt.max_synthetic, static_cast<std::int64_t>(pool.size())});
      if (n < wanted)
        log::info("decode: learning curve {}x wants {} synthetic images; {} used ({})", m, wanted, n,
                  n == opt.max_synthetic ? "decode.max_synthetic_images" : "all the synthetic pool has");
      if (n <= previous || n == 0) continue;
      previous = n;
      std::vector<std::int64_t> rows(pool.begin(), pool.begin() + n);
      e.conditions.push_back(
          condition(multiple_name(m), DataKind::Synthetic, rows, labels_of(DataKind::Synthetic, rows)));
      e.multiples.push_back(m);
    }
    plan.experiments.push_back(std::move(e));
  }
  if (opt.shuffle_control && !originals.empty()) {
    auto labels = labels_of(DataKind::Synthetic, originals);
    synth::Rng rng(opt.seed, {0xdec0ULL});
    synth::shuffle(labels, rng);
    Experiment e{"shuffled_labels", "controls", {}, all_scored};
    e.conditions.push_back(condition("synthetic", DataKind::Synthetic, originals, labels));
    plan.experiments.push_back(std::move(e));
  }
  return plan;
}

}  // namespace deepvox::decode
