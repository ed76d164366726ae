// Cross-validation folds over the training stimuli (run-files.md "Fit keys", decisions.md "Fit").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deepvox::fit {

// Fold of each of n training stimuli: contiguous blocks as numpy.array_split cuts them (the first
// n % k folds get one more). Throws when there are fewer stimuli than folds or k < 2.
std::vector<std::int64_t> contiguous_folds(std::int64_t n, std::int64_t k);

// Folds from a group label per training stimulus (session, run, or a user's column): the distinct
// labels, sorted ascending, are cut into k contiguous runs as numpy.array_split cuts them, so a group
// never straddles two folds. label_name names the column in errors.
std::vector<std::int64_t> grouped_folds(const std::vector<std::int64_t>& label, std::int64_t k,
                                        const std::string& label_name);

// Training rows (fold != f) and evaluation rows (fold == f), as indices into the training set.
struct FoldRows {
  std::vector<std::int64_t> train, eval;
};
FoldRows fold_rows(const std::vector<std::int64_t>& fold, std::int64_t f);

}  // namespace deepvox::fit
