// TorchScript generators and encoders (seed 004's latent space, and reconstruct's optional image prior).
//
// A generator's forward(z) takes float [N, Z] and returns RGB float [N, 3, H, W] in 0..1; Z comes from its
// method latent_dim() (or the attribute latent_dim). An encoder's forward(x) takes RGB [N, 3, S, S] in 0..1
// and returns [N, Z]; S comes from its method image_size() (or the attribute), else the generator's output.
// The modules' weights are frozen when loaded; every error names the file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>

namespace deepvox::reconstruct {

class ScriptModule;  // the loaded torch::jit::Module (generator.cpp)

class Generator {
 public:
  Generator(const std::string& path, const std::string& device);
  std::int64_t latent_dim() const { return latent_dim_; }
  int image_size() const { return image_size_; }  // side of its output (from a probe)
  // Differentiable with respect to z.
  at::Tensor render(const at::Tensor& z) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::shared_ptr<ScriptModule> module_;
  std::int64_t latent_dim_ = 0;
  int image_size_ = 0;
};

class Encoder {
 public:
  // fallback_size: the input side when the module does not declare one (0 = it must declare it).
  Encoder(const std::string& path, const std::string& device, int fallback_size);
  int image_size() const { return image_size_; }
  at::Tensor encode(const at::Tensor& rgb01) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::shared_ptr<ScriptModule> module_;
  int image_size_ = 0;
};

}  // namespace deepvox::reconstruct
