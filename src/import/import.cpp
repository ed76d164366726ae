// The import stage entry (format dispatch, the stimulus manifest) and the helpers every reader
// shares (readers.h): config access, file search, tables, MPI error propagation and parallel session
// reading. The ROI label-table helpers live in read_nsd.cpp, next to NSD's tables.
#include "import/import.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/log.h"
#include "core/mpi.h"
#include "import/readers.h"
#include "import/responses_writer.h"

#if __has_include("import/virtual_subject.h")
#include "import/virtual_subject.h"
#define DEEPVOX_HAVE_VIRTUAL_SUBJECT 1
#endif

namespace fs = std::filesystem;

namespace deepvox::import {

// ---------------- stimulus ids ----------------
std::string strip_rep_prefix(const std::string& name) {
  return name.rfind("rep_", 0) == 0 ? name.substr(4) : name;
}

// ---------------- config helpers ----------------

std::string opt_str(const Config& cfg, const std::string& key, const std::string& fallback) {
  return cfg.has(key) ? cfg.str(key) : fallback;
}
std::vector<std::string> opt_strings(const Config& cfg, const std::string& key) {
  return cfg.has(key) ? cfg.strings(key) : std::vector<std::string>{};
}
std::vector<long> opt_integers(const Config& cfg, const std::string& key) {
  return cfg.has(key) ? cfg.integers(key) : std::vector<long>{};
}
bool opt_flag(const Config& cfg, const std::string& key, bool fallback) {
  return cfg.has(key) ? cfg.flag(key) : fallback;
}
double opt_real(const Config& cfg, const std::string& key, double fallback) {
  return cfg.has(key) ? cfg.real(key) : fallback;
}
std::string required_str(const Config& cfg, const std::string& key, const std::string& example) {
  std::string v = opt_str(cfg, key, "");
  if (v.empty()) throw ConfigError(key + " must be set (for example " + key + "=" + example + ")");
  return v;
}

std::string subject_or_only(const Config& cfg, const std::string& dir, const std::string& name_regex,
                            const std::string& example) {
  std::string subject = opt_str(cfg, "import.subject", "");
  if (!subject.empty()) return subject;
  std::set<std::string> found;
  std::regex re(name_regex);
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::smatch m;
      std::string name = e.path().filename().string();
      if (std::regex_match(name, m, re)) found.insert(m.size() > 1 ? m[1].str() : name);
    }
  if (found.size() == 1) return *found.begin();
  std::string list;
  for (const auto& f : found) list += (list.empty() ? "" : ", ") + f;
  throw ConfigError("import.subject must be set (for example import.subject=" + example + "): " +
                    (found.empty() ? "no subject found in " + dir : "several in " + dir + ": " + list));
}

// ---------------- files ----------------
bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}
bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::vector<std::string> find_files(const std::string& root, const std::string& name_regex) {
  std::vector<std::string> out;
  if (!is_dir(root)) return out;
  std::regex re(name_regex);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           root,
           fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied,
           ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec) && !name.empty() && name[0] == '.') {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && std::regex_match(name, re)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string locate(const std::string& root, const std::vector<std::string>& candidates,
                   const std::string& name, const std::string& what) {
  for (const auto& c : candidates)
    if (is_file(c) || is_dir(c)) return c;
  std::string escaped = std::regex_replace(name, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  auto found = find_files(root, escaped);
  if (!found.empty()) return found.front();
  std::string tried;
  for (const auto& c : candidates) tried += "\n  " + c;
  throw ImportError("cannot find " + what + " (" + name + ") under " + root + "; looked at:" + tried +
                    "\n  and searched the folder tree");
}

std::string file_stem(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".npy", ".h5", ".hdf5", ".csv", ".tsv", ".txt"}) {
    std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0)
      return name.substr(0, name.size() - e.size());
  }
  return name;
}

// ---------------- tables ----------------
namespace {
std::vector<std::string> split_line(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (sep == ',' && c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == sep && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}
}  // namespace

int Table::column(const std::string& name, bool required) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (size_t i = 0; i < header.size(); ++i)
    if (lower(header[i]) == lower(name)) return static_cast<int>(i);
  if (required) {
    std::string have;
    for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
    throw ImportError(path + ": no column '" + name + "' (columns: " + have + ")");
  }
  return -1;
}

