#include "io/h5.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <sstream>

#include "io/h5_detail.h"

namespace deepvox::h5 {
namespace detail {

// Every C call is checked where it is made; a negative return becomes an Error naming what failed.
herr_t check(herr_t status, const std::string& what) {
  if (status < 0) throw Error("HDF5: " + what);
  return status;
}

Handle make_dataspace(const Shape& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  if (dims.empty()) return Handle(H5Screate(H5S_SCALAR), "create scalar dataspace");
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "create dataspace");
}

Handle fixed_string_type(size_t width) {
  Handle t(H5Tcopy(H5T_C_S1), "copy string type");
  check(H5Tset_size(t.id(), std::max<size_t>(width, 1)), "set string size");
  check(H5Tset_strpad(t.id(), H5T_STR_NULLPAD), "set string padding");
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "set string charset");
  return t;
}

// Transfer properties: collective (or independent) MPI-IO for parallel files.
Handle transfer_props(bool parallel, Transfer mode) {
  Handle p(H5Pcreate(H5P_DATASET_XFER), "create transfer properties");
  if (parallel)
    check(
        H5Pset_dxpl_mpio(p.id(), mode == Transfer::collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT),
        "set MPI-IO transfer mode");
  return p;
}

bool is_root_of(const Object& o) {
  if (!o.parallel()) return true;
  // A parallel object's file communicator is needed; the file id gives access to it.
  hid_t fid = H5Iget_file_id(o.id());
  hid_t fapl = H5Fget_access_plist(fid);
  MPI_Comm comm = MPI_COMM_WORLD;
  MPI_Info info = MPI_INFO_NULL;
  bool root = true;
  if (H5Pget_fapl_mpio(fapl, &comm, &info) >= 0) {
    int r = 0;
    MPI_Comm_rank(comm, &r);
    root = r == 0;
    MPI_Comm_free(&comm);
    if (info != MPI_INFO_NULL) MPI_Info_free(&info);
  }
  H5Pclose(fapl);
  H5Fclose(fid);
  return root;
}

std::string join_path(const std::string& base, const std::string& rel) {
  if (base.empty() || base == "/") return "/" + rel;
  return base + "/" + rel;
}

// Reads strings of any kind (fixed or variable length) from a dataset or attribute.
std::vector<std::string> read_string_data(hid_t obj, bool is_attr, size_t count) {
  Handle ftype(is_attr ? H5Aget_type(obj) : H5Dget_type(obj), "get string type");
  std::vector<std::string> out(count);
  if (H5Tis_variable_str(ftype.id()) > 0) {
    Handle mtype(H5Tcopy(H5T_C_S1), "copy string type");
    check(H5Tset_size(mtype.id(), H5T_VARIABLE), "set variable size");
    check(H5Tset_cset(mtype.id(), H5Tget_cset(ftype.id())), "set charset");
    std::vector<char*> ptrs(count, nullptr);
    if (is_attr) {
      check(H5Aread(obj, mtype.id(), ptrs.data()), "read variable-length string attribute");
    } else {
      check(H5Dread(obj, mtype.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()),
            "read variable-length strings");
    }
    for (size_t i = 0; i < count; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    Handle space(is_attr ? H5Aget_space(obj) : H5Dget_space(obj), "get dataspace");
    H5Dvlen_reclaim(mtype.id(), space.id(), H5P_DEFAULT, ptrs.data());
    return out;
  }
  size_t width = H5Tget_size(ftype.id());
  Handle mtype(H5Tcopy(H5T_C_S1), "copy string type");
  check(H5Tset_size(mtype.id(), width), "set string size");
  check(H5Tset_cset(mtype.id(), H5Tget_cset(ftype.id())), "set charset");
  check(H5Tset_strpad(mtype.id(), H5T_STR_NULLPAD), "set padding");
  std::vector<char> buf(width * count + 1, '\0');
  if (is_attr) {
    check(H5Aread(obj, mtype.id(), buf.data()), "read string attribute");
  } else {
    check(H5Dread(obj, mtype.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "read strings");
  }
  for (size_t i = 0; i < count; ++i) {
    const char* s = buf.data() + i * width;
    out[i] = std::string(s, strnlen(s, width));
    // Space-padded strings (MATLAB, some Fortran tools) lose their padding.
    if (H5Tget_strpad(ftype.id()) == H5T_STR_SPACEPAD) {
      out[i].erase(out[i].find_last_not_of(' ') + 1);
    }
  }
  return out;
}

std::string type_description(hid_t t) {
  switch (H5Tget_class(t)) {
    case H5T_FLOAT:
      return "float" + std::to_string(8 * H5Tget_size(t));
    case H5T_INTEGER:
      return std::string(H5Tget_sign(t) == H5T_SGN_NONE ? "uint" : "int") +
             std::to_string(8 * H5Tget_size(t));
    case H5T_STRING:
      return H5Tis_variable_str(t) > 0 ? "string[vlen]" : "string[" + std::to_string(H5Tget_size(t)) + "]";
    default:
      return "other";
  }
}

bool unwinding_must_not_block() {
  int initialized = 0, finalized = 0, ranks = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return false;
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  return ranks > 1;
}

}  // namespace detail
using namespace detail;

// ---------------- Handle ----------------
Handle::Handle(hid_t id, const std::string& what) : id_(id) {
  if (id < 0) throw Error("HDF5: cannot " + what);
}
Handle::Handle(const Handle& other) : id_(other.id_) {
  if (valid()) H5Iinc_ref(id_);
}
Handle& Handle::operator=(const Handle& other) {
  if (this != &other) {
    Handle copy(other);
    std::swap(id_, copy.id_);
  }
  return *this;
}
Handle::Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
Handle& Handle::operator=(Handle&& other) noexcept {
  std::swap(id_, other.id_);
  return *this;
}
Handle::~Handle() {
  // While an exception unwinds in a multi-rank job, closing may be collective (file close, metadata
  // flush) and would wait forever for ranks that are elsewhere: leave it to the abort that follows.
  if (std::uncaught_exceptions() > 0 && unwinding_must_not_block()) return;
  if (valid() && H5Iis_valid(id_) > 0) H5Idec_ref(id_);
}

template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t native_type<std::int8_t>() {
  return H5T_NATIVE_INT8;
}
template <>
hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
hid_t native_type<std::int16_t>() {
  return H5T_NATIVE_INT16;
}
template <>
hid_t native_type<std::uint16_t>() {
  return H5T_NATIVE_UINT16;
}
template <>
hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<std::uint32_t>() {
  return H5T_NATIVE_UINT32;
}
template <>
hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}

