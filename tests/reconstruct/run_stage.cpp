// Runs reconstruct or explain from a config file without the full deepvox binary (which needs every
// module built): used to try the stages on a small real run directory. Not a test.
//   mpirun -n 2 run_stage reconstruct|explain CONFIG.yaml [key=value ...]
#include <mpi.h>

#include <iostream>

#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/threads.h"
#include "explain/explain.h"
#include "reconstruct/reconstruct.h"

int main(int argc, char** argv) {
  deepvox::MpiSession mpi(&argc, &argv);
  if (argc < 3) {
    std::cerr << "usage: run_stage reconstruct|explain CONFIG.yaml [key=value ...]\n";
    return 1;
  }
  const std::string stage = argv[1];
  std::vector<std::string> overrides(argv + 3, argv + argc);
  try {
    const auto cfg = deepvox::Config::load(argv[2], overrides);
    deepvox::log::init(deepvox::rank(), deepvox::size(), cfg.str("log_level"));
    deepvox::set_progress_mode(deepvox::parse_progress_mode(cfg.str("progress")));
    deepvox::apply_threads(cfg);
    if (stage == "reconstruct")
      deepvox::reconstruct::run(cfg, MPI_COMM_WORLD);
    else if (stage == "explain")
      deepvox::explain::run(cfg, MPI_COMM_WORLD);
    else
      throw deepvox::ConfigError("unknown stage " + stage);
  } catch (const deepvox::ConfigError& e) {
    if (deepvox::is_root()) std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  return 0;
}
