// Datasets and groups of the HDF5 layer (io/h5.h): block I/O, strings, creation, listing.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "io/h5.h"
#include "io/h5_detail.h"

namespace deepvox::h5 {
using namespace detail;

// ---------------- Dataset ----------------
Shape Dataset::shape() const {
  Handle space(H5Dget_space(id()), "get dataspace of " + path_);
  int nd = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(nd, 0)));
  if (nd > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

std::string Dataset::type_name() const {
  Handle t(H5Dget_type(id()), "get type of " + path_);
  return type_description(t.id());
}

bool Dataset::is_string() const {
  Handle t(H5Dget_type(id()), "get type of " + path_);
  return H5Tget_class(t.id()) == H5T_STRING;
}

namespace {
// Selects the block in the file space and builds the matching memory space.
std::pair<Handle, Handle> select_block(const Dataset& d, const Block& b) {
  Shape s = d.shape();
  if (s.empty() || s.size() > 2) throw Error("HDF5: block I/O needs a 1-D or 2-D dataset: " + d.path());
  Handle fspace(H5Dget_space(d.id()), "get dataspace of " + d.path());
  std::int64_t cols = s.size() == 2 ? b.cols : 1;
  if (b.row0 < 0 || b.rows < 0 || b.row0 + b.rows > s[0] ||
      (s.size() == 2 && (b.col0 < 0 || cols < 0 || b.col0 + cols > s[1]))) {
    throw Error("HDF5: block rows [" + std::to_string(b.row0) + ", " + std::to_string(b.row0 + b.rows) +
                ") cols [" + std::to_string(b.col0) + ", " + std::to_string(b.col0 + cols) + ") is outside " +
                d.path());
  }
  hsize_t n = static_cast<hsize_t>(b.rows * cols);
  if (n == 0) {
    // An empty selection still takes part in collective calls.
    check(H5Sselect_none(fspace.id()), "select none");
    return {std::move(fspace), Handle(H5Screate_simple(1, &n, nullptr), "create empty space")};
  }
  if (s.size() == 1) {
    hsize_t start = static_cast<hsize_t>(b.row0), count = static_cast<hsize_t>(b.rows);
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, &start, nullptr, &count, nullptr), "select rows");
  } else {
    hsize_t start[2] = {static_cast<hsize_t>(b.row0), static_cast<hsize_t>(b.col0)};
    hsize_t count[2] = {static_cast<hsize_t>(b.rows), static_cast<hsize_t>(cols)};
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start, nullptr, count, nullptr), "select block");
  }
  return {std::move(fspace), Handle(H5Screate_simple(1, &n, nullptr), "create memory space")};
}
}  // namespace

template <typename T>
void Dataset::write_block(const Block& b, const T* data, Transfer mode) const {
  auto [fspace, mspace] = select_block(*this, b);
  Handle xfer = transfer_props(parallel_, mode);
  if (H5Sget_select_npoints(fspace.id()) == 0) check(H5Sselect_none(mspace.id()), "select none");
  check(H5Dwrite(id(), native_type<T>(), mspace.id(), fspace.id(), xfer.id(), data), "write " + path_);
}

template <typename T>
void Dataset::read_block(const Block& b, T* data) const {
  auto [fspace, mspace] = select_block(*this, b);
  Handle xfer = transfer_props(parallel_);
  if (H5Sget_select_npoints(fspace.id()) == 0) check(H5Sselect_none(mspace.id()), "select none");
  check(H5Dread(id(), native_type<T>(), mspace.id(), fspace.id(), xfer.id(), data), "read " + path_);
}

template <typename T>
std::vector<T> Dataset::read_rows(std::int64_t row0, std::int64_t rows) const {
  Shape s = shape();
  std::int64_t cols = s.size() > 1 ? s[1] : 1;
  std::vector<T> out(static_cast<size_t>(rows * cols));
  read_block<T>({row0, rows, 0, cols}, out.data());
  return out;
}

template <typename T>
std::vector<T> Dataset::read_all() const {
  Shape s = shape();
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  std::vector<T> out(static_cast<size_t>(n));
  if (n == 0) return out;
  Handle xfer = transfer_props(parallel_);
  check(H5Dread(id(), native_type<T>(), H5S_ALL, H5S_ALL, xfer.id(), out.data()), "read " + path_);
  return out;
}

template <typename T>
void Dataset::write_all(const std::vector<T>& data) const {
  Shape s = shape();
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  if (static_cast<std::int64_t>(data.size()) != n) throw Error("HDF5: size mismatch writing " + path_);
  bool root = is_root_of(*this);
  Handle fspace(H5Dget_space(id()), "get dataspace");
  hsize_t count = root ? static_cast<hsize_t>(n) : 0;
  Handle mspace(H5Screate_simple(1, &count, nullptr), "create memory space");
  if (!root || n == 0) {
    check(H5Sselect_none(fspace.id()), "select none");
    check(H5Sselect_none(mspace.id()), "select none");
  }
  Handle xfer = transfer_props(parallel_);
  check(H5Dwrite(id(), native_type<T>(), mspace.id(), fspace.id(), xfer.id(), data.data()), "write " + path_);
}

std::vector<std::string> Dataset::read_strings() const {
  Shape s = shape();
  size_t n = 1;
  for (auto d : s) n *= static_cast<size_t>(d);
  return read_string_data(id(), false, n);
}

