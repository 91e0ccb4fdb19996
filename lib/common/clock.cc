#include "common/clock.h"

#include <chrono>
#include <ctime>
#include <string>

#include <fmt/format.h>

namespace titand {

Micros SystemClock::nowMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

std::string formatTimestamp(Micros micros) {
  if (micros <= 0) return "";
  time_t seconds = static_cast<time_t>(micros / kMicrosPerSecond);
  struct tm parts {};
  gmtime_r(&seconds, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900,
                     parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                     (micros % kMicrosPerSecond) / kMicrosPerMilli);
}

}  // namespace titand
