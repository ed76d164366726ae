// A small convolutional autoencoder trained with LibTorch and saved as two TorchScript files: the decoder
// is a generator (latent -> RGB in 0..1) and the encoder gives the latents of training images. It lets the
// demo and the tests run seed 004's latent decoding without a downloaded generator. The modules are built
// in C++ from TorchScript source (Module::define), so no Python is involved.
//
//   encoder: x*2-1 -> conv 4x4/2 (16) -> relu -> conv 4x4/2 (32) -> relu -> conv 4x4/2 (64) -> relu -> linear
//   Z decoder: linear -> relu -> transposed conv 4x4/2 (32) -> relu -> (16) -> relu -> (3) -> sigmoid
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace deepvox::reconstruct {

struct AutoencoderOptions {
  int image_size = 64;  // multiple of 8
  std::int64_t latent_dim = 32;
  std::int64_t epochs = 40;
  std::int64_t batch_size = 32;
  double lr = 2e-3;  // Adam
  std::uint64_t seed = 0;
};

struct AutoencoderReport {
  double first_epoch_loss = 0, last_epoch_loss = 0;  // mean squared error per pixel (0..1 scale)
};

// images: float [N, 3, S, S] in 0..1 with S = options.image_size. Deterministic for a given seed and thread
// count. Writes generator_path and encoder_path (folders must exist).
AutoencoderReport train_autoencoder(const at::Tensor& images, const AutoencoderOptions& options,
                                    const std::string& generator_path, const std::string& encoder_path);

}  // namespace deepvox::reconstruct