// ---------------- Group ----------------
bool Group::exists(const std::string& rel) const {
  // Walk the path one link at a time: H5Lexists fails on a missing intermediate group.
  std::string acc;
  std::stringstream ss(rel);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    acc += (acc.empty() ? "" : "/") + part;
    if (H5Lexists(id(), acc.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

Group Group::group(const std::string& rel) const {
  if (!exists(rel)) throw Error("HDF5: " + path_ + " has no group '" + rel + "'");
  return Group(Handle(H5Gopen2(id(), rel.c_str(), H5P_DEFAULT), "open group " + rel), join_path(path_, rel),
               parallel_);
}

Group Group::create_group(const std::string& rel) const {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), "create link properties");
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set intermediate groups");
  // Track creation order so readers list members (e.g. layers) in the order they were written.
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), "create group properties");
  check(H5Pset_link_creation_order(gcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "creation order");
  return Group(
      Handle(H5Gcreate2(id(), rel.c_str(), lcpl.id(), gcpl.id(), H5P_DEFAULT), "create group " + rel),
      join_path(path_, rel), parallel_);
}

Group Group::require_group(const std::string& rel) const {
  return exists(rel) ? group(rel) : create_group(rel);
}

Dataset Group::dataset(const std::string& rel) const {
  if (!exists(rel)) throw Error("HDF5: " + path_ + " has no dataset '" + rel + "'");
  return Dataset(Handle(H5Dopen2(id(), rel.c_str(), H5P_DEFAULT), "open dataset " + rel),
                 join_path(path_, rel), parallel_);
}

template <typename T>
Dataset Group::create_dataset(const std::string& rel, const Shape& shape, const CreateOptions& opt) const {
  Handle space = make_dataspace(shape);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties");
  bool any_empty = std::any_of(shape.begin(), shape.end(), [](auto d) { return d == 0; });
  if (!opt.chunk.empty() && !any_empty) {
    std::vector<hsize_t> chunk(opt.chunk.begin(), opt.chunk.end());
    for (size_t i = 0; i < chunk.size() && i < shape.size(); ++i)
      chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(chunk[i], static_cast<hsize_t>(shape[i])));
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), "set chunking of " + rel);
    if (opt.deflate > 0 && !parallel_)
      check(H5Pset_deflate(dcpl.id(), static_cast<unsigned>(opt.deflate)), "deflate");
  }
  // Parallel files need early allocation; resume needs it too (stable, preallocated datasets).
  if (parallel_ || opt.allocate_early)
    check(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY), "alloc time");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), "create link properties");
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set intermediate groups");
  Handle d(H5Dcreate2(id(), rel.c_str(), native_type<T>(), space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
           "create dataset " + join_path(path_, rel));
  return Dataset(std::move(d), join_path(path_, rel), parallel_);
}

Dataset Group::write_strings(const std::string& rel, const std::vector<std::string>& values) const {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  Handle type = fixed_string_type(width);
  Handle space = make_dataspace({static_cast<std::int64_t>(values.size())});
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), "create link properties");
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "set intermediate groups");
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties");
  if (parallel_) check(H5Pset_alloc_time(dcpl.id(), H5D_ALLOC_TIME_EARLY), "alloc time");
  Handle d(H5Dcreate2(id(), rel.c_str(), type.id(), space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
           "create string dataset " + rel);
  Dataset ds(std::move(d), join_path(path_, rel), parallel_);
  std::vector<char> buf(width * values.size() + 1, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buf.begin() + i * width);
  bool root = is_root_of(ds);
  Handle fspace(H5Dget_space(ds.id()), "get dataspace");
  hsize_t count = root ? values.size() : 0;
  Handle mspace(H5Screate_simple(1, &count, nullptr), "create memory space");
  if (!root || values.empty()) {
    check(H5Sselect_none(fspace.id()), "select none");
    check(H5Sselect_none(mspace.id()), "select none");
  }
  Handle xfer = transfer_props(parallel_);
  check(H5Dwrite(ds.id(), type.id(), mspace.id(), fspace.id(), xfer.id(), buf.data()),
        "write strings " + rel);
  return ds;
}

template <typename T>
Dataset Group::write_array(const std::string& rel, const std::vector<T>& data, const Shape& shape) const {
  Dataset d = create_dataset<T>(rel, shape);
  d.write_all<T>(data);
  return d;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  H5G_info_t info;
  check(H5Gget_info(id(), &info), "get group info of " + path_);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char buf[1024];
    ssize_t n = H5Lget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof(buf), H5P_DEFAULT);
    if (n >= 0) names.emplace_back(buf);
  }
  return names;
}

void Group::remove(const std::string& rel) const {
  check(H5Ldelete(id(), rel.c_str(), H5P_DEFAULT), "remove '" + rel + "' from " + path_);
}

bool Group::is_group(const std::string& rel) const {
  H5O_info_t info;
  if (H5Oget_info_by_name(id(), rel.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

// ---------------- explicit instantiations ----------------
#define DEEPVOX_H5_INSTANTIATE_DATA(T)                                                                     \
  template void Dataset::write_block<T>(const Block&, const T*, Transfer) const;                           \
  template void Dataset::read_block<T>(const Block&, T*) const;                                            \
  template std::vector<T> Dataset::read_all<T>() const;                                                    \
  template void Dataset::write_all<T>(const std::vector<T>&) const;                                        \
  template std::vector<T> Dataset::read_rows<T>(std::int64_t, std::int64_t) const;                         \
  template Dataset Group::create_dataset<T>(const std::string&, const Shape&, const CreateOptions&) const; \
  template Dataset Group::write_array<T>(const std::string&, const std::vector<T>&, const Shape&) const;

DEEPVOX_H5_INSTANTIATE_DATA(float)
DEEPVOX_H5_INSTANTIATE_DATA(double)
DEEPVOX_H5_INSTANTIATE_DATA(std::int8_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::uint8_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::int16_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::uint16_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::int32_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::uint32_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::int64_t)
DEEPVOX_H5_INSTANTIATE_DATA(std::uint64_t)
#undef DEEPVOX_H5_INSTANTIATE_DATA

}  // namespace deepvox::h5
