// Forward time of the Keras Inception V3 (all taps through mixed10), not a test:
//   bench_nets_inception [batch=8] [size=299] [threads=2] [repeats=5]
#include <ATen/Parallel.h>
#include <torch/types.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "nets/network.h"

int main(int argc, char** argv) {
  int batch = argc > 1 ? std::atoi(argv[1]) : 8;
  int size = argc > 2 ? std::atoi(argv[2]) : 299;
  int threads = argc > 3 ? std::atoi(argv[3]) : 2;
  int repeats = argc > 4 ? std::atoi(argv[4]) : 5;
  at::set_num_threads(threads);
  auto t_load = std::chrono::steady_clock::now();
  auto net = deepvox::nets::load_network({"inception_v3"});
  std::cout << "load " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count()
            << " s\n";
  torch::NoGradGuard no_grad;
  at::Tensor x = at::rand({batch, 3, size, size}) * 2 - 1;
  std::vector<std::string> layers = {"mixed2", "mixed5", "mixed7", "mixed10"};
  net->forward(x, layers);  // warm-up
  double best = 1e30, total = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    net->forward(x, layers);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  std::cout << "inception_v3 batch " << batch << " " << size << "px threads " << threads << ": best " << best
            << " s, mean " << total / repeats << " s, " << batch / best << " images/s\n";
  return 0;
}
