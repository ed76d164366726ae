// Scores the decoder jobs per experiment, condition and ROI (accuracy, chance, binomial p-value,
// confusion), writes decoding.h5's groups, the PNG figures and the log report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decode/plan.h"
#include "decode/runner.h"
#include "io/h5.h"

namespace deepvox::decode {

struct Scores {
  std::int64_t n = 0, correct = 0, n_template = 0, correct_template = 0;
  double accuracy = 0, chance = 0, p_value = 1, template_accuracy = 0, template_p_value = 1;
  std::vector<std::int64_t> confusion, template_confusion;  // C x C, rows true, columns predicted
};

// Scores of one job on the test items selected by `scored` (or, with complement, the others).
Scores score(const Job& job, const JobResult& result, const std::vector<bool>& scored, bool complement,
             std::int64_t n_classes);

void write_experiments(const h5::File& f, const Plan& plan, const std::vector<JobResult>& results);
std::vector<std::string> describe(const Plan& plan, const std::vector<JobResult>& results);
void draw_figures(const Plan& plan, const std::vector<JobResult>& results, const std::string& run_dir);

}  // namespace deepvox::decode
