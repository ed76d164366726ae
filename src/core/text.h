// Small text helpers for log lines and error messages.
#pragma once

#include <string>
#include <vector>

namespace deepvox {

// "a, b, c"
inline std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string s;
  for (const auto& x : items) s += (s.empty() ? "" : sep) + x;
  return s;
}

// "a, b, c (and 12 more)": for messages that name ids, which may be many.
inline std::string name_some(const std::vector<std::string>& items, size_t shown = 10) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < shown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > shown) s += " (and " + std::to_string(items.size() - shown) + " more)";
  return s;
}

}  // namespace deepvox
