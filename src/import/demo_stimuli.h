// The demo stimulus set: natural images with real content categories, built from photographs that
// Debian packages ship. Photo cut-outs with alpha from tuxpaint-stamps-default (one folder per
// category: mammals, birds, fish, ...) are composited onto crops of photographs from mate-backgrounds,
// with seeded crops, scales, positions, flips and brightness. Each image keeps its object mask (the
// composited alpha) for explain's overlap score, and records its sources and their licences (read
// from the packages' Debian copyright files) in the manifest.
//
// Augmented copies of one cut-out form a source group; a group is entirely train or entirely test,
// every category has test images, and groups are contiguous in image order (so contiguous folds never
// split one). The output depends only on the options (seed included), never on the rank count.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "io/image.h"

namespace deepvox::import {

struct DemoCategory {
  std::string name;
  std::vector<std::string> folders;  // under the stamps root, searched recursively
  std::vector<std::string> exclude;  // file stems that are drawings or not of the category
};
// The built-in categories: photo folders of tuxpaint-stamps-default, drawings left out.
const std::vector<DemoCategory>& builtin_demo_categories();

struct DemoOptions {
  int n_images = 2000;
  int size = 256;
  int test_images = 120;  // at least; spread evenly over categories
  int jpeg_quality = 92;
  std::uint64_t seed = 0;
  std::string stamps_root = "/usr/share/tuxpaint/stamps";
  std::string backgrounds_root = "/usr/share/backgrounds/mate/nature";
  std::vector<std::string> categories;  // empty = all built-in ones
};
// From import.* keys (import.seed, else the global seed).
DemoOptions demo_options(const Config& cfg);

// One source photograph and where it comes from.
struct SourcePhoto {
  std::string path;       // as installed
  std::string package;    // Debian package
  std::string copyright;  // from the package's DEP-5 copyright file
  std::string licence;
  std::int64_t category = -1;  // stamps only
};

// One planned image: everything needed to render it, as fractions (no pixels needed to plan).
struct DemoImage {
  std::string id;    // demo_000123
  std::string file;  // images/demo_000123.jpg, relative to the stimuli folder
  std::int64_t category = 0;
  std::int64_t group = 0;  // index into stamps: the source photo
  bool test = false;
  std::int64_t background = 0;
  double bg_side = 1, bg_x = 0, bg_y = 0;  // crop side (fraction of the shorter side), position in [0,1]
  bool bg_flip = false, obj_flip = false;
  double obj_size = 0.6;            // object's longer side as a fraction of the image side
  double obj_x = 0.5, obj_y = 0.5;  // position of the object within the free range, [0,1]
  double brightness = 1.0;          // background gain
  int bbox[4] = {0, 0, 0, 0};       // object bounding box x0, y0, x1, y1 (exclusive), after rendering
};

struct DemoStimuli {
  DemoOptions options;
  std::vector<std::string> category_names;
  std::vector<SourcePhoto> stamps, backgrounds;
  std::vector<DemoImage> images;          // manifest order
  std::vector<std::int64_t> train, test;  // rows of images, groups contiguous
  std::vector<std::uint8_t> masks;        // [N, size, size], 1 = object (build: on rank 0 only)
  std::string folder, manifest;           // where build wrote them
};

// Lists the source photos and plans every image (ids, groups, split, augmentation). Pure.
DemoStimuli plan_demo_stimuli(const DemoOptions& options);

// Loaded source pixels, for rendering.
class DemoRenderer {
 public:
  explicit DemoRenderer(const DemoStimuli& plan);
  ~DemoRenderer();
  DemoRenderer(const DemoRenderer&) = delete;
  DemoRenderer& operator=(const DemoRenderer&) = delete;
  // Renders image i: RGB pixels and its object mask (size x size, 1 = object); fills bbox.
  image::RgbImage render(const DemoImage& img, std::vector<std::uint8_t>* mask, int bbox[4]) const;

 private:
  struct Impl;
  Impl* impl_;
};

// Collective: renders every image (chunks spread over ranks) as JPEG into folder/images/, writes
// folder/manifest.csv (rank 0), and returns the plan with bboxes on every rank and masks on rank 0.
DemoStimuli build_demo_stimuli(const DemoOptions& options, const std::string& folder, MPI_Comm comm);

// Licence lookup in a Debian DEP-5 copyright file: the last paragraph whose Files: pattern matches
// relative_path. Returns false when the file is missing or nothing matches.
bool dep5_lookup(const std::string& copyright_file, const std::string& relative_path, std::string* copyright,
                 std::string* licence);

}  // namespace deepvox::import
