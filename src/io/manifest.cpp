// Manifests, image bricks and stimulus ids (see manifest.h).
#include "io/manifest.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "io/h5.h"

namespace deepvox {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- stimulus ids

std::string stimulus_id_bold5000(const std::string& file_name) {
  std::string base = fs::path(file_name).filename().string();
  if (base.rfind("rep_", 0) == 0) base = base.substr(4);
  return base;
}

std::string stimulus_id_nsd(std::int64_t nsd_id_one_based) {
  if (nsd_id_one_based < 1) {
    throw ManifestError("NSD stimulus ids are 1-based; got " + std::to_string(nsd_id_one_based));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "nsd-%05lld", static_cast<long long>(nsd_id_one_based));
  return buf;
}

std::string stimulus_id_bdata(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", value);
  return buf;
}

std::string stimulus_id_brick_row(std::int64_t row, bool nsd_brick) {
  if (nsd_brick) return stimulus_id_nsd(row + 1);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(row));
  return buf;
}

// ---------------------------------------------------------------- CSV

std::vector<std::vector<std::string>> parse_csv(const std::string& text, const std::string& name,
                                                std::vector<int>* line_of_record) {
  std::vector<std::vector<std::string>> records;
  if (line_of_record) line_of_record->clear();
  std::size_t i = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;  // UTF-8 BOM
  int line = 1;
  const std::size_t n = text.size();
  while (i < n) {
    // One record.
    const int start_line = line;
    std::vector<std::string> record;
    std::string field;
    bool any = false;
    while (true) {
      field.clear();
      if (i < n && text[i] == '"') {  // quoted field
        ++i;
        while (true) {
          if (i >= n) {
            throw ManifestError(name + ":" + std::to_string(start_line) + ": unterminated quoted field");
          }
          const char ch = text[i++];
          if (ch == '"') {
            if (i < n && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (ch == '\n') ++line;
            field += ch;
          }
        }
        if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          throw ManifestError(name + ":" + std::to_string(line) + ": text after a closing quote");
        }
        any = true;
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
        if (!field.empty()) any = true;
      }
      record.push_back(field);
      if (i < n && text[i] == ',') {
        ++i;
        any = true;
        continue;
      }
      break;  // end of line or text
    }
    if (i < n && text[i] == '\r') ++i;
    if (i < n && text[i] == '\n') {
      ++i;
      ++line;
    }
    if (!any) continue;  // blank line
    records.push_back(std::move(record));
    if (line_of_record) line_of_record->push_back(start_line);
  }
  return records;
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char ch : value) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

Manifest read_manifest(const std::string& csv_path) {
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) throw ManifestError("manifest " + csv_path + ": file not found or unreadable");
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<int> lines;
  const auto records = parse_csv(ss.str(), csv_path, &lines);
  if (records.empty()) throw ManifestError("manifest " + csv_path + ": empty (a header line is required)");

  Manifest m;
  m.file = csv_path;
  for (const auto& h : records[0]) m.columns.push_back(trim(h));
  auto column = [&](const std::string& want, bool required) -> int {
    int found = -1;
    for (std::size_t c = 0; c < m.columns.size(); ++c) {
      if (m.columns[c] != want) continue;
      if (found >= 0) {
        throw ManifestError(csv_path + ":" + std::to_string(lines[0]) + ": column '" + want +
                            "' appears twice");
      }
      found = static_cast<int>(c);
    }
    if (found < 0 && required) {
      throw ManifestError(csv_path + ":" + std::to_string(lines[0]) + ": missing column '" + want +
                          "' (the header must name stimulus_id and path; category is optional)");
    }
    return found;
  };
  const int c_id = column("stimulus_id", true);
  const int c_path = column("path", true);
  const int c_cat = column("category", false);
  m.has_category = c_cat >= 0;

  const fs::path base = fs::path(csv_path).parent_path();
  std::unordered_map<std::string, int> first_line;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    const std::string where = csv_path + ":" + std::to_string(lines[r]) + ": ";
    if (rec.size() != m.columns.size()) {
      throw ManifestError(where + std::to_string(rec.size()) + " fields, but the header has " +
                          std::to_string(m.columns.size()));
    }
    ManifestEntry e;
    e.line = lines[r];
    e.id = rec[c_id];
    if (trim(e.id).empty()) throw ManifestError(where + "empty stimulus_id");
    const std::string raw_path = trim(rec[c_path]);
    if (raw_path.empty()) throw ManifestError(where + "empty path for stimulus '" + e.id + "'");
    const fs::path p(raw_path);
    e.path = (p.is_absolute() || base.empty() ? p : (base / p)).lexically_normal().string();
    if (c_cat >= 0) e.category = rec[c_cat];
    for (std::size_t c = 0; c < rec.size(); ++c) e.fields[m.columns[c]] = rec[c];
    auto [it, inserted] = first_line.emplace(e.id, e.line);
    if (!inserted) {
      throw ManifestError(where + "duplicate stimulus_id '" + e.id + "' (first on line " +
                          std::to_string(it->second) + ")");
    }
    m.entries.push_back(std::move(e));
  }
  if (m.entries.empty()) throw ManifestError("manifest " + csv_path + ": no stimuli after the header");
  return m;
}

