#include "decode/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>
#include <sstream>

#include "core/log.h"
#include "synth/plot.h"
#include "synth/stats.h"

namespace deepvox::decode {

Scores score(const Job& job, const JobResult& result, const std::vector<bool>& scored, bool complement,
             std::int64_t n_classes) {
  Scores s;
  s.confusion.assign(static_cast<size_t>(n_classes * n_classes), 0);
  s.template_confusion = s.confusion;
  for (size_t i = 0; i < job.test_labels.size(); ++i) {
    if (scored[i] == complement) continue;
    const auto truth = job.test_labels[i], guess = result.predicted[i],
               guess_t = result.predicted_template[i];
    ++s.n;
    s.correct += guess == truth;
    s.correct_template += guess_t == truth;
    ++s.confusion[static_cast<size_t>(truth * n_classes + guess)];
    ++s.template_confusion[static_cast<size_t>(truth * n_classes + guess_t)];
  }
  s.n_template = s.n;
  // Chance: a guess among the classes the decoder can output; p: exact binomial, one-sided.
  s.chance = result.n_classes > 0 ? 1.0 / static_cast<double>(result.n_classes) : 0.0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  s.accuracy = s.n ? static_cast<double>(s.correct) / s.n : nan;
  s.template_accuracy = s.n ? static_cast<double>(s.correct_template) / s.n : nan;
  s.p_value = synth::binomial_upper_tail(s.correct, s.n, s.chance);
  s.template_p_value = synth::binomial_upper_tail(s.correct_template, s.n, s.chance);
  return s;
}

void write_experiments(const h5::File& f, const Plan& plan, const std::vector<JobResult>& results) {
  const auto C = static_cast<std::int64_t>(plan.classes.size()),
             R = static_cast<std::int64_t>(plan.rois.size());
  f.write_strings("classes", plan.classes);
  std::vector<std::string> roi_names;
  std::vector<std::int64_t> roi_voxels;
  for (const auto& r : plan.rois)
    roi_names.push_back(r.name), roi_voxels.push_back(static_cast<std::int64_t>(r.voxels.size()));
  f.write_strings("rois", roi_names);
  f.write_vector<std::int64_t>("rois_n_voxels", roi_voxels);
  for (const auto& e : plan.experiments) {
    auto g = f.create_group(e.group + "/" + e.name);
    const auto K = static_cast<std::int64_t>(e.conditions.size());
    std::vector<std::string> names;
    std::vector<std::int64_t> n_train;
    for (const auto& c : e.conditions) names.push_back(c.name), n_train.push_back(c.n_train);
    g.write_strings("conditions", names);
    g.write_vector<std::int64_t>("n_train", n_train);
    std::vector<double> acc, chance, p, tacc, tp, cs, cv, seen;
    std::vector<std::int64_t> n_test, conf, tconf;
    for (std::int64_t r = 0; r < R; ++r)
      for (const auto& c : e.conditions) {
        const auto jdx = static_cast<size_t>(c.jobs[static_cast<size_t>(r)]);
        const Scores s = score(plan.jobs[jdx], results[jdx], e.scored, false, C);
        acc.push_back(s.accuracy), chance.push_back(s.chance), p.push_back(s.p_value);
        tacc.push_back(s.template_accuracy), tp.push_back(s.template_p_value);
        cs.push_back(results[jdx].c), cv.push_back(results[jdx].best_cv_accuracy);
        n_test.push_back(s.n);
        conf.insert(conf.end(), s.confusion.begin(), s.confusion.end());
        tconf.insert(tconf.end(), s.template_confusion.begin(), s.template_confusion.end());
        if (e.report_complement)
          seen.push_back(score(plan.jobs[jdx], results[jdx], e.scored, true, C).accuracy);
      }
    g.write_array<double>("accuracy", acc, {R, K});
    g.write_array<double>("chance", chance, {R, K});
    g.write_array<double>("p_value", p, {R, K});
    g.write_array<std::int64_t>("n_test", n_test, {R, K});
    g.write_array<std::int64_t>("confusion", conf, {R, K, C, C});
    g.write_array<double>("template_accuracy", tacc, {R, K});
    g.write_array<double>("template_p_value", tp, {R, K});
    g.write_array<std::int64_t>("template_confusion", tconf, {R, K, C, C});
    g.write_array<double>("C", cs, {R, K});
    g.write_array<double>("cv_accuracy", cv, {R, K});
    if (e.report_complement) {
      g.write_array<double>("seen_accuracy", seen, {R, K});
      g.write_strings("held_out", e.held_out);
    }
    if (!e.multiples.empty()) {
      // The learning curve: synthetic conditions 1..K-1 (condition 0 is the real decoder).
      const auto S = static_cast<std::int64_t>(e.multiples.size());
      std::vector<double> curve;
      std::vector<std::int64_t> sizes;
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t k = 1; k <= S; ++k) curve.push_back(acc[static_cast<size_t>(r * K + k)]);
      for (std::int64_t k = 1; k <= S; ++k) sizes.push_back(n_train[static_cast<size_t>(k)]);
      g.write_array<double>("learning_curve", curve, {R, S});
      g.write_vector<std::int64_t>("learning_curve_n_train", sizes);
      g.write_vector<double>("learning_curve_multiple", e.multiples);
      g.write_attr("learning_curve_note",
                   "accuracy of the synthetic decoders [ROI, size]; the real decoder is "
                   "condition 0 of accuracy");
    }
  }
}

