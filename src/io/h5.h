// Small RAII layer over the HDF5 C API (HighFive's shape, none of its size).
//
// A File is either serial (default driver) or parallel (MPI-IO driver on a communicator).
// In a parallel file, creating datasets/attributes is collective (every rank calls with the same
// arguments) and block reads/writes are collective too: every rank calls, each with its own block
// (an empty block is fine). Strings are stored fixed-length, null-padded (HDF5 1.10's MPI-IO driver
// refuses variable-length strings); readers accept both kinds.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace deepvox::h5 {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Owns one hid_t; closes it with the matching H5*close (H5Idec_ref) and never throws.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id, const std::string& what);  // throws Error if id < 0
  Handle(const Handle& other);
  Handle& operator=(const Handle& other);
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  ~Handle();
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Maps C++ element types to HDF5 native types.
template <typename T>
hid_t native_type();

using Shape = std::vector<std::int64_t>;

// A rectangular block of a 2-D dataset: rows [row0, row0+rows), columns [col0, col0+cols).
// For 1-D datasets only row0/rows are used.
struct Block {
  std::int64_t row0 = 0, rows = 0;
  std::int64_t col0 = 0, cols = 0;
};

// How a parallel file moves a block: collective (MPI-IO two-phase, aggregated by the library) or
// independent (each rank's own pwrites; faster for strided blocks from many ranks on one node).
enum class Transfer { collective, independent };

struct CreateOptions {
  Shape chunk;                  // empty: contiguous (the only layout parallel writes of big blocks like)
  int deflate = 0;              // gzip level; serial files only (HDF5 1.10 cannot write filters in parallel)
  bool allocate_early = false;  // preallocate storage (resume needs stable, flushed datasets)
};

class Object {
 public:
  Object() = default;
  Object(Handle h, std::string path, bool parallel)
      : h_(std::move(h)), path_(std::move(path)), parallel_(parallel) {}
  hid_t id() const { return h_.id(); }
  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }

  // Attributes (scalar, 1-D numeric, string). Writing is collective in a parallel file.
  template <typename T>
  void write_attr(const std::string& name, const T& value) const;
  template <typename T>
  void write_attr(const std::string& name, const std::vector<T>& values) const;
  void write_attr(const std::string& name, const std::string& value) const;
  void write_attr(const std::string& name, const char* value) const { write_attr(name, std::string(value)); }
  bool has_attr(const std::string& name) const;
  std::vector<std::string> attr_names() const;
  template <typename T>
  T read_attr(const std::string& name) const;
  template <typename T>
  std::vector<T> read_attr_vector(const std::string& name) const;
  std::string read_attr_string(const std::string& name) const;
  // Any attribute rendered as text (for `deepvox inspect`).
  std::string attr_as_text(const std::string& name) const;

 protected:
  Handle h_;
  std::string path_;
  bool parallel_ = false;
};

class Dataset : public Object {
 public:
  using Object::Object;
  Shape shape() const;
  std::int64_t rows() const { return shape().at(0); }
  std::int64_t cols() const {
    auto s = shape();
    return s.size() > 1 ? s[1] : 1;
  }
  std::string type_name() const;  // "float32", "int64", "string[12]", ...
  bool is_string() const;

  // Block I/O. Collective in a parallel file (every rank calls) unless a write asks for independent
  // MPI-IO, where each rank writes its block alone and a rank without one need not call.
  // data is row-major rows x cols.
  template <typename T>
  void write_block(const Block& b, const T* data, Transfer mode = Transfer::collective) const;
  template <typename T>
  void read_block(const Block& b, T* data) const;
  // Whole-dataset helpers (every rank reads all; in a parallel file rank 0 writes all).
  template <typename T>
  std::vector<T> read_all() const;
  template <typename T>
  void write_all(const std::vector<T>& data) const;
  // Reads rows [row0, row0+rows) of a 1-D or 2-D dataset, all columns.
  template <typename T>
  std::vector<T> read_rows(std::int64_t row0, std::int64_t rows) const;

  std::vector<std::string> read_strings() const;
};

class Group : public Object {
 public:
  using Object::Object;
  bool exists(const std::string& rel) const;
  Group group(const std::string& rel) const;          // open
  Group create_group(const std::string& rel) const;   // creates missing parents
  Group require_group(const std::string& rel) const;  // open or create
  Dataset dataset(const std::string& rel) const;
  template <typename T>
  Dataset create_dataset(const std::string& rel, const Shape& shape, const CreateOptions& opt = {}) const;
  // Fixed-length, null-padded strings, as wide as the longest (min 1).
  Dataset write_strings(const std::string& rel, const std::vector<std::string>& values) const;
  // Convenience: create and write a whole 1-D/2-D array (collective; rank 0 writes the data).
  template <typename T>
  Dataset write_array(const std::string& rel, const std::vector<T>& data, const Shape& shape) const;
  template <typename T>
  Dataset write_vector(const std::string& rel, const std::vector<T>& data) const {
    return write_array<T>(rel, data, {static_cast<std::int64_t>(data.size())});
  }
  // Children names (sorted by creation/name order as HDF5 lists them).
  std::vector<std::string> children() const;
  // Unlinks a child (collective in a parallel file), e.g. a resume record once the stage is done.
  void remove(const std::string& rel) const;
  bool is_group(const std::string& rel) const;
};

enum class Mode { Read, ReadWrite, Create /* truncate */ };

class File : public Group {
 public:
  // Serial file.
  static File open(const std::string& path, Mode mode);
  // Parallel file on comm (MPI-IO driver, collective metadata writes).
  static File open(const std::string& path, Mode mode, MPI_Comm comm);
  void flush() const;
  void close();  // collective in parallel; the destructor also closes
  MPI_Comm comm() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// True if path exists and HDF5 recognises it as an HDF5 file.
bool is_hdf5(const std::string& path);

}  // namespace deepvox::h5
