#include "synth/rows.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/log.h"
#include "synth/augment.h"

namespace deepvox::synth {

std::int64_t SynthRows::n_augmented() const {
  return std::count_if(copy.begin(), copy.end(), [](std::int64_t c) { return c > 0; });
}

std::optional<ImageSet> open_image_set(const Options& opt) {
  if (opt.images_path.empty()) {
    if (opt.source == Source::Images) throw ConfigError("synth.images is empty");
    return std::nullopt;
  }
  ImageSet out;
  try {
    out.set = std::make_shared<StimulusSet>(StimulusSet::open(opt.images_path, opt.brick_dataset));
    out.group.assign(static_cast<size_t>(out.set->size()), "");
    if (!out.set->is_brick() && !opt.group_column.empty()) {
      Manifest m = read_manifest(opt.images_path);
      for (size_t i = 0; i < m.entries.size() && i < out.group.size(); ++i) {
        auto it = m.entries[i].fields.find(opt.group_column);
        if (it != m.entries[i].fields.end()) out.group[i] = it->second;
      }
    }
  } catch (const std::exception& e) {
    // Only synth.images is required; the run's manifest merely adds categories and augmentation.
    if (opt.source == Source::Images) throw ConfigError(std::string("synth.images: ") + e.what());
    log::warn("synth: cannot open the image set {} ({}): no augmented copies or manifest categories",
              opt.images_path, e.what());
    return std::nullopt;
  }
  return out;
}

SynthRows build_rows(const Options& opt, const Responses* responses, const std::optional<ImageSet>& images) {
  SynthRows r;
  std::map<std::string, std::int64_t> image_of;
  if (images)
    for (std::int64_t i = 0; i < images->set->size(); ++i)
      image_of[images->set->ids()[static_cast<size_t>(i)]] = i;
  std::set<std::int64_t> train, test;
  if (responses) {
    train.insert(responses->train.begin(), responses->train.end());
    test.insert(responses->test.begin(), responses->test.end());
  }
  auto add = [&](const std::string& id, std::int64_t feature_row, std::int64_t image) {
    const std::int64_t resp = responses ? responses->row_of(id) : -1;
    std::string category;
    if (resp >= 0 && responses->category[static_cast<size_t>(resp)] >= 0)
      category =
          responses->category_names.at(static_cast<size_t>(responses->category[static_cast<size_t>(resp)]));
    else if (image >= 0)
      category = images->set->categories()[static_cast<size_t>(image)];
    std::string group = image >= 0 ? images->group[static_cast<size_t>(image)] : "";
    r.ids.push_back(id);
    r.feature_row.push_back(feature_row);
    r.image_index.push_back(image);
    r.source_index.push_back(r.size() - 1);
    r.copy.push_back(0);
    r.category.push_back(category);
    r.group.push_back(group.empty() ? id : group);
    r.responses_row.push_back(resp);
  };

  if (opt.source == Source::Images) {
    for (std::int64_t i = 0; i < images->set->size(); ++i)
      add(images->set->ids()[static_cast<size_t>(i)], -1, i);
  } else {
    auto f = h5::File::open(opt.features_path, h5::Mode::Read);
    if (!f.exists("stimulus_ids")) throw ConfigError(opt.features_path + " has no /stimulus_ids");
    const auto ids = f.dataset("stimulus_ids").read_strings();
    if (opt.rows != "all" && !responses)
      throw ConfigError("synth.rows=" + opt.rows + " needs the split of " + opt.responses_path);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(ids.size()); ++i) {
      const auto& id = ids[static_cast<size_t>(i)];
      const std::int64_t resp = responses ? responses->row_of(id) : -1;
      if (opt.rows == "train" && !train.count(resp)) continue;
      if (opt.rows == "test" && !test.count(resp)) continue;
      auto it = image_of.find(id);
      add(id, i, it == image_of.end() ? -1 : it->second);
    }
  }

  // Augmented copies of the training-split images (every image when there is no fMRI data), copy 1 of
  // every image first, so the absolute cap keeps the copies spread over all images and categories.
  if (opt.augment_copies > 0) {
    if (!images)
      throw ConfigError(
          "synth.augment_copies needs the images behind the features (extract.images or the features "
          "file's `images` attribute); none found");
    std::vector<std::int64_t> sources;
    for (std::int64_t i = 0; i < r.size(); ++i)
      if (r.image_index[static_cast<size_t>(i)] >= 0 &&
          (!responses || train.count(r.responses_row[static_cast<size_t>(i)])))
        sources.push_back(i);
    std::int64_t added = 0;
    for (std::int64_t k = 1; k <= opt.augment_copies; ++k) {
      for (auto s : sources) {
        if (added >= opt.max_augmented) break;
        const auto su = static_cast<size_t>(s);
        r.ids.push_back(r.ids[su] + "#aug" + std::to_string(k));
        r.feature_row.push_back(-1);
        r.image_index.push_back(r.image_index[su]);
        r.source_index.push_back(s);
        r.copy.push_back(k);
        r.category.push_back(r.category[su]);
        r.group.push_back(r.group[su]);
        r.responses_row.push_back(-1);
        ++added;
      }
    }
    if (added < opt.augment_copies * static_cast<std::int64_t>(sources.size()))
      log::info("synth: augmented images capped at synth.max_augmented_images = {} ({} wanted)",
                opt.max_augmented, opt.augment_copies * static_cast<std::int64_t>(sources.size()));
  }
  return r;
}

// ---------------- FeatureSource ----------------
FeatureSource::FeatureSource(const Options& opt, const EncodingModel& model, const SynthRows& rows,
                             const std::optional<ImageSet>& images)
    : opt_(opt), model_(model), rows_(rows), images_(images) {}