Table read_table(const std::string& path, char sep) {
  std::ifstream in(path);
  if (!in) throw ImportError(path + ": cannot open");
  Table t;
  t.path = path;
  std::string line;
  bool first = true;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto cells = split_line(line, sep);
    for (auto& c : cells) {
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
    }
    if (first) {
      if (!cells.empty() && cells[0].rfind("\xEF\xBB\xBF", 0) == 0)
        cells[0] = cells[0].substr(3);  // UTF-8 BOM
      t.header = std::move(cells);
      first = false;
      continue;
    }
    if (cells.size() != t.header.size())
      throw ImportError(path + ": line " + std::to_string(line_no) + " has " + std::to_string(cells.size()) +
                        " fields, the header has " + std::to_string(t.header.size()));
    t.rows.push_back(std::move(cells));
  }
  if (first) throw ImportError(path + ": empty file (a header line is required)");
  return t;
}

std::int64_t parse_int(const std::string& s, const std::string& where) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);  // "3", "3.0" and "3e0" all name the integer 3
  if (s.empty() || *end != '\0' || v != std::floor(v))
    throw ImportError(where + ": '" + s + "' is not an integer");
  return static_cast<std::int64_t>(v);
}

double parse_real(const std::string& s, const std::string& where) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') throw ImportError(where + ": '" + s + "' is not a number");
  return v;
}

void index_stimuli(FmriDataset& ds, const std::vector<std::string>& trial_ids) {
  std::map<std::string, std::int64_t> row;
  ds.stimulus_ids.clear();
  ds.trial_stimulus.clear();
  for (const auto& id : trial_ids) {
    auto [it, fresh] = row.emplace(id, static_cast<std::int64_t>(ds.stimulus_ids.size()));
    if (fresh) ds.stimulus_ids.push_back(id);
    ds.trial_stimulus.push_back(it->second);
  }
}

void append_ijk(std::vector<std::int64_t>& ijk, std::int64_t flat, std::int64_t nx, std::int64_t ny) {
  ijk.push_back(flat % nx);
  ijk.push_back((flat / nx) % ny);
  ijk.push_back(flat / (nx * ny));
}

// ---------------- MPI ----------------
namespace {
void raise_typed(const std::string& error, bool config_error, MPI_Comm comm) {
  const int r = rank(comm), p = size(comm);
  int mine = error.empty() ? p : r, first = p;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == p) return;
  std::string msg = error;
  int meta[2] = {static_cast<int>(msg.size()), config_error ? 1 : 0};
  MPI_Bcast(meta, 2, MPI_INT, first, comm);
  msg.resize(static_cast<size_t>(meta[0]));
  MPI_Bcast(msg.data(), meta[0], MPI_CHAR, first, comm);
  if (meta[1]) throw ConfigError(msg);
  throw ImportError(msg);
}
}  // namespace

void raise_if_any(const std::string& error, MPI_Comm comm) { raise_typed(error, false, comm); }