// ---------------- Object: attributes ----------------
template <typename T>
void Object::write_attr(const std::string& name, const T& value) const {
  write_attr<T>(name, std::vector<T>{value});
}

template <typename T>
void Object::write_attr(const std::string& name, const std::vector<T>& values) const {
  if (H5Aexists(id(), name.c_str()) > 0) check(H5Adelete(id(), name.c_str()), "delete attribute " + name);
  Handle space =
      values.size() == 1 ? make_dataspace({}) : make_dataspace({static_cast<std::int64_t>(values.size())});
  Handle attr(H5Acreate2(id(), name.c_str(), native_type<T>(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
              "create attribute " + name + " on " + path_);
  check(H5Awrite(attr.id(), native_type<T>(), values.data()), "write attribute " + name);
}

void Object::write_attr(const std::string& name, const std::string& value) const {
  if (H5Aexists(id(), name.c_str()) > 0) check(H5Adelete(id(), name.c_str()), "delete attribute " + name);
  Handle type = fixed_string_type(value.size());
  Handle space = make_dataspace({});
  Handle attr(H5Acreate2(id(), name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
              "create attribute " + name + " on " + path_);
  std::vector<char> buf(std::max<size_t>(value.size(), 1), '\0');
  std::copy(value.begin(), value.end(), buf.begin());
  check(H5Awrite(attr.id(), type.id(), buf.data()), "write attribute " + name);
}

bool Object::has_attr(const std::string& name) const { return H5Aexists(id(), name.c_str()) > 0; }

std::vector<std::string> Object::attr_names() const {
  std::vector<std::string> names;
  H5O_info_t info;
  check(H5Oget_info(id(), &info), "get object info of " + path_);
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    char buf[1024];
    ssize_t n = H5Aget_name_by_idx(id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, buf, sizeof(buf), H5P_DEFAULT);
    if (n >= 0) names.emplace_back(buf);
  }
  return names;
}

template <typename T>
std::vector<T> Object::read_attr_vector(const std::string& name) const {
  if (!has_attr(name)) throw Error("HDF5: " + path_ + " has no attribute '" + name + "'");
  Handle attr(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "open attribute " + name);
  Handle space(H5Aget_space(attr.id()), "get attribute space");
  hssize_t n = H5Sget_simple_extent_npoints(space.id());
  std::vector<T> out(static_cast<size_t>(n));
  check(H5Aread(attr.id(), native_type<T>(), out.data()), "read attribute " + name + " of " + path_);
  return out;
}

template <typename T>
T Object::read_attr(const std::string& name) const {
  auto v = read_attr_vector<T>(name);
  if (v.size() != 1) throw Error("HDF5: attribute " + name + " of " + path_ + " is not a scalar");
  return v[0];
}

std::string Object::read_attr_string(const std::string& name) const {
  if (!has_attr(name)) throw Error("HDF5: " + path_ + " has no attribute '" + name + "'");
  Handle attr(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "open attribute " + name);
  Handle space(H5Aget_space(attr.id()), "get attribute space");
  auto n = static_cast<size_t>(H5Sget_simple_extent_npoints(space.id()));
  auto v = read_string_data(attr.id(), true, n);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}

std::string Object::attr_as_text(const std::string& name) const {
  Handle attr(H5Aopen(id(), name.c_str(), H5P_DEFAULT), "open attribute " + name);
  Handle type(H5Aget_type(attr.id()), "get attribute type");
  H5T_class_t cls = H5Tget_class(type.id());
  std::ostringstream os;
  if (cls == H5T_STRING) return read_attr_string(name);
  if (cls == H5T_FLOAT) {
    auto v = read_attr_vector<double>(name);
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  } else if (cls == H5T_INTEGER) {
    auto v = read_attr_vector<std::int64_t>(name);
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  } else {
    os << "<" << type_description(type.id()) << ">";
  }
  std::string s = os.str();
  return s.find(',') != std::string::npos ? "[" + s + "]" : s;
}

// ---------------- File ----------------
namespace {
File open_file(const std::string& path, Mode mode, hid_t fapl, const std::string& what) {
  hid_t id = -1;
  H5E_BEGIN_TRY {
    if (mode == Mode::Create) {
      id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    } else {
      id = H5Fopen(path.c_str(), mode == Mode::Read ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl);
    }
  }
  H5E_END_TRY;
  if (id < 0) {
    std::string why = mode == Mode::Create ? "cannot create" : "cannot open";
    if (mode != Mode::Create && !std::filesystem::exists(path))
      why += " (no such file)";
    else if (mode != Mode::Create && !is_hdf5(path))
      why += " (not an HDF5 file)";
    throw Error(why + " " + what + " file " + path);
  }
  File f;
  static_cast<Object&>(f) = Object(Handle(id, "open " + path), "/", false);
  return f;
}
}  // namespace

File File::open(const std::string& path, Mode mode) { return open_file(path, mode, H5P_DEFAULT, "HDF5"); }

File File::open(const std::string& path, Mode mode, MPI_Comm comm) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), "create file access properties");
  check(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL), "set MPI-IO driver");
  check(H5Pset_all_coll_metadata_ops(fapl.id(), true), "collective metadata reads");
  check(H5Pset_coll_metadata_write(fapl.id(), true), "collective metadata writes");
  File f = open_file(path, mode, fapl.id(), "parallel HDF5");
  static_cast<Object&>(f) = Object(Handle(f.h_), "/", true);
  f.comm_ = comm;
  return f;
}

