// A minimal stand-in for `deepvox extract|maximize` that links only the modules maximize needs, so its
// tests and benchmark can run while other stages are still being built:
//   maximize_stage_driver maximize [--config FILE] --set run_dir=runs/x --set maximize.steps=20 ...
// The real CLI (build/deepvox) takes the same --config/--set arguments.
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/threads.h"
#include "extract/extract.h"
#include "maximize/maximize.h"

int main(int argc, char** argv) {
  deepvox::MpiSession mpi(&argc, &argv);
  deepvox::log::init(deepvox::rank(), deepvox::size());
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s extract|maximize [--config FILE] [--set key=value ...]\n", argv[0]);
    return 1;
  }
  const std::string stage = argv[1];
  std::string config;
  std::vector<std::string> sets;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--config")
      config = argv[i + 1];
    else if (flag == "--set")
      sets.push_back(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 1;
    }
  }
  try {
    auto cfg = deepvox::Config::load(config, sets);
    deepvox::set_progress_mode(deepvox::parse_progress_mode(cfg.str("progress")));
    deepvox::apply_threads(cfg);
    if (stage == "extract")
      deepvox::extract::run(cfg, MPI_COMM_WORLD);
    else if (stage == "maximize")
      deepvox::maximize::run(cfg, MPI_COMM_WORLD);
    else
      throw deepvox::ConfigError("unknown stage " + stage);
  } catch (const std::exception& e) {
    deepvox::log::error("{}", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 0;
}
