// Stimulus lists: manifest CSVs, HDF5 image bricks, and the one set of stimulus-id rules that import
// and extract share (run-files.md "Stimulus ids").
//
// A manifest is a CSV with a header line (RFC 4180: comma separated, fields may be quoted with "",
// a doubled "" inside quotes is a quote, quoted fields may span lines; a UTF-8 BOM is skipped).
// Columns are found by name: `stimulus_id` and `path` are required, `category` is optional, any other
// column (source, licence, ...) is kept in Entry::fields and never used as a feature. Relative paths
// are resolved against the manifest's folder. Duplicate ids, missing columns, wrong field counts and
// empty ids or paths are errors naming the file and line.
//
// An image brick is an HDF5 dataset of uint8 [N, H, W, 3] (NSD's nsd_stimuli.hdf5 `imgBrick`).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/image.h"

namespace deepvox {

// Bad manifest or brick; the message names the file (and line).
struct ManifestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- Stimulus ids (run-files.md). Import and extract both call these. ----
// BOLD5000: the image file name with its extension, directories and the `rep_` prefix removed.
std::string stimulus_id_bold5000(const std::string& file_name);
// NSD (and Algonauts, after mapping its index): "nsd-" + the 1-based 73k id padded to 5 digits.
std::string stimulus_id_nsd(std::int64_t nsd_id_one_based);
// BData: the stimulus_id value printed with %.6f.
std::string stimulus_id_bdata(double value);
// Image brick row (0-based): NSD's brick -> stimulus_id_nsd(row + 1); any other -> the row, 6 digits.
std::string stimulus_id_brick_row(std::int64_t row, bool nsd_brick);

// ---- CSV ----
// Parses RFC 4180 text into records; line_of_record[i] is the 1-based line where record i starts.
// Blank lines are skipped. `name` is used in errors.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& name,
                                                std::vector<int>* line_of_record = nullptr);
// Quotes a field when it holds a comma, quote, CR or LF.
std::string csv_field(const std::string& value);

struct ManifestEntry {
  std::string id;
  std::string path;      // resolved: absolute, or relative to the working directory if the manifest's was
  std::string category;  // "" when the column is absent or the cell empty
  int line = 0;          // 1-based line in the CSV
  std::map<std::string, std::string> fields;  // every column by header name, as written
};

struct Manifest {
  std::string file;
  std::vector<std::string> columns;  // header names in file order
  std::vector<ManifestEntry> entries;
  bool has_category = false;
};

Manifest read_manifest(const std::string& csv_path);
// Writes a manifest: `columns` is the header; each row has one value per column (quoted as needed).
void write_manifest(const std::string& csv_path, const std::vector<std::string>& columns,
                    const std::vector<std::vector<std::string>>& rows);

// ---- HDF5 image brick ----
class ImageBrick {
 public:
  // dataset: name inside the file (NSD: imgBrick). It must be uint8 [N, H, W, 3] (or [N, H, W]).
  ImageBrick(const std::string& path, const std::string& dataset = "imgBrick");
  ~ImageBrick();
  ImageBrick(ImageBrick&&) noexcept;
  ImageBrick& operator=(ImageBrick&&) noexcept;

  std::int64_t size() const { return n_; }
  int height() const { return h_; }
  int width() const { return w_; }
  // NSD's brick: the file is named nsd_stimuli.hdf5, or the dataset or file carries the attribute
  // `stimulus_id_scheme` = "nsd".
  bool is_nsd() const { return nsd_; }
  std::vector<std::string> ids() const;
  image::RgbImage read(std::int64_t row) const;
  // True when rows are read straight from the file (a contiguous, unfiltered dataset), so read() may be
  // called from any thread. Otherwise reads go through HDF5, which this build does not make thread-safe:
  // then call read() only from a thread that no other HDF5 call runs beside.
  bool thread_safe() const { return direct_offset_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_, dataset_;
  std::int64_t n_ = 0;
  int h_ = 0, w_ = 0, c_ = 3;
  bool nsd_ = false;
  std::int64_t direct_offset_ = -1;  // byte offset of the raw data, -1 = read through HDF5
  struct Hdf5;                       // the open file/dataset for the HDF5 path
  std::unique_ptr<Hdf5> hdf5_;
};

// ---- Either kind, behind one interface (what extract iterates over) ----
class StimulusSet {
 public:
  // A path ending in .csv is a manifest; an HDF5 file is an image brick (dataset `brick_dataset`).
  static StimulusSet open(const std::string& path, const std::string& brick_dataset = "imgBrick");
  std::int64_t size() const { return static_cast<std::int64_t>(ids_.size()); }
  const std::vector<std::string>& ids() const { return ids_; }
  const std::vector<std::string>& categories() const { return categories_; }  // "" when unknown
  bool is_brick() const { return static_cast<bool>(brick_); }
  // Decodes stimulus i (file or brick row) into RGB. Throws image::ImageError / ManifestError.
  image::RgbImage load(std::int64_t i) const;
  // Where stimulus i comes from, for messages ("path/x.jpg" or "brick.h5 row 12").
  std::string describe(std::int64_t i) const;
  bool thread_safe() const { return !brick_ || brick_->thread_safe(); }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<std::string> ids_, categories_, paths_;
  std::shared_ptr<ImageBrick> brick_;
};

}  // namespace deepvox
