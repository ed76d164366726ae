#include "synth/repetition.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>

#include "synth/stats.h"

namespace deepvox::synth {

const char* const kMeasureNames[kMeasures] = {"syn_vs_rep", "rep_vs_rep", "rep_vs_mean_others",
                                              "syn_vs_mean"};

namespace {

// Pearson correlation of a and b along `dim` (double); NaN where either side is constant.
at::Tensor corr(const at::Tensor& a, const at::Tensor& b, int64_t dim) {
  auto ac = a - a.mean(dim, true), bc = b - b.mean(dim, true);
  auto num = (ac * bc).sum(dim);
  auto den = ((ac * ac).sum(dim) * (bc * bc).sum(dim)).sqrt();
  auto r = num / den;
  return at::where(den > 0, r, at::full_like(r, std::numeric_limits<double>::quiet_NaN()));
}

// The four measures along `dim` (0: over stimuli, per voxel; 1: over voxels, per stimulus).
std::vector<at::Tensor> measures(const at::Tensor& pred, const std::vector<at::Tensor>& reps, int64_t dim) {
  const auto K = static_cast<int64_t>(reps.size());
  auto sum = at::zeros_like(reps[0]);
  for (const auto& r : reps) sum += r;
  at::Tensor syn_rep = at::zeros_like(corr(pred, reps[0], dim)), rep_rep = at::zeros_like(syn_rep),
             rep_others = at::zeros_like(syn_rep);
  for (int64_t k = 0; k < K; ++k) {
    syn_rep += corr(pred, reps[k], dim);
    rep_others += corr(reps[k], (sum - reps[k]) / static_cast<double>(K - 1), dim);
    for (int64_t l = 0; l < K; ++l)
      if (l != k) rep_rep += corr(reps[k], reps[l], dim);
  }
  return {syn_rep / K, rep_rep / (K * (K - 1)), rep_others / K,
          corr(pred, sum / static_cast<double>(K), dim)};
}

double nanmean(const std::vector<double>& v) {
  double s = 0;
  std::int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : std::numeric_limits<double>::quiet_NaN();
}

// Fraction of finite pairs with a > b, and the two-sided sign test (ties dropped).
std::pair<double, double> better(const std::vector<double>& a, const std::vector<double>& b) {
  std::int64_t wins = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i]) || a[i] == b[i]) continue;
    ++n;
    wins += a[i] > b[i];
  }
  return {n ? static_cast<double>(wins) / n : std::numeric_limits<double>::quiet_NaN(), sign_test(wins, n)};
}

std::vector<double> to_vector(const at::Tensor& t) {
  auto c = t.contiguous().to(at::kDouble);
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

}  // namespace

RepetitionResult repetition_analysis(
    const at::Tensor& pred, const std::vector<at::Tensor>& reps, const std::vector<std::uint8_t>& valid,
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>>& rois) {
  RepetitionResult out;
  out.repetitions = static_cast<std::int64_t>(reps.size());
  const std::int64_t V = pred.size(1);
  auto p = pred.to(at::kDouble);
  std::vector<at::Tensor> r;
  for (const auto& t : reps) r.push_back(t.to(at::kDouble));
  auto voxel = measures(p, r, 0);
  for (int m = 0; m < kMeasures; ++m) {
    out.voxel[m] = to_vector(voxel[static_cast<size_t>(m)]);
    for (std::int64_t v = 0; v < V; ++v)
      if (!valid[static_cast<size_t>(v)])
        out.voxel[m][static_cast<size_t>(v)] = std::numeric_limits<double>::quiet_NaN();
  }
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> groups = {{"all", valid}};
  groups.insert(groups.end(), rois.begin(), rois.end());
  for (const auto& [name, mask] : groups) {
    RoiRepetition roi;
    roi.name = name;
    std::vector<std::int64_t> cols;
    for (std::int64_t v = 0; v < V; ++v)
      if (mask[static_cast<size_t>(v)] && valid[static_cast<size_t>(v)]) cols.push_back(v);
    roi.n_voxels = static_cast<std::int64_t>(cols.size());
    if (cols.size() >= 2) {
      auto idx = at::tensor(cols, at::kLong);
      std::vector<at::Tensor> rr;
      for (const auto& t : r) rr.push_back(t.index_select(1, idx));
      auto pattern = measures(p.index_select(1, idx), rr, 1);
      for (int m = 0; m < kMeasures; ++m) {
        roi.pattern[m] = to_vector(pattern[static_cast<size_t>(m)]);
        std::vector<double> vox;
        for (auto v : cols) vox.push_back(out.voxel[m][static_cast<size_t>(v)]);
        roi.voxel_mean[m] = nanmean(vox);
        roi.pattern_mean[m] = nanmean(roi.pattern[m]);
      }
      std::vector<double> syn, rep;
      for (auto v : cols) {
        syn.push_back(out.voxel[0][static_cast<size_t>(v)]);
        rep.push_back(out.voxel[1][static_cast<size_t>(v)]);
      }
      std::tie(roi.voxel_fraction_syn_better, roi.voxel_sign_p) = better(syn, rep);
      std::tie(roi.pattern_fraction_syn_better, roi.pattern_sign_p) = better(roi.pattern[0], roi.pattern[1]);
    } else {
      for (int m = 0; m < kMeasures; ++m) {
        roi.pattern[m].assign(static_cast<size_t>(pred.size(0)), std::numeric_limits<double>::quiet_NaN());
        roi.voxel_mean[m] = roi.pattern_mean[m] = std::numeric_limits<double>::quiet_NaN();
      }
    }
    out.rois.push_back(std::move(roi));
  }
  return out;
}

std::vector<std::string> describe_repetition(const RepetitionResult& r) {
  std::vector<std::string> lines;
  auto fmt = [](double x) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(3);
    os << x;
    return os.str();
  };
  std::string beats, loses;
  for (const auto& roi : r.rois) {
    if (roi.n_voxels < 2) continue;
    const double diff = roi.pattern_mean[0] - roi.pattern_mean[1];
    const double diff_mean = roi.pattern_mean[0] - roi.pattern_mean[2];
    std::ostringstream os;
    os << roi.name << " (" << roi.n_voxels << " voxels): pattern r synthetic-vs-real "
       << fmt(roi.pattern_mean[0]) << ", real-vs-real " << fmt(roi.pattern_mean[1])
       << ", real-vs-mean-of-others " << fmt(roi.pattern_mean[2]) << "; voxelwise " << fmt(roi.voxel_mean[0])
       << " vs " << fmt(roi.voxel_mean[1]) << " (" << fmt(100 * roi.voxel_fraction_syn_better)
       << "% of voxels favour synthetic); sign test over stimuli p = " << roi.pattern_sign_p;
    lines.push_back(os.str());
    if (roi.name == "all") continue;
    const bool significant = roi.pattern_sign_p < 0.05;
    std::string item = roi.name + " (" + (diff >= 0 ? "+" : "") + fmt(diff) + " r, " +
                       (diff_mean >= 0 ? "+" : "") + fmt(diff_mean) +
                       " against the mean of other repetitions" + (significant ? "" : ", not significant") +
                       ")";
    (diff > 0 ? beats : loses) +=
        (diff > 0 ? (beats.empty() ? "" : "; ") : (loses.empty() ? "" : "; ")) + item;
  }
  lines.push_back(
      "verdict: synthetic responses correlate with a real repetition better than another real repetition "
      "does in: " +
      (beats.empty() ? std::string("no ROI") : beats) +
      ". Not better in: " + (loses.empty() ? std::string("no ROI") : loses) + ".");
  return lines;
}

}  // namespace deepvox::synth
