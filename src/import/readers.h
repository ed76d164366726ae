// The import readers (one file each) and the helpers they share (import.cpp).
//
// Every reader is collective: all ranks call it. The returned FmriDataset is complete on rank 0;
// other ranks may get an empty one, because write_responses() takes the data from rank 0. Readers
// that read many sessions spread the sessions over ranks (read_sessions below), so decompression
// and masking run in parallel; the assembled result does not depend on the rank count.
//
// A problem with the user's data is an ImportError raised on every rank with the same message,
// naming the file and what is wrong, so no rank is left waiting in a collective call.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.h"
#include "import/dataset.h"
#include "io/manifest.h"  // stimulus_id_nsd, stimulus_id_bdata

namespace deepvox::import {

struct ImportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Extras a reader can hand to the writer beyond FmriDataset (see responses_writer.h).
struct ReaderExtras {
  std::string stimulus_images;          // an image brick (NSD's nsd_stimuli.hdf5) extract can read directly
  std::vector<double> voxel_xyz;        // [V*3] scanner coordinates in mm (BData's voxel_x/y/z)
  std::string split_rule;               // how /split was decided, stored as an attribute
  std::string zscore_default = "none";  // decisions.md: session for NSD and BOLD5000 2.0
};

FmriDataset read_bold5000(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);
FmriDataset read_bold5000_v2(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);
FmriDataset read_nsd(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);
FmriDataset read_bdata(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);
FmriDataset read_algonauts(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);
FmriDataset read_generic(const Config& cfg, MPI_Comm comm, ReaderExtras& extras);

// ---------------- stimulus ids (run-files.md) ----------------
// These belong with extract's image-brick ids; see the closing report about moving them to core/.
std::string strip_rep_prefix(const std::string& name);  // "rep_x.jpg" -> "x.jpg"

// BOLD5000 images: file name -> path under Presented_Stimuli/{COCO,ImageNet,Scene}/, and the
// category (the source image set, taken from the sub-folder, or from the file name if not found).
struct Bold5000Images {
  std::string root;  // the Presented_Stimuli folder ("" if not found)
  std::map<std::string, std::string> path;
  std::map<std::string, std::string> set;  // "COCO" | "ImageNet" | "Scene"
};
Bold5000Images index_bold5000_images(const Config& cfg, const std::string& source);
std::string bold5000_image_set(const std::string& file_name);  // from the name alone
// Fills stimulus_paths and categories (COCO, ImageNet, Scene) of a BOLD5000 dataset.
void attach_bold5000_images(FmriDataset& ds, const Bold5000Images& images);
// Test split by BOLD5000's convention: the images shown 4 times.
void bold5000_repetition_split(FmriDataset& ds, ReaderExtras& extras);

// ---------------- config helpers ----------------
// Optional keys: the default when the key is unset ("~") or not declared in this build's schema.
std::string opt_str(const Config& cfg, const std::string& key, const std::string& fallback);
std::vector<std::string> opt_strings(const Config& cfg, const std::string& key);
std::vector<long> opt_integers(const Config& cfg, const std::string& key);
bool opt_flag(const Config& cfg, const std::string& key, bool fallback);
double opt_real(const Config& cfg, const std::string& key, double fallback);
std::string required_str(const Config& cfg, const std::string& key, const std::string& example);
// import.subject, or (unset) the only subject found: names of the entries of dir matching the regex
// (its first group is the subject). Deterministic on every rank; ConfigError when none or several.
std::string subject_or_only(const Config& cfg, const std::string& dir, const std::string& name_regex,
                            const std::string& example);

// ---------------- files ----------------
bool is_dir(const std::string& path);
bool is_file(const std::string& path);
// Files under root (recursively, following the dataset's own layout) whose name matches the regex,
// sorted by path. Hidden folders are skipped.
std::vector<std::string> find_files(const std::string& root, const std::string& name_regex);
// The first of the candidate paths that exists, else a recursive search for the file name under
// root; throws ImportError naming what was looked for when there is none.
std::string locate(const std::string& root, const std::vector<std::string>& candidates,
                   const std::string& name, const std::string& what);
std::string file_stem(const std::string& path);  // "dir/a.nii.gz" -> "a"

// A delimited text table with a header line (CSV with quotes, or TSV).
struct Table {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Index of a column by name (case-sensitive, then case-insensitive); -1 or ImportError if required.
  int column(const std::string& name, bool required) const;
};
Table read_table(const std::string& path, char sep);  // sep '\t' for TSV, ',' for CSV
std::int64_t parse_int(const std::string& s, const std::string& where);
double parse_real(const std::string& s, const std::string& where);

// ---------------- ROI label tables ----------------
// Label value -> name for a label volume or mask family (e.g. "prf-visualrois"). Looked up in:
// the user's import.roi_map YAML; the dataset's own <class>.mgz.ctab files (extra_dirs); the label
// tables shipped in configs/nsd_labels (next to the binary's checkout, or $DEEPVOX_LABELS_DIR).
// Empty if none is found (callers then name masks <class>_<value>).
std::map<std::int64_t, std::string> label_table(const Config& cfg, const std::string& roi_class,
                                                const std::vector<std::string>& extra_dirs);
// Adds one mask per label value > 0 of a label vector (one value per voxel, in voxel order) to ds,
// named from the table; a name already taken is qualified as <class>.<name>. prefix ("lh.") is
// prepended to every name. Labels with no voxel are skipped.
void add_label_masks(FmriDataset& ds, const std::vector<float>& labels, const std::string& roi_class,
                     const std::map<std::int64_t, std::string>& table, const std::string& prefix);
// Adds the union of the given masks (that exist) under a new name, if it is not taken.
void add_union_mask(FmriDataset& ds, const std::string& name, const std::vector<std::string>& parts);

// ---------------- trials and stimuli ----------------
// Builds stimulus_ids (in order of first appearance) and trial_stimulus from one id per trial.
void index_stimuli(FmriDataset& ds, const std::vector<std::string>& trial_ids);

// ---------------- MPI ----------------
// Raises the same ImportError on every rank when any rank failed (message from the lowest failing
// rank). Call it collectively with what this rank caught ("" = success).
void raise_if_any(const std::string& error, MPI_Comm comm);
// Runs fn on rank 0 only; an exception there becomes an ImportError on every rank.
void on_root(MPI_Comm comm, const std::function<void()>& fn);
// Reads n_sessions independent blocks in parallel (rank r reads sessions r, r+p, ...): read(s)
// returns session s as row-major [rows, cols] floats. Rank 0 receives all of them, in session order,
// appended to out (other ranks leave out untouched). Errors on any rank become ImportErrors.
void read_sessions(std::int64_t n_sessions, std::int64_t cols,
                   const std::function<std::vector<float>(std::int64_t)>& read, std::vector<float>& out,
                   MPI_Comm comm);

// Flat voxel index (x fastest) -> (i, j, k).
void append_ijk(std::vector<std::int64_t>& ijk, std::int64_t flat, std::int64_t nx, std::int64_t ny);

}  // namespace deepvox::import
