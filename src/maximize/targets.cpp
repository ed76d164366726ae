#include "maximize/targets.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/config.h"

namespace deepvox::maximize {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!s.empty() && s.back() == sep) parts.emplace_back();
  return parts;
}

class Resolver {
 public:
  Resolver(const VoxelInfo& info, double contrast_weight) : info_(info), contrast_weight_(contrast_weight) {}

  void add(const std::string& spec, std::vector<Target>& out) const {
    spec_ = spec;
    auto parts = split(spec, ':');
    const std::string kind = parts.empty() ? "" : parts[0];
    if (kind == "rois" && parts.size() == 1) {
      for (const auto& name : info_.roi_names) out.push_back(roi_mean(name));
    } else if (kind == "roi" && parts.size() == 2) {
      out.push_back(roi_mean(parts[1]));
    } else if (kind == "weighted" && parts.size() == 2) {
      out.push_back(weighted(parts[1]));
    } else if (kind == "voxel" && parts.size() == 2) {
      out.push_back(single_voxel(parse_index(parts[1], "voxel index"), ""));
    } else if (kind == "top" && parts.size() == 3) {
      top_voxels(parts[1], parse_index(parts[2], "voxel count"), out);
    } else if (kind == "contrast" && parts.size() == 3) {
      out.push_back(contrast(parts[1], parts[2]));
    } else {
      fail("expected roi:NAME, weighted:NAME, voxel:INDEX, top:NAME:N, contrast:A:B or rois");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError("maximize.targets: '" + spec_ + "': " + why);
  }

  std::int64_t parse_index(const std::string& text, const char* what) const {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (text.empty() || used != text.size()) fail(std::string(what) + " '" + text + "' is not an integer");
    return v;
  }

  bool valid(std::int64_t v) const { return info_.valid.empty() || info_.valid[static_cast<size_t>(v)] != 0; }

  // The valid voxels of an ROI, in index order.
  std::vector<std::int64_t> roi_voxels(const std::string& name) const {
    auto it = std::find(info_.roi_names.begin(), info_.roi_names.end(), name);
    if (it == info_.roi_names.end()) {
      std::string names;
      for (const auto& n : info_.roi_names) names += (names.empty() ? "" : ", ") + n;
      fail("unknown ROI '" + name + "' (responses.h5 has: " + (names.empty() ? "no ROIs" : names) + ")");
    }
    const auto& mask = info_.roi_masks[static_cast<size_t>(it - info_.roi_names.begin())];
    std::vector<std::int64_t> voxels;
    for (std::int64_t v = 0; v < info_.n_voxels; ++v)
      if (mask[static_cast<size_t>(v)] && valid(v)) voxels.push_back(v);
    if (voxels.empty()) fail("ROI '" + name + "' has no valid voxels");
    return voxels;
  }

  const std::vector<float>& accuracy(const char* why) const {
    if (info_.test_r.empty()) fail(std::string(why) + " needs model.h5 /voxels/test_r, which is missing");
    return info_.test_r;
  }

  Target roi_mean(const std::string& name) const {
    Target t{"roi:" + name, "roi", name, -1, {}};
    auto voxels = roi_voxels(name);
    for (auto v : voxels) t.coefficients.emplace_back(v, 1.0 / static_cast<double>(voxels.size()));
    return t;
  }

  Target weighted(const std::string& name) const {
    const auto& r = accuracy("a weighted ROI target");
    Target t{"weighted:" + name, "weighted", name, -1, {}};
    double total = 0;
    for (auto v : roi_voxels(name)) {
      double w = r[static_cast<size_t>(v)];
      if (std::isfinite(w) && w > 0) {
        t.coefficients.emplace_back(v, w);
        total += w;
      }
    }
    if (total <= 0) fail("no voxel of ROI '" + name + "' has a positive test_r");
    for (auto& c : t.coefficients) c.second /= total;
    return t;
  }

  std::string roi_of(std::int64_t v) const {
    for (size_t i = 0; i < info_.roi_names.size(); ++i)
      if (info_.roi_masks[i][static_cast<size_t>(v)]) return info_.roi_names[i];
    return "voxels";
  }

  Target single_voxel(std::int64_t v, const std::string& label) const {
    if (v < 0 || v >= info_.n_voxels) {
      fail("voxel index " + std::to_string(v) + " is out of range: the model has " +
           std::to_string(info_.n_voxels) + " voxels (0.." + std::to_string(info_.n_voxels - 1) + ")");
    }
    if (!valid(v))
      fail("voxel " + std::to_string(v) + " is excluded (NaN or constant responses, /voxels/valid = 0)");
    Target t{label.empty() ? "voxel:" + std::to_string(v) : label, "voxel", roi_of(v), v, {{v, 1.0}}};
    return t;
  }

  void top_voxels(const std::string& name, std::int64_t n, std::vector<Target>& out) const {
    const auto& r = accuracy("a top:NAME:N target");
    auto voxels = roi_voxels(name);
    voxels.erase(std::remove_if(voxels.begin(), voxels.end(),
                                [&](std::int64_t v) { return !std::isfinite(r[static_cast<size_t>(v)]); }),
                 voxels.end());
    if (n < 1 || n > static_cast<std::int64_t>(voxels.size()))
      fail("asks for " + std::to_string(n) + " voxels, ROI '" + name + "' has " +
           std::to_string(voxels.size()) + " scored valid voxels");
    // Best test_r first; ties by index, so the choice is deterministic.
    std::stable_sort(voxels.begin(), voxels.end(), [&](std::int64_t a, std::int64_t b) {
      return r[static_cast<size_t>(a)] > r[static_cast<size_t>(b)];
    });
    for (std::int64_t k = 0; k < n; ++k) {
      auto v = voxels[static_cast<size_t>(k)];
      Target t = single_voxel(v, name + " #" + std::to_string(k + 1) + " (voxel " + std::to_string(v) + ")");
      t.roi = name;
      out.push_back(t);
    }
  }

  Target contrast(const std::string& a, const std::string& b) const {
    if (a == b) fail("contrast of an ROI with itself");
    std::map<std::int64_t, double> c;
    auto va = roi_voxels(a), vb = roi_voxels(b);
    for (auto v : va) c[v] += 1.0 / static_cast<double>(va.size());
    for (auto v : vb) c[v] -= contrast_weight_ / static_cast<double>(vb.size());
    Target t{"contrast:" + a + "-" + b, "contrast", a, -1, {c.begin(), c.end()}};
    return t;
  }

  const VoxelInfo& info_;
  double contrast_weight_;
  mutable std::string spec_;
};

}  // namespace

std::vector<Target> expand_targets(const std::vector<std::string>& specs, const VoxelInfo& info,
                                   double contrast_weight) {
  Resolver resolver(info, contrast_weight);
  std::vector<Target> out;
  for (const auto& spec : specs) resolver.add(spec, out);
  if (out.empty()) throw ConfigError("maximize.targets: no targets (responses.h5 has no ROIs for 'rois')");
  return out;
}

std::vector<float> dense_coefficients(const std::vector<Target>& targets, std::int64_t n_voxels) {
  std::vector<float> dense(targets.size() * static_cast<size_t>(n_voxels), 0.0f);
  for (size_t t = 0; t < targets.size(); ++t)
    for (const auto& [v, w] : targets[t].coefficients)
      dense[t * static_cast<size_t>(n_voxels) + static_cast<size_t>(v)] = static_cast<float>(w);
  return dense;
}

}  // namespace deepvox::maximize
