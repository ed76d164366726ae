// Runs the fit stage alone, as `deepvox fit` does, so fit's tests do not depend on every other
// module building: fit_driver [--config FILE] [--set key=value ...]. Exit 1 with the error on stderr.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/run_file.h"
#include "core/threads.h"
#include "fit/fit.h"

int main(int argc, char** argv) {
  deepvox::MpiSession mpi(&argc, &argv);
  deepvox::set_command_line(argc, argv);
  deepvox::log::init(deepvox::rank(), deepvox::size());
  try {
    std::string config;
    std::vector<std::string> sets;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--config" && i + 1 < argc) {
        config = argv[++i];
      } else if (a == "--set" && i + 1 < argc) {
        sets.push_back(argv[++i]);
      } else {
        throw deepvox::ConfigError("fit_driver: unexpected argument '" + a + "'");
      }
    }
    const auto cfg = deepvox::Config::load(config, sets);
    deepvox::apply_threads(cfg);
    deepvox::fit::run(cfg, MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    std::fflush(stderr);
    if (deepvox::size() > 1) MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
  return 0;
}