void FeatureSource::check() {
  const bool from_file =
      std::any_of(rows_.feature_row.begin(), rows_.feature_row.end(), [](auto r) { return r >= 0; });
  const bool from_images =
      std::any_of(rows_.feature_row.begin(), rows_.feature_row.end(), [](auto r) { return r < 0; });
  // Same widths from another network would predict nonsense: compare the provenance both files keep.
  auto compare_extract_attrs = [&](const std::string& path) {
    auto f = h5::File::open(path, h5::Mode::Read);
    for (const char* key : {"network", "weights_sha256", "normalization", "input_size"}) {
      auto it = model_.extract_attrs().find(key);
      if (it == model_.extract_attrs().end() || !f.has_attr(key)) continue;
      if (f.attr_as_text(key) != it->second)
        throw ConfigError("feature layout of " + path + " does not match the encoding model " +
                          model_.path() + ": " + key + " is '" + f.attr_as_text(key) + "' there and '" +
                          it->second + "' in the model");
    }
  };
  if (from_file) {
    file_layers_ = feature_file_layers(opt_.features_path);
    model_.check_layout(file_layers_, opt_.features_path);
    compare_extract_attrs(opt_.features_path);
  }
  if (from_images) {
    if (!h5::is_hdf5(opt_.run_features_path))
      throw ConfigError("synth needs " + opt_.run_features_path +
                        " to rebuild the network features were extracted with (images without features)");
    compare_extract_attrs(opt_.run_features_path);
    const auto run_layers = feature_file_layers(opt_.run_features_path);
    model_.check_layout(run_layers, opt_.run_features_path);
    try {
      network_ = std::make_unique<extract::FeatureModel>(
          extract::FeatureModel::from_features_file(opt_.run_features_path, model_.layers(), opt_.device));
    } catch (const ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      throw ConfigError("synth: cannot rebuild the feature network from " + opt_.run_features_path + ": " +
                        e.what());
    }
    std::vector<std::pair<std::string, std::int64_t>> planned;
    for (const auto& p : network_->plans()) planned.emplace_back(p.layer, p.out_dim);
    model_.check_layout(planned, "the network rebuilt from " + opt_.run_features_path);
  }
}

at::Tensor FeatureSource::features(std::int64_t row0, std::int64_t row1) {
  const std::int64_t n = row1 - row0, p = model_.n_features();
  at::Tensor out = at::empty({n, p}, at::kFloat);
  last_aug_.assign(static_cast<size_t>(n * 5), 0);
  // Rows from the features file: each model layer's columns, contiguous row runs read at once.
  std::vector<std::int64_t> file_rows, file_pos;
  for (std::int64_t i = row0; i < row1; ++i)
    if (rows_.feature_row[static_cast<size_t>(i)] >= 0) {
      file_rows.push_back(rows_.feature_row[static_cast<size_t>(i)]);
      file_pos.push_back(i - row0);
    }
  if (!file_rows.empty()) {
    auto f = h5::File::open(opt_.features_path, h5::Mode::Read);
    for (size_t l = 0; l < model_.layers().size(); ++l) {
      const auto width = model_.layer_width(l);
      const auto offset = model_.layer_offset(l);
      auto block = read_row_list<float>(f.dataset("features/" + model_.layers()[l]), file_rows);
      auto t = at::from_blob(block.data(), {static_cast<std::int64_t>(file_rows.size()), width}, at::kFloat);
      auto pos = at::from_blob(file_pos.data(), {static_cast<std::int64_t>(file_pos.size())}, at::kLong);
      out.narrow(1, offset, width).index_copy_(0, pos, t);
    }
  }
  // Rows from images (new images, augmented copies): preprocessed exactly as extract does, then the network.
  std::vector<std::int64_t> image_pos;
  for (std::int64_t i = row0; i < row1; ++i)
    if (rows_.feature_row[static_cast<size_t>(i)] < 0) image_pos.push_back(i - row0);
  if (!image_pos.empty()) {
    const int s = network_->input_size();
    std::vector<float> pixels(image_pos.size() * 3 * static_cast<size_t>(s) * s);
    for (size_t k = 0; k < image_pos.size(); ++k) {
      const auto row = static_cast<size_t>(row0 + image_pos[k]);
      image::RgbImage img = images_->set->load(rows_.image_index[row]);
      if (rows_.copy[row] > 0) {
        auto a = plan_augmentation(opt_.seed, rows_.image_index[row], rows_.copy[row], img.width, img.height);
        img = apply_augmentation(img, a);
        auto* aug = last_aug_.data() + image_pos[k] * 5;
        aug[0] = a.flip;
        aug[1] = a.x0;
        aug[2] = a.y0;
        aug[3] = a.width;
        aug[4] = a.height;
      }
      image::preprocess(img, s, network_->normalization(),
                        pixels.data() + k * 3 * static_cast<size_t>(s) * s);
    }
    c10::InferenceMode guard;
    const bool cuda = opt_.device == "cuda";
    at::Tensor x =
        at::from_blob(pixels.data(), {static_cast<std::int64_t>(image_pos.size()), 3, s, s}, at::kFloat);
    if (cuda) x = x.to(at::kCUDA);
    at::Tensor feats = network_->features(x).cpu().contiguous();
    auto pos = at::from_blob(image_pos.data(), {static_cast<std::int64_t>(image_pos.size())}, at::kLong);
    out.index_copy_(0, pos, feats);
  }
  return out;
}

}  // namespace deepvox::synth
