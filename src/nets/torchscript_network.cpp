#include "nets/torchscript_network.h"

#include <torch/script.h>

#include <stdexcept>

#include "core/log.h"

namespace deepvox::nets {

namespace {

class TorchScriptNetwork : public Network {
 public:
  TorchScriptNetwork(const std::string& path, const std::string& device, int probe_size)
      : path_(path), device_(device) {
    try {
      module_ = torch::jit::load(path, device_);
    } catch (const c10::Error& e) {
      throw std::runtime_error("cannot load TorchScript model " + path + ": " + e.what_without_backtrace());
    }
    module_.eval();
    for (auto p : module_.parameters()) {
      p.set_requires_grad(false);
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
    if (auto method = module_.find_method("layer_names")) {
      const c10::IValue names = (*method)({});  // keep alive: toListRef() refers into it
      for (const auto& name : names.toListRef()) names_.push_back(name.toStringRef());
    } else {
      at::NoGradGuard no_grad;
      int size = probe_size > 0 ? probe_size : 224;
      for (const auto& entry : run(at::zeros({1, 3, size, size}, at::TensorOptions(device_)))) {
        names_.push_back(entry.key().toStringRef());
      }
    }
    if (names_.empty()) throw std::runtime_error("TorchScript model " + path + " returns no layers");
    freeze();
  }

  std::vector<std::string> layer_names() const override { return names_; }

  std::map<std::string, at::Tensor> forward(const at::Tensor& x,
                                            const std::vector<std::string>& layers) override {
    check_layers(*this, layers);
    auto dict = run(x.to(device_));
    std::map<std::string, at::Tensor> out;
    for (const auto& name : layers) {
      auto it = dict.find(name);
      if (it == dict.end()) {
        throw std::runtime_error("TorchScript model " + path_ + " did not return layer '" + name + "'");
      }
      out[name] = it->value().toTensor();
    }
    return out;
  }

  std::string weights_path() const override { return path_; }
  std::string name() const override { return "torchscript"; }

 private:
  c10::Dict<c10::IValue, c10::IValue> run(const at::Tensor& x) {
    c10::IValue result;
    try {
      result = module_.forward({x});
    } catch (const c10::Error& e) {
      throw std::runtime_error("TorchScript model " + path_ + " failed on input " +
                               std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) + ": " +
                               e.what_without_backtrace());
    }
    if (!result.isGenericDict()) {
      throw std::runtime_error("TorchScript model " + path_ +
                               ": forward(x) must return Dict[str, Tensor], not " + result.tagKind());
    }
    return result.toGenericDict();
  }

  // Freezing needs a module that does not mutate its attributes in forward; any other keeps running
  // unfrozen (same results, slower), with a warning. LibTorch 1.13 inlines the submodules' methods into
  // the frozen graph only while the graph executor optimizes: frozen under maximize's
  // setGraphExecutorOptimize(false), the graph kept calls to methods freezing had removed.
  void freeze() {
    const GraphExecutorOptimizeScope optimize_while_freezing(true);
    try {
      module_ = torch::jit::freeze(module_);
    } catch (const c10::Error& e) {
      log::warn("TorchScript model {} cannot be frozen, running it unfrozen: {}", path_,
                e.what_without_backtrace());
    }
  }

  std::string path_;
  at::Device device_;
  torch::jit::Module module_;
  std::vector<std::string> names_;
};

}  // namespace

GraphExecutorOptimizeScope::GraphExecutorOptimizeScope(bool optimize)
    : saved_(torch::jit::getGraphExecutorOptimize()) {
  torch::jit::setGraphExecutorOptimize(optimize);
}
GraphExecutorOptimizeScope::~GraphExecutorOptimizeScope() { torch::jit::setGraphExecutorOptimize(saved_); }

std::unique_ptr<Network> make_torchscript_network(const std::string& path, const std::string& device,
                                                  int probe_size) {
  return std::make_unique<TorchScriptNetwork>(path, device, probe_size);
}

}  // namespace deepvox::nets
