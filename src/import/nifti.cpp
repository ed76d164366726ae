#include "import/nifti.h"

#include <nifti2_io.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace deepvox::import {
namespace {

struct ImageDeleter {
  void operator()(nifti_image* p) const { nifti_image_free(p); }
};

template <typename T>
void convert(const void* src, std::int64_t n, float* dst) {
  const T* s = static_cast<const T*>(src);
  for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);
}

}  // namespace

Volume read_nifti(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error("NIfTI file " + path + ": no such file");
  nifti_set_debug_level(0);  // our own message below names the file and the problem
  std::unique_ptr<nifti_image, ImageDeleter> nim(nifti_image_read(path.c_str(), 1));
  if (!nim || !nim->data)
    throw std::runtime_error("NIfTI file " + path +
                             ": cannot read (not NIfTI-1/2, or truncated/corrupt data)");
  if (nim->nu > 1 || nim->nv > 1 || nim->nw > 1)
    throw std::runtime_error("NIfTI file " + path + ": has more than 4 dimensions");

  Volume v;
  v.nx = nim->nx;
  v.ny = std::max<std::int64_t>(nim->ny, 1);
  v.nz = std::max<std::int64_t>(nim->nz, 1);
  v.nt = std::max<std::int64_t>(nim->nt, 1);
  const std::int64_t n = v.nx * v.ny * v.nz * v.nt;
  if (n != static_cast<std::int64_t>(nim->nvox))
    throw std::runtime_error("NIfTI file " + path + ": inconsistent dimensions");
  v.data.resize(static_cast<size_t>(n));
  float* d = v.data.data();
  switch (nim->datatype) {
    case NIFTI_TYPE_FLOAT32:
      std::memcpy(d, nim->data, sizeof(float) * static_cast<size_t>(n));
      break;
    case NIFTI_TYPE_FLOAT64:
      convert<double>(nim->data, n, d);
      break;
    case NIFTI_TYPE_INT8:
      convert<std::int8_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_UINT8:
      convert<std::uint8_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_INT16:
      convert<std::int16_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_UINT16:
      convert<std::uint16_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_INT32:
      convert<std::int32_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_UINT32:
      convert<std::uint32_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_INT64:
      convert<std::int64_t>(nim->data, n, d);
      break;
    case NIFTI_TYPE_UINT64:
      convert<std::uint64_t>(nim->data, n, d);
      break;
    default:
      throw std::runtime_error("NIfTI file " + path + ": unsupported data type code " +
                               std::to_string(nim->datatype));
  }
  // scl_slope = 0 means "no scaling" in the NIfTI standard.
  if (nim->scl_slope != 0.0 && (nim->scl_slope != 1.0 || nim->scl_inter != 0.0)) {
    const float a = static_cast<float>(nim->scl_slope), b = static_cast<float>(nim->scl_inter);
    for (std::int64_t i = 0; i < n; ++i) d[i] = d[i] * a + b;
  }
  const nifti_dmat44* m =
      nim->sform_code > 0 ? &nim->sto_xyz : (nim->qform_code > 0 ? &nim->qto_xyz : nullptr);
  if (m) {
    v.has_affine = true;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) v.affine[static_cast<size_t>(4 * r + c)] = m->m[r][c];
  }
  return v;
}

}  // namespace deepvox::import
