#include "reconstruct/latent_decoding.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"
#include "io/manifest.h"
#include "reconstruct/autoencoder.h"
#include "reconstruct/generator.h"
#include "reconstruct/image_tensor.h"

namespace deepvox::reconstruct {
namespace {

using fit::Mat;

std::string default_encoder_path(const std::string& generator) {
  std::filesystem::path p(generator);
  return (p.parent_path() / (p.stem().string() + "_encoder.pt")).string();
}

Mat<float> to_mat(const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kCPU).to(at::kFloat).contiguous();
  Mat<float> m(c.size(0), c.numel() / std::max<std::int64_t>(c.size(0), 1));
  std::copy_n(c.data_ptr<float>(), c.numel(), m.data());
  return m;
}

at::Tensor to_tensor(const Mat<float>& m) {
  return at::from_blob(const_cast<float*>(m.data()), {m.rows, m.cols}, at::kFloat).clone();
}

// Rows of a then rows of b.
Mat<float> stack(const Mat<float>& a, const Mat<float>& b) {
  Mat<float> out(a.rows + b.rows, a.cols);
  std::copy(a.v.begin(), a.v.end(), out.v.begin());
  std::copy(b.v.begin(), b.v.end(), out.v.begin() + static_cast<std::ptrdiff_t>(a.v.size()));
  return out;
}

// Pearson correlations between rows of two [n, d] tensors.
std::vector<double> row_correlations(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor x = a.to(at::kFloat).reshape({a.size(0), -1}).contiguous(),
             y = b.to(at::kFloat).reshape({b.size(0), -1}).contiguous();
  return correlation_matrix(x.data_ptr<float>(), y.data_ptr<float>(), x.size(0), x.size(1));
}

// Rank 0 trains the autoencoder on the training images when the generator does not exist yet.
void ensure_generator(const LatentOptions& o, const LatentInputs& in, const std::string& encoder,
                      std::uint64_t seed, MPI_Comm comm, LatentResult& r) {
  int exists = std::filesystem::exists(o.generator) ? 1 : 0;
  MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
  if (exists) return;
  double losses[2] = {0, 0};
  std::string error;
  if (is_root(comm)) {
    try {
      log::info(
          "reconstruct: training a {}-d conv autoencoder on {} training images at {} px for {} epochs -> {}",
          o.latent_dim, in.train_rows.size(), o.image_size, o.train_epochs, o.generator);
      const auto parent = std::filesystem::path(o.generator).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      AutoencoderOptions ao;
      ao.image_size = o.image_size;
      ao.latent_dim = o.latent_dim;
      ao.epochs = o.train_epochs;
      ao.seed = seed;
      const at::Tensor images = load_images(*in.stimuli, in.train_rows, o.image_size) / 255.0;
      const auto rep = train_autoencoder(images, ao, o.generator, encoder);
      losses[0] = rep.first_epoch_loss;
      losses[1] = rep.last_epoch_loss;
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty(), comm))
    throw std::runtime_error("reconstruct.latent_train: " +
                             (error.empty() ? std::string("failed on rank 0") : error));
  MPI_Bcast(losses, 2, MPI_DOUBLE, 0, comm);
  r.trained = true;
  r.train_first_loss = losses[0];
  r.train_last_loss = losses[1];
}

// Latents of the given rows, from the encoder or the HDF5 file.
Mat<float> true_latents(const LatentOptions& o, const Encoder* enc, const at::Tensor& images01,
                        const std::vector<std::string>& ids) {
  if (enc) {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> parts;
    for (std::int64_t b0 = 0; b0 < images01.size(0); b0 += 64)
      parts.push_back(enc->encode(resize_square(
          images01.narrow(0, b0, std::min<std::int64_t>(64, images01.size(0) - b0)), enc->image_size())));
    return to_mat(at::cat(parts, 0));
  }
  auto f = h5::File::open(o.latent_file, h5::Mode::Read);
  if (!f.exists("stimulus_ids") || !f.exists("latents"))
    throw std::runtime_error("reconstruct.latent_file: " + o.latent_file +
                             " needs /stimulus_ids and /latents [S, Z]");
  const auto rows = match_ids(ids, f.dataset("stimulus_ids").read_strings(),
                              "reconstruct.latent_file " + o.latent_file + " vs responses.h5");
  auto d = f.dataset("latents");
  if (d.shape().size() != 2) throw std::runtime_error("reconstruct.latent_file: /latents must be [S, Z]");
  Mat<float> out(static_cast<std::int64_t>(rows.size()), d.cols());
  for (size_t i = 0; i < rows.size(); ++i)
    d.read_block<float>({rows[i], 1, 0, d.cols()}, out.row(static_cast<std::int64_t>(i)));
  return out;
}

// PCA of the training pixels (rank 0, broadcast): mean [P], components [P, K], coefficients of train and
// test.
struct Pca {
  at::Tensor mean, components, train, test;
};
Pca pca_basis(const at::Tensor& train01, const at::Tensor& test01, std::int64_t k, MPI_Comm comm) {
  const std::int64_t n = train01.size(0), p = train01[0].numel();
  k = std::min<std::int64_t>(k, n - 1);
  std::vector<float> packed(static_cast<size_t>(p + p * k));
  if (is_root(comm)) {
    at::Tensor x = train01.reshape({n, p});
    at::Tensor mean = x.mean(0);
    at::Tensor xc = x - mean;
    // Kernel form (n << p): eigenvectors U of Xc Xc^T give components Xc^T U / sqrt(s).
    auto [evals, evecs] = at::linalg_eigh(at::matmul(xc, xc.t()).to(at::kDouble));
    at::Tensor s = evals.narrow(0, n - k, k).flip(0).clamp_min(1e-12);
    at::Tensor u = evecs.narrow(1, n - k, k).flip(1);
    at::Tensor comps = (at::matmul(xc.to(at::kDouble).t(), u) / s.sqrt()).to(at::kFloat).contiguous();
    std::copy_n(mean.contiguous().data_ptr<float>(), p, packed.data());
    std::copy_n(comps.data_ptr<float>(), p * k, packed.data() + p);
  }
  MPI_Bcast(packed.data(), static_cast<int>(packed.size()), MPI_FLOAT, 0, comm);
  Pca out;
  out.mean = at::from_blob(packed.data(), {p}, at::kFloat).clone();
  out.components = at::from_blob(packed.data() + p, {p, k}, at::kFloat).clone();
  out.train = at::matmul(train01.reshape({n, p}) - out.mean, out.components);
  out.test = at::matmul(test01.reshape({test01.size(0), p}) - out.mean, out.components);
  return out;
}

// Readout of a binary attribute along a linear axis of the latent space: Fisher's discriminant of the
// training latents, w = (S_w + g I)^-1 (m1 - m0) with a small ridge g (1e-3 of the mean within-class
// variance). The threshold is the LDA decision rule with the training class priors: halfway between the
// projected class means, shifted by -log(n1 / n0). (Halfway alone ignores the priors, and with an unbalanced
// attribute it does worse than always answering the majority class.)
void read_attribute(LatentMethod& m, const Mat<float>& train, const std::vector<std::uint8_t>& train_label,
                    const std::vector<std::uint8_t>& test_label) {
  const std::int64_t z = train.cols;
  at::Tensor x = to_tensor(train).to(at::kDouble);
  std::vector<std::int64_t> ones, zeros;
  for (std::int64_t i = 0; i < train.rows; ++i) (train_label[i] ? ones : zeros).push_back(i);
  if (ones.size() < 2 || zeros.size() < 2 || test_label.empty()) return;
  const at::Tensor x1 = x.index_select(0, at::tensor(ones)), x0 = x.index_select(0, at::tensor(zeros));
  const at::Tensor m1 = x1.mean(0), m0 = x0.mean(0);
  const at::Tensor c1 = x1 - m1, c0 = x0 - m0;
  at::Tensor sw = (at::matmul(c1.t(), c1) + at::matmul(c0.t(), c0)) / static_cast<double>(train.rows - 2);
  sw = sw + 1e-3 * sw.diagonal().mean() * at::eye(z, at::kDouble);
  const at::Tensor w = at::linalg_solve(sw, (m1 - m0).unsqueeze(1)).squeeze(1);
  const double log_prior_ratio =
      std::log(static_cast<double>(ones.size()) / static_cast<double>(zeros.size()));
  const double threshold = at::dot(w, (m1 + m0) / 2).item<double>() - log_prior_ratio;
  auto correct = [&](const Mat<float>& latents) {
    const at::Tensor proj = at::matmul(to_tensor(latents).to(at::kDouble), w);
    double c = 0;
    for (std::int64_t i = 0; i < latents.rows; ++i)
      c += (proj[i].item<double>() > threshold) == (test_label[i] != 0);
    return c;
  };
  const auto n = static_cast<std::int64_t>(test_label.size());
  double positives = 0;
  for (auto l : test_label) positives += l;
  const double hits = correct(m.decoded);
  m.attribute_accuracy = hits / static_cast<double>(n);
  m.attribute_ceiling = correct(m.truth) / static_cast<double>(n);
  m.attribute_chance = std::max(positives, static_cast<double>(n) - positives) / static_cast<double>(n);
  m.attribute_p = binomial_tail(static_cast<std::int64_t>(hits), n, m.attribute_chance);
}

void score(LatentMethod& m, const at::Tensor& rendered255, const at::Tensor& originals255) {
  m.latent_pairwise =
      pairwise_decoding(row_correlations(to_tensor(m.decoded), to_tensor(m.truth)), m.decoded.rows);
  m.image_pairwise = pairwise_decoding(row_correlations(rendered255, originals255), m.decoded.rows);
  m.images = tensor_bytes(rendered255);
}

}  // namespace

