// One logger for the whole program: timestamps, rank 0 prints info, every rank prints warnings
// and errors tagged with its rank and host. Level from --log-level or DEEPVOX_LOG_LEVEL.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace deepvox::log {

void init(int rank, int size, const std::string& level = "");

template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace deepvox::log