void File::flush() const { check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "flush " + path_); }

void File::close() {
  if (h_.valid()) {
    hid_t id = h_.id();
    // The MPI-IO driver refuses to close a file with open objects: close what handles still hold.
    ssize_t n = H5Fget_obj_count(
        id, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
    if (n > 0) {
      std::vector<hid_t> open(static_cast<size_t>(n));
      H5Fget_obj_ids(id, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL,
                     open.size(), open.data());
      for (hid_t o : open) {
        // A group id may be the file's own root handle held elsewhere; closing by type keeps counts right.
        while (H5Iis_valid(o) > 0 && H5Iget_ref(o) > 0) {
          if (H5Idec_ref(o) <= 0) break;
        }
      }
    }
    H5Iinc_ref(id);  // keep the id alive past the Handle reset so H5Fclose reports errors
    h_ = Handle();
    check(H5Fclose(id), "close file");
  }
}

bool is_hdf5(const std::string& path) {
  if (!std::filesystem::exists(path)) return false;
  htri_t r = -1;
  H5E_BEGIN_TRY { r = H5Fis_hdf5(path.c_str()); }
  H5E_END_TRY;
  return r > 0;
}

// ---------------- explicit instantiations ----------------
#define DEEPVOX_H5_INSTANTIATE_ATTR(T)                                                  \
  template void Object::write_attr<T>(const std::string&, const T&) const;              \
  template void Object::write_attr<T>(const std::string&, const std::vector<T>&) const; \
  template T Object::read_attr<T>(const std::string&) const;                            \
  template std::vector<T> Object::read_attr_vector<T>(const std::string&) const;

DEEPVOX_H5_INSTANTIATE_ATTR(float)
DEEPVOX_H5_INSTANTIATE_ATTR(double)
DEEPVOX_H5_INSTANTIATE_ATTR(std::int8_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::uint8_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::int16_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::uint16_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::int32_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::uint32_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::int64_t)
DEEPVOX_H5_INSTANTIATE_ATTR(std::uint64_t)
#undef DEEPVOX_H5_INSTANTIATE_ATTR

}  // namespace deepvox::h5
