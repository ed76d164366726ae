// Any responses matrix plus a CSV of stimulus ids, so data in no supported layout can still come in.
//   import.source   a .npy file (numpy.save) or an HDF5 file; rows are trials, columns voxels
//                   (import.transpose: true for voxels x trials)
//   import.dataset  the HDF5 dataset (default: /responses, else the file's only 2-D dataset)
//   import.stimuli  CSV with a header and one row per trial: stimulus_id (required), and optionally
//                   session, run, category, split (train/test) and path (the image file)
//   import.rois     NAME=mask.npy entries: one value per voxel, non-zero inside
#include <filesystem>
#include <functional>

#include "core/log.h"
#include "import/npy.h"
#include "import/readers.h"
#include "io/h5.h"

namespace fs = std::filesystem;

namespace deepvox::import {
namespace {

std::vector<float> read_matrix(const Config& cfg, const std::string& path, std::int64_t& rows,
                               std::int64_t& cols) {
  if (h5::is_hdf5(path)) {
    auto file = h5::File::open(path, h5::Mode::Read);
    std::string name = opt_str(cfg, "import.dataset", "");
    if (name.empty()) {
      if (file.exists("responses") && !file.is_group("responses")) {
        name = "responses";
      } else {
        std::vector<std::string> found;
        std::function<void(const h5::Group&, const std::string&)> walk = [&](const h5::Group& g,
                                                                             const std::string& at) {
          for (const auto& c : g.children()) {
            std::string p = at.empty() ? c : at + "/" + c;
            if (g.is_group(c))
              walk(g.group(c), p);
            else if (g.dataset(c).shape().size() == 2 && !g.dataset(c).is_string())
              found.push_back(p);
          }
        };
        walk(file, "");
        if (found.size() != 1)
          throw ConfigError(path + " holds " + std::to_string(found.size()) +
                            " 2-D datasets; set import.dataset to the responses matrix");
        name = found[0];
      }
    }
    if (!file.exists(name)) throw ImportError(path + ": no dataset '" + name + "' (import.dataset)");
    h5::Dataset d = file.dataset(name);
    auto shape = d.shape();
    if (shape.size() != 2) throw ImportError(path + ":/" + name + " is not a 2-D matrix");
    rows = shape[0];
    cols = shape[1];
    return d.read_all<float>();
  }
  npy::Header h;
  auto values = npy::read<float>(path, &h);
  if (h.shape.size() != 2) throw ImportError(path + ": the responses array must be 2-D (trials x voxels)");
  rows = h.shape[0];
  cols = h.shape[1];
  return values;
}

}  // namespace

FmriDataset read_generic(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string path = cfg.str("import.source");
  const std::string csv = required_str(cfg, "import.stimuli", "stimuli.csv");
  extras.zscore_default = "none";
  FmriDataset ds;
  ds.format = "generic";
  ds.source = path;
  ds.subject = opt_str(cfg, "import.subject", "");
  on_root(comm, [&] {
    std::int64_t rows = 0, cols = 0;
    std::vector<float> m = read_matrix(cfg, path, rows, cols);
    if (opt_flag(cfg, "import.transpose", false)) {
      std::vector<float> t(m.size());
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
          t[static_cast<size_t>(j * rows + i)] = m[static_cast<size_t>(i * cols + j)];
      m.swap(t);
      std::swap(rows, cols);
    }
    Table t = read_table(csv, ',');
    if (static_cast<std::int64_t>(t.rows.size()) != rows)
      throw ImportError(
          path + " has " + std::to_string(rows) + " rows (trials) but " + csv + " lists " +
          std::to_string(t.rows.size()) + " stimuli" +
          (static_cast<std::int64_t>(t.rows.size()) == cols ? " (set import.transpose: true?)" : ""));
    int c_id = t.column("stimulus_id", true), c_ses = t.column("session", false),
        c_run = t.column("run", false), c_cat = t.column("category", false),
        c_split = t.column("split", false), c_path = t.column("path", false);
    std::vector<std::string> ids;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& row = t.rows[r];
      std::string where = csv + " line " + std::to_string(r + 2);
      ids.push_back(row[static_cast<size_t>(c_id)]);
      ds.trial_session.push_back(c_ses >= 0 ? parse_int(row[static_cast<size_t>(c_ses)], where) : 0);
      ds.trial_run.push_back(c_run >= 0 ? parse_int(row[static_cast<size_t>(c_run)], where) : 0);
    }
    index_stimuli(ds, ids);
    ds.n_voxels = cols;
    ds.trial_responses = std::move(m);

    // Per-stimulus columns: the first trial of a stimulus decides, and the others must agree.
    const size_t S = ds.stimulus_ids.size();
    auto per_stimulus = [&](int col, const std::string& what) {
      std::vector<std::string> v(S);
      std::vector<char> set(S, 0);
      for (size_t r = 0; r < t.rows.size(); ++r) {
        auto s = static_cast<size_t>(ds.trial_stimulus[r]);
        const std::string& x = t.rows[r][static_cast<size_t>(col)];
        if (set[s] && v[s] != x)
          throw ImportError(csv + " line " + std::to_string(r + 2) + ": stimulus '" + ds.stimulus_ids[s] +
                            "' has " + what + " '" + x + "' here and '" + v[s] + "' before");
        v[s] = x;
        set[s] = 1;
      }
      return v;
    };
    if (c_cat >= 0) {
      for (const auto& c : per_stimulus(c_cat, "category")) {
        auto it = std::find(ds.category_names.begin(), ds.category_names.end(), c);
        if (it == ds.category_names.end()) {
          ds.category_names.push_back(c);
          it = ds.category_names.end() - 1;
        }
        ds.category_index.push_back(it - ds.category_names.begin());
      }
    }
    if (c_split >= 0) {
      auto sides = per_stimulus(c_split, "split");
      for (size_t s = 0; s < S; ++s) {
        if (sides[s] != "train" && sides[s] != "test")
          throw ImportError(csv + ": split must be train or test, not '" + sides[s] + "'");
        (sides[s] == "test" ? ds.split_test : ds.split_train).push_back(static_cast<std::int64_t>(s));
      }
      extras.split_rule = "the split column of " + csv;
    }
    if (c_path >= 0) {
      fs::path base = fs::path(csv).parent_path();
      for (const auto& p : per_stimulus(c_path, "path"))
        ds.stimulus_paths.push_back(p.empty() ? "" : fs::absolute(base / p).string());
    }
    for (const auto& entry : opt_strings(cfg, "import.rois")) {
      auto eq = entry.find('=');
      std::string name = eq == std::string::npos ? file_stem(entry) : entry.substr(0, eq);
      std::string file = eq == std::string::npos ? entry : entry.substr(eq + 1);
      auto mask = npy::read<float>(file);
      if (static_cast<std::int64_t>(mask.size()) != cols)
        throw ImportError(file + ": ROI mask has " + std::to_string(mask.size()) + " entries for " +
                          std::to_string(cols) + " voxels");
      std::vector<std::uint8_t> m8(mask.size());
      for (size_t v = 0; v < mask.size(); ++v) m8[v] = mask[v] != 0.0f && mask[v] == mask[v];
      ds.rois[name] = std::move(m8);
      ds.roi_order.push_back(name);
    }
    log::info("import: {} trials x {} voxels, {} stimuli from {}", rows, cols, S, path);
  });
  return ds;
}

}  // namespace deepvox::import
