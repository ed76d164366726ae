#include "core/threads.h"

#include <omp.h>
#include <sched.h>

#include "core/log.h"

namespace deepvox {

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

int apply_threads(const Config& cfg) {
  long n = cfg.integer("threads");
  if (n < 0) throw ConfigError("threads must be >= 0 (0 = the CPUs in the rank's affinity mask)");
  int threads = n > 0 ? static_cast<int>(n) : affinity_cpus();
  omp_set_num_threads(threads);
  log::info("threads per rank: {} ({})", threads, n > 0 ? "from config" : "affinity mask");
  return threads;
}

}  // namespace deepvox
