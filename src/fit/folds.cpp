#include "fit/folds.h"

#include <algorithm>
#include <map>

#include "core/config.h"

namespace deepvox::fit {
namespace {

// numpy.array_split: part of each of n items when cut into k parts.
std::vector<std::int64_t> array_split_parts(std::int64_t n, std::int64_t k) {
  std::vector<std::int64_t> part(static_cast<size_t>(n));
  const std::int64_t base = n / k, extra = n % k;
  std::int64_t i = 0;
  for (std::int64_t f = 0; f < k; ++f) {
    const std::int64_t size = base + (f < extra ? 1 : 0);
    for (std::int64_t j = 0; j < size; ++j) part[static_cast<size_t>(i++)] = f;
  }
  return part;
}

void check_k(std::int64_t k) {
  if (k < 2) throw ConfigError("fit.folds must be at least 2 (got " + std::to_string(k) + ")");
}

}  // namespace

std::vector<std::int64_t> contiguous_folds(std::int64_t n, std::int64_t k) {
  check_k(k);
  if (n < k)
    throw std::runtime_error("fit: /split/train has " + std::to_string(n) + " stimuli but fit.folds = " +
                             std::to_string(k) + ": every fold needs at least one validation stimulus");
  if (n < k + 1)
    throw std::runtime_error("fit: /split/train has " + std::to_string(n) + " stimuli, too few for " +
                             std::to_string(k) + " folds with at least two training stimuli each");
  return array_split_parts(n, k);
}

std::vector<std::int64_t> grouped_folds(const std::vector<std::int64_t>& label, std::int64_t k,
                                        const std::string& label_name) {
  check_k(k);
  std::vector<std::int64_t> distinct = label;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  const auto g = static_cast<std::int64_t>(distinct.size());
  if (g < k)
    throw std::runtime_error(
        "fit: fit.fold_by = " + label_name + " gives " + std::to_string(g) +
        " distinct groups among the training stimuli, fewer than fit.folds = " + std::to_string(k));
  std::vector<std::int64_t> group_fold = array_split_parts(g, k);
  std::map<std::int64_t, std::int64_t> fold_of;
  for (std::int64_t i = 0; i < g; ++i)
    fold_of[distinct[static_cast<size_t>(i)]] = group_fold[static_cast<size_t>(i)];
  std::vector<std::int64_t> fold(label.size());
  for (size_t i = 0; i < label.size(); ++i) fold[i] = fold_of[label[i]];
  // Each fold must leave at least two stimuli to train on.
  for (std::int64_t f = 0; f < k; ++f) {
    auto out = std::count_if(fold.begin(), fold.end(), [&](std::int64_t x) { return x != f; });
    if (out < 2)
      throw std::runtime_error("fit: fold " + std::to_string(f) + " of fit.fold_by = " + label_name +
                               " leaves fewer than two training stimuli");
  }
  return fold;
}

FoldRows fold_rows(const std::vector<std::int64_t>& fold, std::int64_t f) {
  FoldRows r;
  for (size_t i = 0; i < fold.size(); ++i)
    (fold[i] == f ? r.eval : r.train).push_back(static_cast<std::int64_t>(i));
  return r;
}

}  // namespace deepvox::fit