void write_manifest(const std::string& csv_path, const std::vector<std::string>& columns,
                    const std::vector<std::vector<std::string>>& rows) {
  std::ofstream out(csv_path, std::ios::binary | std::ios::trunc);
  if (!out) throw ManifestError("manifest " + csv_path + ": cannot create");
  auto write_row = [&](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size(); ++c) out << (c ? "," : "") << csv_field(row[c]);
    out << '\n';
  };
  write_row(columns);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != columns.size()) {
      throw ManifestError("manifest " + csv_path + ": row " + std::to_string(r) + " has " +
                          std::to_string(rows[r].size()) + " values for " + std::to_string(columns.size()) +
                          " columns");
    }
    write_row(rows[r]);
  }
  out.flush();
  if (!out) throw ManifestError("manifest " + csv_path + ": write error");
}

// ---------------------------------------------------------------- image brick

// HDF5 state for bricks that cannot be read directly (chunked or filtered). HDF5 is not thread-safe
// here; the mutex at least serializes brick reads among themselves.
struct ImageBrick::Hdf5 {
  h5::File file;
  h5::Dataset dataset;
  std::mutex mutex;
};

ImageBrick::ImageBrick(ImageBrick&&) noexcept = default;
ImageBrick& ImageBrick::operator=(ImageBrick&&) noexcept = default;
ImageBrick::~ImageBrick() = default;

ImageBrick::ImageBrick(const std::string& path, const std::string& dataset) : path_(path), dataset_(dataset) {
  const std::string what = "image brick " + path + " dataset '" + dataset + "'";
  if (!fs::exists(path)) throw ManifestError("image brick " + path + ": file not found");
  if (!h5::is_hdf5(path)) throw ManifestError("image brick " + path + ": not an HDF5 file");
  hdf5_ = std::make_unique<Hdf5>();
  try {
    hdf5_->file = h5::File::open(path, h5::Mode::Read);
    if (!hdf5_->file.exists(dataset)) throw ManifestError(what + ": no such dataset");
    hdf5_->dataset = hdf5_->file.dataset(dataset);
  } catch (const h5::Error& e) {
    throw ManifestError(what + ": " + e.what());
  }
  const h5::Dataset& ds = hdf5_->dataset;
  const h5::Shape shape = ds.shape();
  if (!(shape.size() == 4 && (shape[3] == 3 || shape[3] == 1)) && shape.size() != 3) {
    std::string s;
    for (auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
    throw ManifestError(what + ": shape [" + s + "], expected uint8 [N, H, W, 3]");
  }
  const hid_t type = H5Dget_type(ds.id());
  const bool u8 =
      H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 && H5Tget_sign(type) == H5T_SGN_NONE;
  H5Tclose(type);
  if (!u8) throw ManifestError(what + ": element type " + ds.type_name() + ", expected uint8");
  n_ = shape[0];
  h_ = static_cast<int>(shape[1]);
  w_ = static_cast<int>(shape[2]);
  c_ = shape.size() == 4 ? static_cast<int>(shape[3]) : 1;

  auto says_nsd = [](const h5::Object& o) {
    return o.has_attr("stimulus_id_scheme") && o.read_attr_string("stimulus_id_scheme") == "nsd";
  };
  nsd_ = fs::path(path).filename() == "nsd_stimuli.hdf5" || says_nsd(ds) || says_nsd(hdf5_->file);

  // A contiguous, unfiltered, allocated dataset is read with plain file reads (thread-safe, no HDF5).
  const hid_t dcpl = H5Dget_create_plist(ds.id());
  const bool contiguous =
      H5Pget_layout(dcpl) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl) == 0 && H5Pget_external_count(dcpl) == 0;
  H5Pclose(dcpl);
  const haddr_t offset = H5Dget_offset(ds.id());
  if (contiguous && offset != HADDR_UNDEF) direct_offset_ = static_cast<std::int64_t>(offset);
  if (direct_offset_ >= 0) hdf5_.reset();  // close the file: reads no longer need HDF5
}