LatentResult decode_latents(const LatentOptions& o, const LatentInputs& in, std::int64_t block, bool rescale,
                            const std::string& device, std::uint64_t seed, MPI_Comm comm) {
  LatentResult r;
  r.generator = o.generator;
  r.encoder =
      !o.encoder.empty() ? o.encoder : (o.latent_file.empty() ? default_encoder_path(o.generator) : "");
  if (o.train) ensure_generator(o, in, r.encoder, seed, comm, r);
  const Generator gen(o.generator, device);
  r.latent_dim = gen.latent_dim();
  r.image_size = gen.image_size();
  const int s = r.image_size;
  std::unique_ptr<Encoder> enc;
  if (!r.encoder.empty()) enc = std::make_unique<Encoder>(r.encoder, device, s);
  log::info("reconstruct: latent decoding into {} ({}-d latents, {} px), training latents from {}",
            o.generator, r.latent_dim, s, enc ? r.encoder : o.latent_file);

  const at::Tensor train01 = load_images(*in.stimuli, in.train_rows, s) / 255.0;
  const at::Tensor test255 = load_images(*in.stimuli, in.test_rows, s);
  const at::Tensor test01 = test255 / 255.0;
  r.originals = tensor_bytes(test255);
  const DecodeDesign& design = *in.design;

  // Binary attribute labels (membership in the attribute categories).
  std::vector<std::uint8_t> train_label, test_label;
  std::vector<std::int64_t> attr_index;
  for (size_t c = 0; c < in.category_names.size(); ++c)
    if (std::find(o.attribute_categories.begin(), o.attribute_categories.end(), in.category_names[c]) !=
        o.attribute_categories.end())
      attr_index.push_back(static_cast<std::int64_t>(c));
  if (!attr_index.empty()) {
    auto label = [&](std::int64_t c) {
      return static_cast<std::uint8_t>(std::find(attr_index.begin(), attr_index.end(), c) !=
                                       attr_index.end());
    };
    for (auto c : in.train_category) train_label.push_back(label(c));
    for (auto c : in.test_category) test_label.push_back(label(c));
    r.attribute = test_label;
  } else {
    log::info(
        "reconstruct: no attribute readout (no category of the data is in reconstruct.latent_attribute)");
  }

  auto run_method = [&](const std::string& name, const Mat<float>& train_truth, const Mat<float>& test_truth,
                        const std::function<at::Tensor(const at::Tensor&)>& render) {
    LatentMethod m;
    m.name = name;
    const Mat<float> y = stack(train_truth, test_truth);
    auto loader = [&](std::int64_t c0, std::int64_t b) {
      Mat<float> out(y.rows, b);
      for (std::int64_t i = 0; i < y.rows; ++i) std::copy_n(y.row(i) + c0, b, out.row(i));
      return out;
    };
    Decoded d = decode_targets(design, y.cols, block, loader, comm, "latent " + name);
    if (rescale) rescale_to_training(d);
    m.decoded = std::move(d.test);
    m.truth = std::move(d.truth);
    m.lambda = std::move(d.lambda);
    at::Tensor rendered;
    {
      at::NoGradGuard no_grad;
      rendered = (render(to_tensor(m.decoded)).clamp(0, 1) * 255.0).to(at::kCPU);
    }
    score(m, rendered, test255);
    if (!test_label.empty()) read_attribute(m, train_truth, train_label, test_label);
    log::info(
        "reconstruct: latent decoding [{}]: pairwise {:.3f} in latent space, {:.3f} in image space; "
        "attribute {:.3f}",
        name, m.latent_pairwise.accuracy, m.image_pairwise.accuracy, m.attribute_accuracy);
    r.methods.push_back(std::move(m));
  };

  // The generator's latent space.
  const Mat<float> gen_train = true_latents(o, enc.get(), train01, in.train_ids);
  const Mat<float> gen_test = true_latents(o, enc.get(), test01, in.test_ids);
  if (gen_train.cols != r.latent_dim)
    throw std::runtime_error("reconstruct.latent: the training latents have " +
                             std::to_string(gen_train.cols) + " dimensions but generator " + o.generator +
                             " takes " + std::to_string(r.latent_dim));
  run_method("generator", gen_train, gen_test, [&](const at::Tensor& z) {
    std::vector<at::Tensor> parts;
    for (std::int64_t b0 = 0; b0 < z.size(0); b0 += 64)
      parts.push_back(
          resize_square(gen.render(z.narrow(0, b0, std::min<std::int64_t>(64, z.size(0) - b0))), s));
    return at::cat(parts, 0);
  });

  // The PCA baseline with as many components.
  const Pca pca = pca_basis(train01, test01, r.latent_dim, comm);
  run_method("pca", to_mat(pca.train), to_mat(pca.test), [&](const at::Tensor& c) {
    return (pca.mean + at::matmul(c, pca.components.t())).reshape({c.size(0), 3, s, s});
  });
  return r;
}

