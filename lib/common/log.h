// Logging: one named spdlog logger per component, all writing to stderr (journald takes it).
//
// RateLimitedLog guards log lines that can repeat per request: it lets a few lines through
// per interval and reports how many it dropped on the next line it lets through.
// Thread safety: loggers are thread safe; a RateLimitedLog belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace titand {

// Sets up the stderr sink and the level for every component logger. Safe to call again.
void initLogging(spdlog::level::level_enum level);

// Returns the logger of a component ("ingest", "engine", "store", "api", ...), creating it
// on first use.
std::shared_ptr<spdlog::logger> componentLogger(const std::string& component);

class RateLimitedLog {
 public:
  RateLimitedLog(int lines_per_interval, std::chrono::milliseconds interval)
      : limit_(lines_per_interval), interval_(interval) {}

  // Returns true when the caller may log now. `dropped` receives the number of lines
  // suppressed since the last line that went through.
  bool allow(uint64_t* dropped);

 private:
  int limit_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point window_start_{};
  int used_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace titand
