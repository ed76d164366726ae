// Collects the activations a caller asked for while a network runs forward. Networks offer every named
// output as they compute it and stop as soon as complete() is true, so nothing past the deepest
// requested layer is computed.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace deepvox::nets {

class Taps {
 public:
  explicit Taps(const std::vector<std::string>& wanted) : wanted_(wanted.begin(), wanted.end()) {}
  bool wants(const std::string& name) const { return wanted_.count(name) > 0; }
  void offer(const std::string& name, const at::Tensor& t) {
    if (wants(name)) taken_[name] = t;
  }
  bool complete() const { return taken_.size() == wanted_.size(); }
  std::map<std::string, at::Tensor> take() { return std::move(taken_); }

 private:
  std::set<std::string> wanted_;
  std::map<std::string, at::Tensor> taken_;
};

}  // namespace deepvox::nets