void write_latent(const h5::Group& root, const LatentResult& r, const std::vector<std::string>& test_ids) {
  h5::Group g = root.require_group("latent");
  g.write_attr("generator", r.generator);
  g.write_attr("encoder", r.encoder);
  g.write_attr<std::int64_t>("image_size", r.image_size);
  g.write_attr<std::int64_t>("latent_dim", r.latent_dim);
  g.write_attr<std::int64_t>("trained_here", r.trained ? 1 : 0);
  if (r.trained) {
    g.write_attr<double>("train_first_epoch_mse", r.train_first_loss);
    g.write_attr<double>("train_last_epoch_mse", r.train_last_loss);
  }
  const auto n = static_cast<std::int64_t>(test_ids.size());
  const std::int64_t s = r.image_size;
  g.write_strings("stimulus_ids", test_ids);
  g.write_array<std::uint8_t>("originals", r.originals, {n, s, s, 3});
  if (!r.attribute.empty()) g.write_vector<std::uint8_t>("attribute", r.attribute);
  std::vector<std::string> names;
  std::vector<double> latent_acc, latent_p, latent_perm, image_acc, image_p, image_perm, attr_acc,
      attr_ceiling, attr_chance, attr_p;
  for (const auto& m : r.methods) {
    h5::Group mg = g.require_group(m.name);
    mg.write_array<float>("decoded", m.decoded.v, {m.decoded.rows, m.decoded.cols});
    mg.write_array<float>("truth", m.truth.v, {m.truth.rows, m.truth.cols});
    mg.write_vector<double>("lambda", m.lambda);
    mg.write_array<std::uint8_t>("images", m.images, {n, s, s, 3});
    mg.write_vector<double>("latent_pairwise_per_image", m.latent_pairwise.per_item);
    mg.write_vector<double>("image_pairwise_per_image", m.image_pairwise.per_item);
    names.push_back(m.name);
    latent_acc.push_back(m.latent_pairwise.accuracy);
    latent_p.push_back(m.latent_pairwise.p_value);
    latent_perm.push_back(m.latent_pairwise.permutation_p);
    image_acc.push_back(m.image_pairwise.accuracy);
    image_p.push_back(m.image_pairwise.p_value);
    image_perm.push_back(m.image_pairwise.permutation_p);
    attr_acc.push_back(m.attribute_accuracy);
    attr_ceiling.push_back(m.attribute_ceiling);
    attr_chance.push_back(m.attribute_chance);
    attr_p.push_back(m.attribute_p);
  }
  // The side-by-side table (one entry per method; -1 = attribute not read out).
  h5::Group t = g.require_group("summary");
  t.write_strings("methods", names);
  t.write_vector<double>("latent_pairwise_accuracy", latent_acc);
  t.write_vector<double>("latent_pairwise_p_value", latent_p);
  t.write_vector<double>("latent_pairwise_permutation_p_value", latent_perm);
  t.write_vector<double>("image_pairwise_accuracy", image_acc);
  t.write_vector<double>("image_pairwise_p_value", image_p);
  t.write_vector<double>("image_pairwise_permutation_p_value", image_perm);
  t.write_vector<double>("attribute_accuracy", attr_acc);
  t.write_vector<double>("attribute_accuracy_true_latents", attr_ceiling);
  t.write_vector<double>("attribute_chance", attr_chance);
  t.write_vector<double>("attribute_p_value", attr_p);
  t.write_attr<std::int64_t>("pairwise_comparisons", n * (n - 1) / 2);
}

}  // namespace deepvox::reconstruct

namespace deepvox::reconstruct {

void write_latent_grid(const std::string& dir, const LatentResult& r) {
  std::filesystem::create_directories(dir);
  const int s = r.image_size;
  const auto per = static_cast<std::int64_t>(s) * s * 3;
  const std::int64_t n = std::min<std::int64_t>(8, static_cast<std::int64_t>(r.originals.size()) / per);
  auto image_at = [&](const std::vector<std::uint8_t>& bytes, std::int64_t i) {
    image::RgbImage img;
    img.width = img.height = s;
    img.pixels.assign(bytes.begin() + i * per, bytes.begin() + (i + 1) * per);
    return img;
  };
  std::vector<std::vector<image::RgbImage>> rows(1 + r.methods.size());
  for (std::int64_t i = 0; i < n; ++i) {
    rows[0].push_back(image_at(r.originals, i));
    for (size_t k = 0; k < r.methods.size(); ++k) rows[k + 1].push_back(image_at(r.methods[k].images, i));
  }
  if (n > 0) write_grid((std::filesystem::path(dir) / "latent.png").string(), rows);
}

}  // namespace deepvox::reconstruct
