#include "reconstruct/generator.h"

#include <torch/script.h>

#include <stdexcept>

namespace deepvox::reconstruct {

class ScriptModule {
 public:
  ScriptModule(const std::string& path, const std::string& device, const char* what)
      : path_(path), what_(what) {
    try {
      module_ = torch::jit::load(path, at::Device(device));
    } catch (const c10::Error& e) {
      throw std::runtime_error(std::string("cannot load TorchScript ") + what + " " + path + ": " +
                               e.what_without_backtrace());
    }
    module_.eval();
    for (auto p : module_.parameters()) p.set_requires_grad(false);
  }
  // An integer from a method or attribute `name`; -1 when the module has neither.
  std::int64_t declared_int(const std::string& name) {
    if (auto m = module_.find_method(name)) return (*m)({}).toInt();
    if (module_.hasattr(name)) return module_.attr(name).toInt();
    return -1;
  }
  at::Tensor forward(const at::Tensor& x) {
    c10::IValue out;
    try {
      out = module_.forward({x});
    } catch (const c10::Error& e) {
      throw std::runtime_error(std::string("TorchScript ") + what_ + " " + path_ + " failed on input " +
                               c10::str(x.sizes()) + ": " + e.what_without_backtrace());
    }
    if (!out.isTensor())
      throw std::runtime_error(std::string("TorchScript ") + what_ + " " + path_ + " must return a tensor");
    return out.toTensor();
  }

 private:
  std::string path_;
  const char* what_;
  torch::jit::Module module_;
};

Generator::Generator(const std::string& path, const std::string& device)
    : path_(path), module_(std::make_shared<ScriptModule>(path, device, "generator")) {
  latent_dim_ = module_->declared_int("latent_dim");
  if (latent_dim_ <= 0)
    throw std::runtime_error("generator " + path +
                             " must declare its latent size (method or attribute latent_dim)");
  at::NoGradGuard no_grad;
  at::Tensor probe = module_->forward(at::zeros({1, latent_dim_}, at::TensorOptions(at::Device(device))));
  if (probe.dim() != 4 || probe.size(1) != 3 || probe.size(2) != probe.size(3))
    throw std::runtime_error("generator " + path + " must return square RGB images [N,3,S,S], got " +
                             c10::str(probe.sizes()));
  image_size_ = static_cast<int>(probe.size(2));
}

at::Tensor Generator::render(const at::Tensor& z) const { return module_->forward(z); }

Encoder::Encoder(const std::string& path, const std::string& device, int fallback_size)
    : path_(path), module_(std::make_shared<ScriptModule>(path, device, "encoder")) {
  const std::int64_t s = module_->declared_int("image_size");
  image_size_ = static_cast<int>(s > 0 ? s : fallback_size);
  if (image_size_ <= 0)
    throw std::runtime_error("encoder " + path +
                             " must declare its input size (method or attribute image_size)");
}

at::Tensor Encoder::encode(const at::Tensor& rgb01) const {
  at::Tensor z = module_->forward(rgb01);
  if (z.dim() != 2 || z.size(0) != rgb01.size(0))
    throw std::runtime_error("encoder " + path_ + " must return latents [N, Z], got " + c10::str(z.sizes()));
  return z;
}

}  // namespace deepvox::reconstruct
