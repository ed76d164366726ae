// The demo stimulus set (see demo_stimuli.h): source listing, licences, planning, rendering, writing.
#include "import/demo_stimuli.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"
#include "import/virtual_chunks.h"
#include "import/virtual_random.h"
#include "io/manifest.h"

namespace fs = std::filesystem;

namespace deepvox::import {

const std::vector<DemoCategory>& builtin_demo_categories() {
  // Folders of tuxpaint-stamps-default 2022.06.04 that hold photographs. Sub-folders named cartoon or
  // toys, *_mirror copies and PNGs rendered from an SVG are drawings or duplicates and always skipped;
  // `exclude` drops the remaining drawings and items that are not of the category.
  static const std::vector<DemoCategory> table = {
      {"mammals", {"animals/mammals", "animals/marsupials"}, {"echidna", "hedgehog", "orca", "whale"}},
      {"birds", {"animals/birds"}, {}},
      {"fish", {"animals/fish"}, {"lobster", "shrimp"}},
      {"insects", {"animals/insects"}, {"Brown_slug", "Woodlouse"}},
      {"fruit", {"food/fruit"}, {}},
      {"vegetables", {"food/vegetables"}, {}},
      {"flowers", {"plants/flowers"}, {}},
      {"vehicles", {"vehicles"}, {"7spoke256", "wheel_tractor", "walnutBoat"}},
      {"household", {"household"}, {"cementmixer"}},
  };
  return table;
}

namespace {

// Backgrounds of mate-backgrounds/nature whose main subject is itself a demo category (flowers, a
// ladybird): as backgrounds they would put a second, unlabelled object into images.
const std::set<std::string> kBackgroundsWithDemoObjects = {"FreshFlower", "Garden", "LadyBird", "TwoWings",
                                                           "YellowFlower"};

// Debian package data roots, for the package name and the path the DEP-5 patterns are relative to.
struct PackageRoot {
  const char* root;
  const char* package;
};
const PackageRoot kPackageRoots[] = {{"/usr/share/tuxpaint/stamps", "tuxpaint-stamps-default"},
                                     {"/usr/share/backgrounds/mate", "mate-backgrounds"}};

SourcePhoto describe_source(const std::string& path) {
  SourcePhoto s;
  s.path = path;
  s.package = "unknown";
  s.licence = "unknown (not from a known Debian package)";
  for (const auto& pr : kPackageRoots) {
    const std::string root = pr.root;
    if (path.rfind(root + "/", 0) != 0) continue;
    s.package = pr.package;
    const std::string copyright_file = std::string("/usr/share/doc/") + pr.package + "/copyright";
    if (!dep5_lookup(copyright_file, path.substr(root.size() + 1), &s.copyright, &s.licence)) {
      s.licence = "see " + copyright_file;
    }
  }
  return s;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

std::vector<std::string> list_stamps(const std::string& root, const DemoCategory& cat) {
  std::vector<std::string> out;
  for (const auto& folder : cat.folders) {
    const fs::path dir = fs::path(root) / folder;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const fs::path& p = e.path();
      if (!e.is_regular_file() || p.extension() != ".png") continue;
      bool drawing = false;
      for (const auto& part : fs::relative(p, dir)) drawing |= part == "cartoon" || part == "toys";
      const std::string stem = p.stem().string();
      if (drawing || stem.find("_mirror") != std::string::npos) continue;
      if (fs::exists(fs::path(p).replace_extension(".svg"))) continue;
      if (std::find(cat.exclude.begin(), cat.exclude.end(), stem) != cat.exclude.end()) continue;
      out.push_back(p.string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

bool dep5_lookup(const std::string& copyright_file, const std::string& relative_path, std::string* copyright,
                 std::string* licence) {
  std::ifstream in(copyright_file);
  if (!in) return false;
  // Paragraphs are separated by blank lines; a field continues on lines that start with a space.
  std::vector<std::map<std::string, std::string>> paragraphs(1);
  std::string line, field;
  while (std::getline(in, line)) {
    if (trim(line).empty()) {
      if (!paragraphs.back().empty()) paragraphs.emplace_back();
      field.clear();
      continue;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !field.empty()) {
      paragraphs.back()[field] += "\n" + trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    field = line.substr(0, colon);
    paragraphs.back()[field] = trim(line.substr(colon + 1));
  }
  bool found = false;
  for (const auto& para : paragraphs) {  // DEP-5: the last matching paragraph wins
    auto files = para.find("Files");
    if (files == para.end()) continue;
    std::istringstream patterns(files->second);
    std::string pattern;
    bool match = false;
    while (patterns >> pattern) match |= fnmatch(pattern.c_str(), relative_path.c_str(), 0) == 0;
    if (!match) continue;
    found = true;
    auto c = para.find("Copyright");
    std::string text = c == para.end() ? "" : c->second;
    std::replace(text.begin(), text.end(), '\n', ';');
    *copyright = text;
    auto l = para.find("License");
    *licence = l == para.end() ? "" : l->second.substr(0, l->second.find('\n'));
  }
  return found;
}

DemoOptions demo_options(const Config& cfg) {
  DemoOptions o;
  o.n_images = static_cast<int>(cfg.integer("import.n_images"));
  o.size = static_cast<int>(cfg.integer("import.image_size"));
  o.test_images = cfg.has("import.test_images") ? static_cast<int>(cfg.integer("import.test_images"))
                                                : std::min(120, o.n_images / 4);
  o.seed =
      static_cast<std::uint64_t>(cfg.has("import.seed") ? cfg.integer("import.seed") : cfg.integer("seed"));
  o.stamps_root = cfg.str("import.stamps");
  o.backgrounds_root = cfg.str("import.backgrounds");
  if (cfg.has("import.categories")) o.categories = cfg.strings("import.categories");
  if (o.size < 32) throw ConfigError("import.image_size must be at least 32, got " + std::to_string(o.size));
  return o;
}

DemoStimuli plan_demo_stimuli(const DemoOptions& opt) {
  DemoStimuli d;
  d.options = opt;
  // 1. Categories and their source photos.
  std::vector<const DemoCategory*> cats;
  if (opt.categories.empty()) {
    for (const auto& c : builtin_demo_categories()) cats.push_back(&c);
  } else {
    for (const auto& name : opt.categories) {
      auto it = std::find_if(builtin_demo_categories().begin(), builtin_demo_categories().end(),
                             [&](const DemoCategory& c) { return c.name == name; });
      if (it == builtin_demo_categories().end()) {
        std::string valid;
        for (const auto& c : builtin_demo_categories()) valid += (valid.empty() ? "" : ", ") + c.name;
        throw ConfigError("import.categories: unknown category '" + name + "' (valid: " + valid + ")");
      }
      cats.push_back(&*it);
    }
  }
  if (!fs::is_directory(opt.stamps_root)) {
    throw ConfigError("import.stamps: " + opt.stamps_root +
                      " is not a folder (install Debian's tuxpaint-stamps-default: tools/setup.sh does)");
  }
  std::vector<std::vector<std::int64_t>> stamps_of(cats.size());
  for (std::size_t c = 0; c < cats.size(); ++c) {
    d.category_names.push_back(cats[c]->name);
    for (const auto& path : list_stamps(opt.stamps_root, *cats[c])) {
      SourcePhoto s = describe_source(path);
      s.category = static_cast<std::int64_t>(c);
      stamps_of[c].push_back(static_cast<std::int64_t>(d.stamps.size()));
      d.stamps.push_back(s);
    }
    if (stamps_of[c].size() < 2) {
      throw ConfigError("import.stamps: category '" + cats[c]->name + "' has " +
                        std::to_string(stamps_of[c].size()) + " photos under " + opt.stamps_root +
                        " (at least 2 needed: one for train, one for test)");
    }
  }
  if (!fs::is_directory(opt.backgrounds_root)) {
    throw ConfigError("import.backgrounds: " + opt.backgrounds_root +
                      " is not a folder (install Debian's mate-backgrounds: tools/setup.sh does)");
  }
  std::vector<std::string> bgs;
  for (const auto& e : fs::directory_iterator(opt.backgrounds_root)) {
    if (e.is_regular_file() && is_image_name(e.path()) &&
        !kBackgroundsWithDemoObjects.count(e.path().stem().string()))
      bgs.push_back(e.path().string());
  }
  std::sort(bgs.begin(), bgs.end());
  if (bgs.empty()) throw ConfigError("import.backgrounds: no JPEG or PNG photos in " + opt.backgrounds_root);
  for (const auto& b : bgs) d.backgrounds.push_back(describe_source(b));

  // 2. Copies per source photo: categories balanced; per category a tenth of the photos (at least one)
  //    are test groups sharing the category's test images, the rest share its training images.
  const std::int64_t C = static_cast<std::int64_t>(cats.size());
  struct Group {
    std::int64_t category, stamp, copies;
    bool test;
  };
  std::vector<Group> groups;
  const std::int64_t test_per_cat = (opt.test_images + C - 1) / C;
  for (std::int64_t c = 0; c < C; ++c) {
    const std::int64_t n_c = opt.n_images / C + (c < opt.n_images % C ? 1 : 0);
    if (2 * test_per_cat > n_c) {
      throw ConfigError("import.test_images=" + std::to_string(opt.test_images) +
                        " leaves too few training images in " + std::to_string(opt.n_images) + " (" +
                        std::to_string(n_c) + " per category); use at most " +
                        std::to_string(opt.n_images / 2));
    }
    std::vector<std::int64_t> order = stamps_of[c];
    Rng rng(opt.seed, Stream::Split, static_cast<std::uint64_t>(c));
    rng.shuffle(order);
    const std::int64_t n_s = static_cast<std::int64_t>(order.size());
    const std::int64_t n_test = std::clamp<std::int64_t>((n_s + 5) / 10, 1, n_s - 1);
    for (std::int64_t j = 0; j < n_s; ++j) {
      const bool test = j < n_test;
      const std::int64_t total = test ? test_per_cat : n_c - test_per_cat;
      const std::int64_t k = test ? j : j - n_test, m = test ? n_test : n_s - n_test;
      const std::int64_t copies = total / m + (k < total % m ? 1 : 0);
      if (copies > 0) groups.push_back({c, order[j], copies, test});
    }
  }
  Rng order_rng(opt.seed, Stream::ImagePlan, 0);
  order_rng.shuffle(groups);

  // 3. Images, group by group, each with its own augmentation stream.
  for (const Group& g : groups) {
    for (std::int64_t k = 0; k < g.copies; ++k) {
      const std::int64_t i = static_cast<std::int64_t>(d.images.size());
      DemoImage im;
      char id[32];
      std::snprintf(id, sizeof id, "demo_%06lld", static_cast<long long>(i));
      im.id = id;
      im.file = "images/" + im.id + ".jpg";
      im.category = g.category;
      im.group = g.stamp;
      im.test = g.test;
      Rng r(opt.seed, Stream::ImageRender, static_cast<std::uint64_t>(i));
      im.background = static_cast<std::int64_t>(r.below(d.backgrounds.size()));
      im.bg_side = r.uniform(0.4, 1.0);
      im.bg_x = r.uniform();
      im.bg_y = r.uniform();
      im.bg_flip = r.uniform() < 0.5;
      im.obj_flip = r.uniform() < 0.5;
      im.obj_size = r.uniform(0.45, 0.8);
      im.obj_x = r.uniform();
      im.obj_y = r.uniform();
      im.brightness = r.uniform(0.8, 1.2);
      (g.test ? d.test : d.train).push_back(i);
      d.images.push_back(im);
    }
  }
  return d;
}

// ---------------------------------------------------------------- rendering

struct DemoRenderer::Impl {
  int size = 0;
  std::vector<cv::Mat> stamps;       // RGBA 8-bit, trimmed to the alpha bounding box
  std::vector<cv::Mat> backgrounds;  // RGB 8-bit, shorter side 2 * size
};

namespace {

cv::Mat load_rgba(const std::string& path) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) throw std::runtime_error("demo stimuli: cannot read " + path);
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 255.0 / 65535.0);
  cv::Mat rgba;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, rgba, cv::COLOR_GRAY2RGBA);
      break;
    case 3:
      cv::cvtColor(m, rgba, cv::COLOR_BGR2RGBA);
      break;
    case 4:
      cv::cvtColor(m, rgba, cv::COLOR_BGRA2RGBA);
      break;
    default:
      throw std::runtime_error("demo stimuli: unexpected channel count in " + path);
  }
  return rgba;
}

}  // namespace

DemoRenderer::DemoRenderer(const DemoStimuli& plan) : impl_(new Impl) {
  impl_->size = plan.options.size;
  for (const auto& s : plan.stamps) {
    cv::Mat rgba = load_rgba(s.path);
    cv::Mat alpha;
    cv::extractChannel(rgba, alpha, 3);
    const cv::Rect box = cv::boundingRect(alpha > 0);
    if (box.area() == 0) throw std::runtime_error("demo stimuli: " + s.path + " is fully transparent");
    impl_->stamps.push_back(rgba(box).clone());
  }
  for (const auto& b : plan.backgrounds) {
    cv::Mat rgba = load_rgba(b.path);
    cv::Mat rgb;
    cv::cvtColor(rgba, rgb, cv::COLOR_RGBA2RGB);
    const double scale = 2.0 * impl_->size / std::min(rgb.cols, rgb.rows);
    if (scale < 1.0) cv::resize(rgb, rgb, cv::Size(), scale, scale, cv::INTER_AREA);
    impl_->backgrounds.push_back(rgb);
  }
}

DemoRenderer::~DemoRenderer() { delete impl_; }

image::RgbImage DemoRenderer::render(const DemoImage& im, std::vector<std::uint8_t>* mask,
                                     int bbox[4]) const {
  const int S = impl_->size;
  // Background: a square crop, resized to S x S, maybe mirrored, with a brightness gain.
  const cv::Mat& bg_src = impl_->backgrounds.at(static_cast<std::size_t>(im.background));
  const int side =
      std::max(8, static_cast<int>(std::lround(im.bg_side * std::min(bg_src.cols, bg_src.rows))));
  const int bx = static_cast<int>(std::floor(im.bg_x * (bg_src.cols - side)));
  const int by = static_cast<int>(std::floor(im.bg_y * (bg_src.rows - side)));
  cv::Mat bg;
  cv::resize(bg_src(cv::Rect(bx, by, side, side)), bg, cv::Size(S, S), 0, 0,
             side > S ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (im.bg_flip) cv::flip(bg, bg, 1);
  bg.convertTo(bg, CV_32FC3, im.brightness);

  // Object: scaled so its longer side is obj_size * S, resized with premultiplied alpha (no dark fringes).
  const cv::Mat& stamp = impl_->stamps.at(static_cast<std::size_t>(im.group));
  cv::Mat obj;  // never flip in place: cv::Mat copies share the stored stamp's pixels
  if (im.obj_flip) {
    cv::flip(stamp, obj, 1);
  } else {
    obj = stamp;
  }
  const double scale = im.obj_size * S / std::max(obj.cols, obj.rows);
  const int w = std::max(1, static_cast<int>(std::lround(obj.cols * scale)));
  const int h = std::max(1, static_cast<int>(std::lround(obj.rows * scale)));
  cv::Mat objf;
  obj.convertTo(objf, CV_32FC4, 1.0 / 255.0);
  std::vector<cv::Mat> ch;
  cv::split(objf, ch);
  for (int c = 0; c < 3; ++c) ch[c] = ch[c].mul(ch[3]);
  cv::merge(ch, objf);
  cv::resize(objf, objf, cv::Size(w, h), 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  const int ox = static_cast<int>(std::floor(im.obj_x * (S - w)));
  const int oy = static_cast<int>(std::floor(im.obj_y * (S - h)));

  image::RgbImage out;
  out.width = out.height = S;
  out.pixels.assign(static_cast<std::size_t>(S) * S * 3, 0);
  mask->assign(static_cast<std::size_t>(S) * S, 0);
  for (int y = 0; y < S; ++y) {
    const float* b = bg.ptr<float>(y);
    std::uint8_t* dst = out.row(y);
    const bool in_rows = y >= oy && y < oy + h;
    for (int x = 0; x < S; ++x) {
      float r = b[3 * x], g = b[3 * x + 1], bl = b[3 * x + 2];
      if (in_rows && x >= ox && x < ox + w) {
        const float* o = objf.ptr<float>(y - oy) + 4 * (x - ox);
        const float a = std::clamp(o[3], 0.0f, 1.0f);
        r = 255.0f * o[0] + r * (1 - a);
        g = 255.0f * o[1] + g * (1 - a);
        bl = 255.0f * o[2] + bl * (1 - a);
        (*mask)[static_cast<std::size_t>(y) * S + x] = a >= 0.5f ? 1 : 0;
      }
      dst[3 * x] = cv::saturate_cast<std::uint8_t>(r);
      dst[3 * x + 1] = cv::saturate_cast<std::uint8_t>(g);
      dst[3 * x + 2] = cv::saturate_cast<std::uint8_t>(bl);
    }
  }
  const cv::Mat m(S, S, CV_8U, mask->data());
  const cv::Rect box = cv::boundingRect(m);
  bbox[0] = box.x;
  bbox[1] = box.y;
  bbox[2] = box.x + box.width;
  bbox[3] = box.y + box.height;
  return out;
}

// ---------------------------------------------------------------- building

DemoStimuli build_demo_stimuli(const DemoOptions& options, const std::string& folder, MPI_Comm comm) {
  DemoStimuli d = plan_demo_stimuli(options);
  d.folder = folder;
  d.manifest = (fs::path(folder) / "manifest.csv").string();
  const std::int64_t n = static_cast<std::int64_t>(d.images.size());
  const int S = options.size;
  constexpr std::int64_t kChunk = 32;
  std::string error;
  std::vector<std::uint8_t> local_masks;
  std::vector<std::int32_t> local_boxes;
  try {
    fs::create_directories(fs::path(folder) / "images");
    const DemoRenderer renderer(d);
    for (std::int64_t i : my_items(n, kChunk, comm)) {
      DemoImage& im = d.images[static_cast<std::size_t>(i)];
      std::vector<std::uint8_t> mask;
      const image::RgbImage rgb = renderer.render(im, &mask, im.bbox);
      cv::Mat bgr;
      cv::cvtColor(cv::Mat(S, S, CV_8UC3, const_cast<std::uint8_t*>(rgb.pixels.data())), bgr,
                   cv::COLOR_RGB2BGR);
      std::vector<std::uint8_t> jpeg;
      cv::imencode(".jpg", bgr, jpeg, {cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality});
      const fs::path path = fs::path(folder) / im.file;
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
      if (!f) throw std::runtime_error("cannot write " + path.string());
      local_masks.insert(local_masks.end(), mask.begin(), mask.end());
      local_boxes.insert(local_boxes.end(), im.bbox, im.bbox + 4);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!all_ok(error.empty(), comm)) {
    throw std::runtime_error("demo stimuli: " +
                             (error.empty() ? std::string("failed on another rank") : error));
  }
  const auto boxes = gather_items(local_boxes, n, kChunk, 4, comm, true);
  for (std::int64_t i = 0; i < n; ++i) std::copy(&boxes[4 * i], &boxes[4 * i] + 4, d.images[i].bbox);
  d.masks = gather_items(local_masks, n, kChunk, static_cast<std::int64_t>(S) * S, comm, false);

  if (is_root(comm)) {
    try {
      std::vector<std::vector<std::string>> rows;
      for (const auto& im : d.images) {
        const SourcePhoto& s = d.stamps[static_cast<std::size_t>(im.group)];
        const SourcePhoto& b = d.backgrounds[static_cast<std::size_t>(im.background)];
        std::ostringstream bbox;
        bbox << im.bbox[0] << ' ' << im.bbox[1] << ' ' << im.bbox[2] << ' ' << im.bbox[3];
        rows.push_back({im.id, im.file, d.category_names[static_cast<std::size_t>(im.category)],
                        std::to_string(im.group), im.test ? "test" : "train", s.path, s.package, s.licence,
                        s.copyright, b.path, b.package, b.licence, b.copyright, bbox.str()});
      }
      write_manifest(d.manifest,
                     {"stimulus_id", "path", "category", "source_group", "split", "source", "source_package",
                      "licence", "copyright", "background", "background_package", "background_licence",
                      "background_copyright", "object_bbox"},
                     rows);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!all_ok(error.empty(), comm)) {
    throw std::runtime_error("demo stimuli: " + (error.empty() ? std::string("failed on rank 0") : error));
  }
  return d;
}

}  // namespace deepvox::import
