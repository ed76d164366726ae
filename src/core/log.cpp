#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

#include "core/mpi.h"

namespace deepvox::log {

void init(int rank, int size, const std::string& level) {
  auto logger = spdlog::stderr_color_mt("deepvox");
  spdlog::set_default_logger(logger);
  std::string lvl = level;
  if (const char* env = std::getenv("DEEPVOX_LOG_LEVEL")) lvl = env;
  if (lvl.empty()) lvl = "info";
  auto parsed = spdlog::level::from_str(lvl);
  // Rank 0 speaks for the job; other ranks only report what is wrong with them.
  if (rank != 0 && parsed < spdlog::level::warn) parsed = spdlog::level::warn;
  spdlog::set_level(parsed);
  if (size > 1) {
    spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%^%l%$] [rank " + std::to_string(rank) + "/" + std::to_string(size) +
                        " " + host_name() + "] %v");
  } else {
    spdlog::set_pattern("[%Y-%m-%d %H:%M:%S] [%^%l%$] %v");
  }
}

}  // namespace deepvox::log
