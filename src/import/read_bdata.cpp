// Kamitani lab BData files (bdpy, https://github.com/KamitaniLab/bdpy, bdpy/bdata/bdata.py
// __save_h5/__load_h5; BrainDecoderToolbox2 in MATLAB). import.source is the .h5 file:
//   /dataset                 float64 [samples, columns]  (older files: /dataSet)
//   /metadata/key            str [K]   (older: /metaData/...)  fixed-length or variable-length
//   /metadata/description    str [K]
//   /metadata/value          float64 [K, columns]  one row per key; NaN where a key does not apply
// A key marks its columns with 1 in its row: VoxelData (voxel columns), Label / stimulus_id, Run,
// Session, DataType (1 = training, 2 = test; other values, such as imagery, are left out). ROI_*
// rows hold 1 (voxel in the ROI), 0 (not) or NaN (not a voxel column); voxel_x/y/z hold the voxel's
// coordinates in mm. Files written from MATLAB store both matrices transposed; this reader accepts
// either orientation. The stimulus id is the stimulus_id (else Label) value printed with %.6f.
#include <algorithm>
#include <cmath>

#include "core/log.h"
#include "import/readers.h"
#include "io/h5.h"

namespace deepvox::import {
namespace {

// Columns whose entry in a key's row is 1 (the columns the key describes).
std::vector<std::int64_t> marked_columns(const std::vector<double>& value, std::int64_t key, std::int64_t C) {
  std::vector<std::int64_t> cols;
  for (std::int64_t c = 0; c < C; ++c)
    if (value[static_cast<size_t>(key * C + c)] == 1.0) cols.push_back(c);
  return cols;
}

std::vector<std::string> trimmed(std::vector<std::string> v) {
  for (auto& s : v) s.erase(s.find_last_not_of(std::string(" \0", 2)) + 1);
  return v;
}

}  // namespace

FmriDataset read_bdata(const Config& cfg, MPI_Comm comm, ReaderExtras& extras) {
  const std::string path = cfg.str("import.source");
  extras.zscore_default = "none";
  FmriDataset ds;
  ds.format = "bdata";
  ds.source = path;
  ds.subject = opt_str(cfg, "import.subject", "");
  on_root(comm, [&] {
    if (!h5::is_hdf5(path)) throw ImportError(path + ": missing or not an HDF5 file (expected a BData .h5)");
    auto file = h5::File::open(path, h5::Mode::Read);
    const std::string data_name = file.exists("dataset")   ? "dataset"
                                  : file.exists("dataSet") ? "dataSet"
                                                           : "";
    const std::string meta_name = file.exists("metadata")   ? "metadata"
                                  : file.exists("metaData") ? "metaData"
                                                            : "";
    if (data_name.empty()) throw ImportError(path + ": no /dataset (or /dataSet) matrix; not a BData file");
    if (meta_name.empty()) throw ImportError(path + ": no /metadata (or /metaData) group; not a BData file");
    h5::Group meta = file.group(meta_name);
    for (const char* part : {"key", "value"})
      if (!meta.exists(part)) throw ImportError(path + ": /" + meta_name + " has no '" + part + "' dataset");
    auto keys = trimmed(meta.dataset("key").read_strings());
    const std::int64_t K = static_cast<std::int64_t>(keys.size());

    // Orientation: value is K x C (bdpy) or C x K (MATLAB); dataset is N x C or C x N.
    h5::Dataset dval = meta.dataset("value");
    auto vshape = dval.shape();
    std::vector<double> value = dval.read_all<double>();
    if (vshape.size() != 2 || (vshape[0] != K && vshape[1] != K))
      throw ImportError(path + ": /" + meta_name + "/value is not keys x columns (" + std::to_string(K) +
                        " keys)");
    std::int64_t C = vshape[0] == K ? vshape[1] : vshape[0];
    if (vshape[0] != K) {
      std::vector<double> t(value.size());
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t k = 0; k < K; ++k)
          t[static_cast<size_t>(k * C + c)] = value[static_cast<size_t>(c * K + k)];
      value.swap(t);
    }
    h5::Dataset dset = file.dataset(data_name);
    auto dshape = dset.shape();
    std::vector<double> data = dset.read_all<double>();
    if (dshape.size() != 2 || (dshape[1] != C && dshape[0] != C))
      throw ImportError(path + ": /" + data_name + " is not samples x " + std::to_string(C) +
                        " columns (the metadata has " + std::to_string(C) + " columns)");
    std::int64_t N = dshape[1] == C ? dshape[0] : dshape[1];
    if (dshape[1] != C) {
      std::vector<double> t(data.size());
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t i = 0; i < N; ++i)
          t[static_cast<size_t>(i * C + c)] = data[static_cast<size_t>(c * N + i)];
      data.swap(t);
    }
    auto key_index = [&](const std::string& k) -> std::int64_t {
      auto it = std::find(keys.begin(), keys.end(), k);
      return it == keys.end() ? -1 : it - keys.begin();
    };
    auto single_column = [&](const std::string& k, bool required) -> std::int64_t {
      std::int64_t ki = key_index(k);
      if (ki < 0) {
        if (required) throw ImportError(path + ": no metadata key '" + k + "'");
        return -1;
      }
      auto cols = marked_columns(value, ki, C);
      if (cols.size() != 1)
        throw ImportError(path + ": metadata key '" + k + "' marks " + std::to_string(cols.size()) +
                          " columns, expected 1");
      return cols[0];
    };

    // 1. Voxel columns and their metadata.
    std::int64_t kv = key_index("VoxelData");
    if (kv < 0) throw ImportError(path + ": no metadata key 'VoxelData' (which columns are voxels)");
    auto voxels = marked_columns(value, kv, C);
    if (voxels.empty()) throw ImportError(path + ": VoxelData marks no column");
    const std::int64_t V = static_cast<std::int64_t>(voxels.size());
    ds.n_voxels = V;
    for (std::int64_t k = 0; k < K; ++k) {
      if (keys[static_cast<size_t>(k)].rfind("ROI_", 0) != 0) continue;
      std::vector<std::uint8_t> mask(static_cast<size_t>(V));
      for (std::int64_t j = 0; j < V; ++j)
        mask[static_cast<size_t>(j)] =
            value[static_cast<size_t>(k * C + voxels[static_cast<size_t>(j)])] == 1.0;
      std::string name = keys[static_cast<size_t>(k)].substr(4);
      ds.rois[name] = std::move(mask);
      ds.roi_order.push_back(name);
    }
    std::int64_t kx = key_index("voxel_x"), ky = key_index("voxel_y"), kz = key_index("voxel_z");
    if (kx >= 0 && ky >= 0 && kz >= 0)
      for (auto c : voxels)
        for (auto k : {kx, ky, kz}) extras.voxel_xyz.push_back(value[static_cast<size_t>(k * C + c)]);

    // 2. Samples: id, session, run and data type.
    std::int64_t c_id = single_column("stimulus_id", false);
    if (c_id < 0) c_id = single_column("Label", true);
    std::int64_t c_run = single_column("Run", false), c_ses = single_column("Session", false);
    std::int64_t c_type = single_column("DataType", false);
    std::vector<std::string> ids;
    std::vector<int> type_of_trial;
    std::int64_t skipped_type = 0, skipped_nan = 0;
    for (std::int64_t i = 0; i < N; ++i) {
      const double* row = data.data() + i * C;
      int type = c_type >= 0 && std::isfinite(row[c_type]) ? static_cast<int>(row[c_type]) : 1;
      if (type != 1 && type != 2) {
        ++skipped_type;
        continue;
      }
      if (!std::isfinite(row[c_id])) {
        ++skipped_nan;
        continue;
      }
      ids.push_back(stimulus_id_bdata(row[c_id]));
      type_of_trial.push_back(type);
      ds.trial_session.push_back(
          c_ses >= 0 && std::isfinite(row[c_ses]) ? static_cast<std::int64_t>(row[c_ses]) : 0);
      ds.trial_run.push_back(c_run >= 0 && std::isfinite(row[c_run]) ? static_cast<std::int64_t>(row[c_run])
                                                                     : 0);
      for (auto c : voxels) ds.trial_responses.push_back(static_cast<float>(row[c]));
    }
    if (skipped_type)
      log::info("import: left out {} samples whose DataType is neither 1 (train) nor 2 (test)", skipped_type);
    if (skipped_nan) log::warn("import: left out {} samples with no stimulus id (NaN)", skipped_nan);
    if (ids.empty()) throw ImportError(path + ": no sample with DataType 1 or 2 and a stimulus id");
    index_stimuli(ds, ids);

    // 3. Split from DataType: a stimulus with any test trial is a test stimulus.
    if (c_type >= 0) {
      std::vector<int> side(ds.stimulus_ids.size(), 1);
      std::int64_t mixed = 0;
      std::vector<int> seen(ds.stimulus_ids.size(), 0);
      for (size_t t = 0; t < type_of_trial.size(); ++t) {
        auto s = static_cast<size_t>(ds.trial_stimulus[t]);
        if (seen[s] && seen[s] != type_of_trial[t]) ++mixed;
        seen[s] = type_of_trial[t];
        if (type_of_trial[t] == 2) side[s] = 2;
      }
      if (mixed)
        log::warn("import: {} stimuli appear in both DataType 1 and 2 samples; they go to the test set",
                  mixed);
      for (size_t s = 0; s < side.size(); ++s)
        (side[s] == 2 ? ds.split_test : ds.split_train).push_back(static_cast<std::int64_t>(s));
      extras.split_rule = "BData convention: DataType 2 samples are the test set";
    }
    log::info("import: {} samples, {} voxel columns of {}, {} ROIs from {}", ids.size(), V, C,
              ds.roi_order.size(), path);
  });
  return ds;
}

}  // namespace deepvox::import
