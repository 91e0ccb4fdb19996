#include "common/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>

namespace titand {
namespace {

std::mutex& registryMutex() {
  static std::mutex mutex;
  return mutex;
}

spdlog::level::level_enum& currentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

}  // namespace

void initLogging(spdlog::level::level_enum level) {
  std::lock_guard lock(registryMutex());
  currentLevel() = level;
  spdlog::set_level(level);
  spdlog::apply_all(
      [level](const std::shared_ptr<spdlog::logger>& logger) { logger->set_level(level); });
}

std::shared_ptr<spdlog::logger> componentLogger(const std::string& component) {
  std::lock_guard lock(registryMutex());
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component,
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  logger->set_level(currentLevel());
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

bool RateLimitedLog::allow(uint64_t* dropped) {
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= interval_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ < limit_) {
    ++used_;
    *dropped = dropped_;
    dropped_ = 0;
    return true;
  }
  ++dropped_;
  return false;
}

}  // namespace titand
