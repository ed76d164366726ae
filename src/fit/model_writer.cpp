#include "fit/model_writer.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"

namespace deepvox::fit {
namespace {

template <typename T>
std::vector<T> convert(const std::vector<double>& v) {
  std::vector<T> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
  return out;
}

template <typename T>
void write_typed(const h5::Group& g, const std::string& name, const h5::Shape& shape, const h5::Block& block,
                 const std::vector<double>& data) {
  h5::Dataset ds = g.create_dataset<T>(name, shape);
  auto typed = convert<T>(data);
  if (typed.empty()) typed.push_back(T(0));  // a valid pointer for a rank with nothing to write
  ds.write_block<T>(block, typed.data());
}

void write_any(const h5::Group& g, const std::string& name, const h5::Shape& shape, const h5::Block& block,
               const std::vector<double>& data, Stored type) {
  switch (type) {
    case Stored::Float32:
      return write_typed<float>(g, name, shape, block, data);
    case Stored::Float64:
      return write_typed<double>(g, name, shape, block, data);
    case Stored::Int64:
      return write_typed<std::int64_t>(g, name, shape, block, data);
    case Stored::UInt8:
      return write_typed<std::uint8_t>(g, name, shape, block, data);
  }
}

// Mean of values[i] over voxels where mask and valid are set and the value is finite (NaN if none).
double masked_mean(const std::vector<double>& values, const std::vector<std::uint8_t>& mask,
                   const std::vector<double>& valid) {
  double sum = 0;
  std::int64_t n = 0;
  for (size_t i = 0; i < values.size(); ++i)
    if (mask[i] && valid[i] > 0 && std::isfinite(values[i])) {
      sum += values[i];
      ++n;
    }
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

void write_voxel_field(const h5::Group& g, const std::string& name, const VoxelVec& v, Stored type) {
  // Each rank's entries are its PETSc ownership range, which is exactly its voxel blocks.
  PetscInt begin = 0, end = 0;
  petsc_check(VecGetOwnershipRange(v.vec(), &begin, &end), "VecGetOwnershipRange");
  PetscInt n = 0;
  petsc_check(VecGetSize(v.vec(), &n), "VecGetSize");
  write_any(g, name, {n}, {begin, end - begin, 0, 0}, v.local_values(), type);
}

void write_voxel_matrix(const h5::Group& g, const std::string& name,
                        const std::vector<const VoxelVec*>& fields, bool voxels_first, Stored type) {
  if (fields.empty()) throw std::logic_error("fit: write_voxel_matrix without fields");
  PetscInt begin = 0, end = 0, n = 0;
  petsc_check(VecGetOwnershipRange(fields[0]->vec(), &begin, &end), "VecGetOwnershipRange");
  petsc_check(VecGetSize(fields[0]->vec(), &n), "VecGetSize");
  const std::int64_t local = end - begin, nb = static_cast<std::int64_t>(fields.size());
  std::vector<double> buf(static_cast<size_t>(local * nb));
  for (std::int64_t b = 0; b < nb; ++b) {
    const auto v = fields[static_cast<size_t>(b)]->local_values();
    for (std::int64_t j = 0; j < local; ++j)
      buf[static_cast<size_t>(voxels_first ? j * nb + b : b * local + j)] = v[static_cast<size_t>(j)];
  }
  if (voxels_first) {
    write_any(g, name, {n, nb}, {begin, local, 0, nb}, buf, type);
  } else {
    write_any(g, name, {nb, n}, {0, nb, begin, local}, buf, type);
  }
}

void copy_extract_attributes(const std::string& features_path, const std::vector<std::string>& layers,
                             const h5::Group& dst) {
  auto f = h5::File::open(features_path, h5::Mode::Read);
  auto copy = [&](const h5::Object& src, const std::string& prefix) {
    for (const auto& name : src.attr_names()) {
      hid_t attr = H5Aopen(src.id(), name.c_str(), H5P_DEFAULT);
      if (attr < 0) continue;
      hid_t type = H5Aget_type(attr);
      const H5T_class_t cls = H5Tget_class(type);
      H5Tclose(type);
      H5Aclose(attr);
      const std::string out = prefix + name;
      if (cls == H5T_STRING) {
        dst.write_attr(out, src.read_attr_string(name));
      } else if (cls == H5T_FLOAT) {
        dst.write_attr(out, src.read_attr_vector<double>(name));
      } else if (cls == H5T_INTEGER) {
        dst.write_attr(out, src.read_attr_vector<std::int64_t>(name));
      }  // other classes (compound, references) are not extract's: skipped
    }
  };
  copy(f, "");
  for (const auto& l : layers) copy(f.dataset("features/" + l), l + ".");
}

void write_roi_summaries(const h5::Group& root, const RoiInputs& in, MPI_Comm comm) {
  if (!in.rois || in.rois->empty()) return;
  // Gathers are collective: every rank takes part, rank 0 gets the voxel-ordered fields.
  auto gather = [](const VoxelVec* v) { return v ? v->gather_to_root() : std::vector<double>{}; };
  const auto valid = gather(in.valid), test_r = gather(in.test_r), test_r2 = gather(in.test_r2);
  const auto cv = gather(in.cv_score), nc = gather(in.noise_ceiling), nr = gather(in.normalized_r);
  const auto best = gather(in.best_layer);
  std::vector<std::vector<double>> layer_r;
  for (const auto* v : in.per_layer_test_r) layer_r.push_back(gather(v));
  const std::int64_t nb = static_cast<std::int64_t>(layer_r.size());

  // Per ROI: n_voxels, n_valid, mean r, mean r2, mean cv, mean nc, mean normalized r, then B + B values.
  const size_t width = 7 + 2 * static_cast<size_t>(nb);
  std::vector<double> summary(in.rois->size() * width, std::numeric_limits<double>::quiet_NaN());
  if (is_root(comm)) {
    for (size_t k = 0; k < in.rois->size(); ++k) {
      const auto& mask = (*in.rois)[k].second;
      double* s = summary.data() + k * width;
      std::int64_t n = 0, n_valid = 0;
      for (size_t i = 0; i < mask.size(); ++i)
        if (mask[i]) {
          ++n;
          if (valid[i] > 0) ++n_valid;
        }
      s[0] = static_cast<double>(n);
      s[1] = static_cast<double>(n_valid);
      s[2] = masked_mean(test_r, mask, valid);
      s[3] = masked_mean(test_r2, mask, valid);
      s[4] = masked_mean(cv, mask, valid);
      if (!nc.empty()) s[5] = masked_mean(nc, mask, valid);
      if (!nr.empty()) s[6] = masked_mean(nr, mask, valid);
      for (std::int64_t b = 0; b < nb; ++b) {
        s[7 + b] = masked_mean(layer_r[static_cast<size_t>(b)], mask, valid);
        std::int64_t count = 0;
        for (size_t i = 0; i < mask.size(); ++i)
          if (mask[i] && valid[i] > 0 && best[i] == static_cast<double>(b)) ++count;
        s[7 + nb + b] = n_valid ? static_cast<double>(count) / static_cast<double>(n_valid) : 0.0;
      }
    }
  }
  MPI_Bcast(summary.data(), static_cast<int>(summary.size()), MPI_DOUBLE, 0, comm);

  for (size_t k = 0; k < in.rois->size(); ++k) {
    const std::string& name = (*in.rois)[k].first;
    const double* s = summary.data() + k * width;
    auto g = root.require_group("rois/" + name);
    g.write_vector<std::int64_t>("n_voxels", {static_cast<std::int64_t>(s[0])});
    g.write_vector<std::int64_t>("n_valid", {static_cast<std::int64_t>(s[1])});
    g.write_vector<double>("mean_test_r", {s[2]});
    g.write_vector<double>("mean_test_r2", {s[3]});
    g.write_vector<double>("mean_cv_score", {s[4]});
    if (in.noise_ceiling) g.write_vector<double>("mean_noise_ceiling", {s[5]});
    if (in.normalized_r) g.write_vector<double>("mean_normalized_r", {s[6]});
    std::string layer_note;
    if (nb > 0) {
      g.write_vector<double>("per_layer_mean_test_r", std::vector<double>(s + 7, s + 7 + nb));
      g.write_vector<double>("best_layer_fraction", std::vector<double>(s + 7 + nb, s + 7 + 2 * nb));
      std::int64_t top = 0;
      for (std::int64_t b = 1; b < nb; ++b)
        if (s[7 + nb + b] > s[7 + nb + top]) top = b;
      layer_note = fmt::format(", preferred layer {} ({:.0f}% of voxels)",
                               in.layer_names[static_cast<size_t>(top)], 100.0 * s[7 + nb + top]);
    }
    log::info("fit ROI {}: {} voxels ({} valid), mean test r {:.3f}, mean test R2 {:.3f}{}{}", name,
              static_cast<std::int64_t>(s[0]), static_cast<std::int64_t>(s[1]), s[2], s[3],
              in.normalized_r ? fmt::format(", mean normalized r {:.3f}", s[6]) : std::string(), layer_note);
  }
}

}  // namespace deepvox::fit