void on_root(MPI_Comm comm, const std::function<void()>& fn) {
  std::string error;
  bool config_error = false;
  if (is_root(comm)) {
    try {
      fn();
    } catch (const ConfigError& e) {
      error = e.what();
      config_error = true;
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  raise_typed(error, config_error, comm);
}

void read_sessions(std::int64_t n_sessions, std::int64_t cols,
                   const std::function<std::vector<float>(std::int64_t)>& read, std::vector<float>& out,
                   MPI_Comm comm) {
  const int r = rank(comm), p = size(comm);
  const std::int64_t piece = std::int64_t{1} << 27;  // floats per message, well below MPI's int count
  // Rounds of p sessions: rank k reads session round*p + k, then rank 0 collects them in order, so a
  // rank holds one session at a time and the result is in session order at any rank count.
  for (std::int64_t round0 = 0; round0 < n_sessions; round0 += p) {
    std::vector<float> block;
    std::string error;
    const std::int64_t mine = round0 + r;
    if (mine < n_sessions) {
      try {
        block = read(mine);
        if (cols > 0 && block.size() % static_cast<size_t>(cols) != 0)
          throw ImportError("session " + std::to_string(mine) + " is not a whole number of rows");
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    raise_if_any(error, comm);
    for (int k = 0; k < p && round0 + k < n_sessions; ++k) {
      if (k == 0) {
        if (r == 0) out.insert(out.end(), block.begin(), block.end());
        continue;
      }
      if (r == k) {
        std::int64_t n = static_cast<std::int64_t>(block.size());
        MPI_Send(&n, 1, MPI_INT64_T, 0, 7, comm);
        for (std::int64_t o = 0; o < n; o += piece)
          MPI_Send(block.data() + o, static_cast<int>(std::min(piece, n - o)), MPI_FLOAT, 0, 8, comm);
      } else if (r == 0) {
        std::int64_t n = 0;
        MPI_Recv(&n, 1, MPI_INT64_T, k, 7, comm, MPI_STATUS_IGNORE);
        size_t at = out.size();
        out.resize(at + static_cast<size_t>(n));
        for (std::int64_t o = 0; o < n; o += piece)
          MPI_Recv(out.data() + at + o, static_cast<int>(std::min(piece, n - o)), MPI_FLOAT, k, 8, comm,
                   MPI_STATUS_IGNORE);
      }
    }
  }
}

// ---------------- the stage ----------------
namespace {
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// run_dir/stimuli/manifest.csv (stimulus_id,path,category; the demo's manifest lives there too), the
// manifest extract reads, when the reader found the image files. Stimuli without a file are left out
// with a warning.
std::string write_manifest(const Config& cfg, const FmriDataset& ds) {
  if (ds.stimulus_paths.empty()) return "";
  fs::path dir = fs::path(cfg.run_dir()) / "stimuli";
  fs::create_directories(dir);
  std::string path = (dir / "manifest.csv").string();
  std::ofstream out(path);
  out << "stimulus_id,path,category\n";
  std::int64_t missing = 0;
  for (size_t s = 0; s < ds.stimulus_ids.size(); ++s) {
    const std::string& file = ds.stimulus_paths[s];
    if (file.empty()) {
      ++missing;
      continue;
    }
    std::string category;
    if (!ds.category_index.empty() && ds.category_index[s] >= 0)
      category = ds.category_names[static_cast<size_t>(ds.category_index[s])];
    out << csv_cell(ds.stimulus_ids[s]) << "," << csv_cell(fs::absolute(file).string()) << ","
        << csv_cell(category) << "\n";
  }
  if (!out) throw ImportError("cannot write " + path);
  if (missing > 0)
    log::warn("import: {} of {} stimuli have no image file; {} lists the others", missing,
              ds.stimulus_ids.size(), path);
  log::info("import: wrote the stimulus manifest {}", path);
  return path;
}
}  // namespace

void run(const Config& cfg, MPI_Comm comm) {
  const std::string format = required_str(cfg, "import.format", "nsd");
  if (format == "virtual") {
#ifdef DEEPVOX_HAVE_VIRTUAL_SUBJECT
    build_virtual_subject(cfg, comm);
    return;
#else
    throw ConfigError("import.format=virtual: the demo's virtual subject is not built in this version");
#endif
  }
  using Reader = FmriDataset (*)(const Config&, MPI_Comm, ReaderExtras&);
  const std::map<std::string, Reader> readers = {
      {"bold5000", &read_bold5000}, {"bold5000_v2", &read_bold5000_v2}, {"nsd", &read_nsd},
      {"bdata", &read_bdata},       {"algonauts", &read_algonauts},     {"generic", &read_generic}};
  auto it = readers.find(format);
  if (it == readers.end())
    throw ConfigError("import.format: unknown format '" + format +
                      "' (bold5000, bold5000_v2, nsd, bdata, algonauts, generic, virtual)");
  required_str(cfg, "import.source", "/data/" + format);
  log::info("import: reading {} from {}", format, cfg.str("import.source"));

  ReaderExtras extras;
  FmriDataset ds = it->second(cfg, comm, extras);
  WriteOptions options;
  options.zscore_default = extras.zscore_default;
  options.split_rule = extras.split_rule;
  options.voxel_xyz = std::move(extras.voxel_xyz);
  options.stimulus_images = extras.stimulus_images;
  on_root(comm, [&] {
    std::string manifest = write_manifest(cfg, ds);
    if (!manifest.empty()) options.stimulus_images = manifest;
  });
  write_responses(std::move(ds), cfg, comm, options);
}

}  // namespace deepvox::import