std::vector<std::string> ImageBrick::ids() const {
  std::vector<std::string> out(static_cast<std::size_t>(n_));
  for (std::int64_t r = 0; r < n_; ++r) out[r] = stimulus_id_brick_row(r, nsd_);
  return out;
}

image::RgbImage ImageBrick::read(std::int64_t row) const {
  if (row < 0 || row >= n_) {
    throw ManifestError("image brick " + path_ + ": row " + std::to_string(row) + " out of range [0, " +
                        std::to_string(n_) + ")");
  }
  const std::size_t row_bytes = static_cast<std::size_t>(h_) * w_ * c_;
  std::vector<std::uint8_t> raw(row_bytes);
  if (direct_offset_ >= 0) {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(direct_offset_ + static_cast<std::int64_t>(row_bytes) * row);
    if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(row_bytes))) {
      throw ManifestError("image brick " + path_ + ": read error at row " + std::to_string(row));
    }
  } else {
    std::lock_guard<std::mutex> lock(hdf5_->mutex);
    const hid_t ds = hdf5_->dataset.id();
    const hid_t fspace = H5Dget_space(ds);
    hsize_t start[4] = {static_cast<hsize_t>(row), 0, 0, 0};
    hsize_t count[4] = {1, static_cast<hsize_t>(h_), static_cast<hsize_t>(w_), static_cast<hsize_t>(c_)};
    herr_t st = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
    const hsize_t n = row_bytes;
    const hid_t mspace = H5Screate_simple(1, &n, nullptr);
    if (st >= 0) st = H5Dread(ds, H5T_NATIVE_UINT8, mspace, fspace, H5P_DEFAULT, raw.data());
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (st < 0)
      throw ManifestError("image brick " + path_ + ": HDF5 read failed at row " + std::to_string(row));
  }
  image::RgbImage img;
  img.width = w_;
  img.height = h_;
  if (c_ == 3) {
    img.pixels = std::move(raw);
  } else {
    img.pixels.resize(static_cast<std::size_t>(h_) * w_ * 3);
    for (std::size_t i = 0; i < raw.size(); ++i)
      img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = raw[i];
  }
  return img;
}

// ---------------------------------------------------------------- stimulus set

StimulusSet StimulusSet::open(const std::string& path, const std::string& brick_dataset) {
  StimulusSet s;
  s.source_ = path;
  if (!fs::exists(path)) throw ManifestError("stimulus list " + path + ": file not found");
  if (h5::is_hdf5(path)) {
    s.brick_ = std::make_shared<ImageBrick>(path, brick_dataset);
    s.ids_ = s.brick_->ids();
    s.categories_.assign(s.ids_.size(), "");
    return s;
  }
  const Manifest m = read_manifest(path);
  for (const auto& e : m.entries) {
    s.ids_.push_back(e.id);
    s.paths_.push_back(e.path);
    s.categories_.push_back(e.category);
  }
  return s;
}

image::RgbImage StimulusSet::load(std::int64_t i) const {
  if (brick_) return brick_->read(i);
  return image::decode_image_file(paths_.at(static_cast<std::size_t>(i)));
}

std::string StimulusSet::describe(std::int64_t i) const {
  if (brick_) return brick_->path() + " row " + std::to_string(i);
  return paths_.at(static_cast<std::size_t>(i));
}

}  // namespace deepvox
