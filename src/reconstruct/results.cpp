#include "reconstruct/results.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "reconstruct/image_tensor.h"

namespace deepvox::reconstruct {
namespace {

std::vector<float> to_float(const std::vector<std::uint8_t>& bytes) {
  return std::vector<float>(bytes.begin(), bytes.end());
}

image::RgbImage image_at(const std::vector<std::uint8_t>& images, std::int64_t i, int s) {
  image::RgbImage img;
  img.width = img.height = s;
  const auto per = static_cast<std::ptrdiff_t>(s) * s * 3;
  img.pixels.assign(images.begin() + i * per, images.begin() + (i + 1) * per);
  return img;
}

void write_identification(const h5::Group& g, const Identification& id) {
  g.write_attr<double>("accuracy", id.accuracy);
  g.write_attr<double>("p_value", id.p_value);
  g.write_attr<double>("permutation_p_value", id.permutation_p);
  g.write_attr<double>("correct", id.correct);
  g.write_attr<std::int64_t>("comparisons", id.comparisons);
}

}  // namespace

MethodScores score_method(const Reconstructions& r, const MethodImages& m) {
  MethodScores s;
  const auto n = static_cast<std::int64_t>(r.ids.size());
  std::vector<double> mean_r(static_cast<size_t>(n * n), 0.0);
  for (size_t l = 0; l < r.eval_layers.size(); ++l) {
    const auto corr =
        correlation_matrix(m.eval_features[l].data(), r.original_features[l].data(), n, r.eval_dims[l]);
    s.per_layer.push_back(pairwise_identification(corr, n));
    for (size_t k = 0; k < corr.size(); ++k) mean_r[k] += corr[k] / static_cast<double>(r.eval_layers.size());
  }
  s.overall = pairwise_identification(mean_r, n);
  const std::int64_t d = static_cast<std::int64_t>(r.image_size) * r.image_size * 3;
  const std::vector<float> rec = to_float(m.images), orig = to_float(r.originals);
  const auto pix = correlation_matrix(rec.data(), orig.data(), n, d);
  for (std::int64_t i = 0; i < n; ++i) s.pixel_r.push_back(pix[static_cast<size_t>(i * n + i)]);
  s.pixel = pairwise_identification(pix, n);
  return s;
}

void write_reconstructions(const h5::Group& root, const Reconstructions& r,
                           const std::vector<MethodScores>& scores) {
  const auto n = static_cast<std::int64_t>(r.ids.size());
  const std::int64_t s = r.image_size, m = static_cast<std::int64_t>(r.methods.size());
  root.write_strings("stimulus_ids", r.ids);
  root.write_vector<std::int64_t>("test_index", r.test_index);
  root.write_array<std::uint8_t>("originals", r.originals, {n, s, s, 3});
  // /images is the main method (multi-layer, with the prior when one is given); the others get a group each.
  for (std::int64_t k = 0; k < m; ++k) {
    const auto& meth = r.methods[static_cast<size_t>(k)];
    const std::string path = k == 0 ? "images" : meth.name + "/images";
    auto d = root.write_array<std::uint8_t>(path, meth.images, {n, s, s, 3});
    d.write_attr("method", meth.description);
  }

  std::vector<std::string> names;
  std::vector<double> acc, p, perm_p, pix_acc, pix_p, pix_mean;
  std::vector<double> layer_acc, pixel_r;
  std::vector<float> loss;
  for (std::int64_t k = 0; k < m; ++k) {
    const auto& sc = scores[static_cast<size_t>(k)];
    names.push_back(r.methods[static_cast<size_t>(k)].name);
    acc.push_back(sc.overall.accuracy);
    p.push_back(sc.overall.p_value);
    perm_p.push_back(sc.overall.permutation_p);
    pix_acc.push_back(sc.pixel.accuracy);
    pix_p.push_back(sc.pixel.p_value);
    double mean = 0;
    for (double v : sc.pixel_r) mean += v / static_cast<double>(std::max<std::int64_t>(n, 1));
    pix_mean.push_back(mean);
    for (const auto& id : sc.per_layer) layer_acc.push_back(id.accuracy);
    pixel_r.insert(pixel_r.end(), sc.pixel_r.begin(), sc.pixel_r.end());
    const auto& l = r.methods[static_cast<size_t>(k)].loss;
    loss.insert(loss.end(), l.begin(), l.end());
  }
  const auto nl = static_cast<std::int64_t>(r.eval_layers.size());
  h5::Group id = root.require_group("identification");
  id.write_attr("eval_network", r.eval_description);
  id.write_attr("similarity", "Pearson r of eval-network features, averaged over eval layers");
  id.write_strings("methods", names);
  id.write_strings("eval_layers", r.eval_layers);
  id.write_vector<double>("accuracy", acc);
  id.write_vector<double>("p_value", p);
  id.write_vector<double>("permutation_p_value", perm_p);
  id.write_vector<std::int64_t>("comparisons",
                                std::vector<std::int64_t>(static_cast<size_t>(m), n * (n - 1)));
  id.write_array<double>("per_layer_accuracy", layer_acc, {m, nl});
  std::vector<double> per_image;
  for (const auto& sc : scores)
    per_image.insert(per_image.end(), sc.overall.per_item.begin(), sc.overall.per_item.end());
  id.write_array<double>("per_image", per_image, {m, n});
  for (std::int64_t k = 0; k < m; ++k) {
    const auto& name = names[static_cast<size_t>(k)];
    const auto& sc = scores[static_cast<size_t>(k)];
    write_identification(id.require_group(name), sc.overall);
    // Scalar summaries on the group itself, for readers that only look at attributes.
    id.write_attr<double>(name + "_accuracy", sc.overall.accuracy);
    id.write_attr<double>(name + "_permutation_p_value", sc.overall.permutation_p);
    id.write_attr<double>(name + "_pixel_correlation", pix_mean[static_cast<size_t>(k)]);
  }

  h5::Group px = root.require_group("pixel");
  px.write_strings("methods", names);
  px.write_array<double>("correlation", pixel_r, {m, n});
  px.write_vector<double>("mean_correlation", pix_mean);
  px.write_vector<double>("identification_accuracy", pix_acc);
  px.write_vector<double>("identification_p_value", pix_p);

  root.require_group("optimization").write_array<float>("loss", loss, {m, n, r.iterations});
}

void write_decoding(const h5::Group& root, const std::vector<LayerDecoding>& layers) {
  h5::Group g = root.require_group("decoding");
  std::vector<std::string> names;
  std::vector<double> profile, pattern, ident, ident_p, ident_perm;
  std::vector<std::int64_t> voxels;
  for (const auto& l : layers) {
    h5::Group lg = g.require_group("layers/" + l.layer);
    lg.write_vector<double>("lambda", l.lambda);
    lg.write_vector<float>("cv_score", l.cv_score);
    lg.write_vector<std::int64_t>("voxels", l.voxels);
    lg.write_attr<double>("profile_r", l.scores.profile_r);
    lg.write_attr<double>("pattern_r", l.scores.pattern_r);
    lg.write_attr<double>("identification", l.scores.identification);
    lg.write_attr<double>("identification_p_value", l.scores.identification_p);
    lg.write_attr<double>("identification_permutation_p_value", l.scores.identification_perm_p);
    lg.write_attr<std::int64_t>("lambda_at_lower_edge", l.at_lower_edge);
    lg.write_attr<std::int64_t>("lambda_at_upper_edge", l.at_upper_edge);
    names.push_back(l.layer);
    profile.push_back(l.scores.profile_r);
    pattern.push_back(l.scores.pattern_r);
    ident.push_back(l.scores.identification);
    ident_p.push_back(l.scores.identification_p);
    ident_perm.push_back(l.scores.identification_perm_p);
    voxels.push_back(static_cast<std::int64_t>(l.voxels.size()));
  }
  h5::Group s = g.require_group("summary");
  s.write_attr("scores", "on every test stimulus, features z-scored by their training statistics");
  s.write_strings("layers", names);
  s.write_vector<double>("profile_r", profile);
  s.write_vector<double>("pattern_r", pattern);
  s.write_vector<double>("identification", ident);
  s.write_vector<double>("identification_p_value", ident_p);
  s.write_vector<double>("identification_permutation_p_value", ident_perm);
  s.write_vector<std::int64_t>("voxels", voxels);
}

void write_reconstruction_grids(const std::string& dir, const Reconstructions& r) {
  std::filesystem::create_directories(dir);
  const auto n = static_cast<std::int64_t>(r.ids.size());
  for (std::int64_t start = 0, page = 0; start < n; start += 8, ++page) {
    const std::int64_t end = std::min<std::int64_t>(n, start + 8);
    std::vector<std::vector<image::RgbImage>> rows(1 + r.methods.size());
    for (std::int64_t i = start; i < end; ++i) {
      rows[0].push_back(image_at(r.originals, i, r.image_size));
      for (size_t k = 0; k < r.methods.size(); ++k)
        rows[k + 1].push_back(image_at(r.methods[k].images, i, r.image_size));
    }
    char name[64];
    std::snprintf(name, sizeof(name), "reconstructions_%02lld.png", static_cast<long long>(page));
    write_grid((std::filesystem::path(dir) / name).string(), rows);
  }
}

}  // namespace deepvox::reconstruct