std::vector<std::string> describe(const Plan& plan, const std::vector<JobResult>& results) {
  std::vector<std::string> lines;
  const auto C = static_cast<std::int64_t>(plan.classes.size());
  auto f3 = [](double x) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(3);
    os << x;
    return os.str();
  };
  for (const auto& e : plan.experiments) {
    for (const auto& c : e.conditions)
      for (size_t r = 0; r < plan.rois.size(); ++r) {
        const auto jdx = static_cast<size_t>(c.jobs[r]);
        const Scores s = score(plan.jobs[jdx], results[jdx], e.scored, false, C);
        std::ostringstream os;
        os << e.group << "/" << e.name << " " << c.name << " (" << c.n_train << " training) "
           << plan.rois[r].name << ": accuracy " << f3(s.accuracy) << " on " << s.n
           << " real test responses (chance " << f3(s.chance) << ", p = " << s.p_value << "); template "
           << f3(s.template_accuracy) << "; C = " << results[jdx].c;
        if (e.report_complement)
          os << "; seen categories " << f3(score(plan.jobs[jdx], results[jdx], e.scored, true, C).accuracy);
        lines.push_back(os.str());
      }
  }
  return lines;
}

void draw_figures(const Plan& plan, const std::vector<JobResult>& results, const std::string& run_dir) {
  namespace fs = std::filesystem;
  using namespace synth;
  const auto C = static_cast<std::int64_t>(plan.classes.size());
  for (const auto& e : plan.experiments) {
    // Learning curve: synthetic accuracy against training-set size, the real decoder as a dashed line.
    if (e.name == "real_vs_synthetic" && e.conditions.size() > 1) {
      cv::Mat img(520, 860, CV_8UC3, cv::Scalar(255, 255, 255));
      double x_max = 0, y_max = 0.1, chance = 1;
      for (const auto& c : e.conditions) x_max = std::max(x_max, static_cast<double>(c.n_train));
      std::vector<std::vector<Scores>> s(plan.rois.size());
      for (size_t r = 0; r < plan.rois.size(); ++r)
        for (const auto& c : e.conditions) {
          const auto jdx = static_cast<size_t>(c.jobs[r]);
          s[r].push_back(score(plan.jobs[jdx], results[jdx], e.scored, false, C));
          y_max = std::max(y_max, s[r].back().accuracy);
          chance = std::min(chance, s[r].back().chance);
        }
      plot::Axes ax(img, cv::Rect(90, 50, 560, 400), 0, x_max * 1.05, 0,
                    std::min(1.0, std::ceil(y_max * 10 + 0.5) / 10));
      ax.frame("decoding real test fMRI: synthetic training sets (solid) vs real (dashed)", "training images",
               "accuracy");
      ax.line(0, chance, x_max * 1.05, chance, plot::kGrey, 1, true);
      ax.text(x_max * 0.8, chance, "chance", plot::kGrey);
      std::vector<std::pair<std::string, cv::Scalar>> legend;
      for (size_t r = 0; r < plan.rois.size(); ++r) {
        std::vector<double> xs, ys;
        for (size_t k = 1; k < e.conditions.size(); ++k)
          xs.push_back(static_cast<double>(e.conditions[k].n_train)), ys.push_back(s[r][k].accuracy);
        ax.polyline(xs, ys, plot::color(static_cast<int>(r)));
        ax.line(0, s[r][0].accuracy, x_max * 1.05, s[r][0].accuracy, plot::color(static_cast<int>(r)), 1,
                true);
        legend.emplace_back(plan.rois[r].name, plot::color(static_cast<int>(r)));
      }
      plot::Axes key(img, cv::Rect(660, 50, 190, 400), 0, 1, 0, 1);
      key.legend(legend);
      plot::save_png((fs::path(run_dir) / "decoding_learning_curve.png").string(), img);
    }
  }
  // Confusion matrices of the first experiment's first condition, one per ROI.
  if (plan.experiments.empty()) return;
  const auto& e = plan.experiments.front();
  const int per_row = static_cast<int>(std::min<size_t>(4, plan.rois.size())), cell = 230;
  const int rows = static_cast<int>((plan.rois.size() + per_row - 1) / per_row);
  cv::Mat img(rows * (cell + 60) + 50, per_row * (cell + 100) + 20, CV_8UC3, cv::Scalar(255, 255, 255));
  plot::put_text(img,
                 e.group + "/" + e.name + ", " + e.conditions[0].name +
                     " decoder on real test responses (rows: true category, columns: predicted)",
                 {10, 20}, 0.5, plot::kBlack);
  for (size_t r = 0; r < plan.rois.size(); ++r) {
    const auto jdx = static_cast<size_t>(e.conditions[0].jobs[r]);
    const Scores s = score(plan.jobs[jdx], results[jdx], e.scored, false, C);
    std::vector<double> values(s.confusion.begin(), s.confusion.end());
    double vmax = 1;
    for (double v : values) vmax = std::max(vmax, v);
    const int x = 90 + static_cast<int>(r % per_row) * (cell + 100),
              y = 70 + static_cast<int>(r / per_row) * (cell + 60);
    std::ostringstream title;
    title.precision(2);
    title << plan.rois[r].name << ": accuracy " << s.accuracy;
    plot::heatmap(img, cv::Rect(x, y, cell, cell), values, static_cast<int>(C), static_cast<int>(C), vmax,
                  title.str(), plan.classes, plan.classes);
  }
  plot::save_png((fs::path(run_dir) / "decoding_confusion.png").string(), img);
}

}  // namespace deepvox::decode
