// Clock: wall time in microseconds since the Unix epoch, injectable for tests.
//
// Due times of queued items are persisted, so they use wall time, not a monotonic clock.
// Thread safety: SystemClock is stateless; ManualClock is for single-threaded tests.
#pragma once

#include <atomic>
#include <cstdint>

namespace titand {

using Micros = int64_t;

constexpr Micros kMicrosPerMilli = 1000;
constexpr Micros kMicrosPerSecond = 1000 * 1000;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros nowMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  Micros nowMicros() const override;
  static SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Micros start) : now_(start) {}
  Micros nowMicros() const override { return now_.load(); }
  void advance(Micros delta) { now_ += delta; }
  void set(Micros now) { now_ = now; }

 private:
  std::atomic<Micros> now_;
};

// Formats a wall time as RFC 3339 UTC with millisecond precision, such as
// "2026-12-04T15:01:02.123Z".
std::string formatTimestamp(Micros micros);

}  // namespace titand
