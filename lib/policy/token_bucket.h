// TokenBucket: a per-host request rate limiter that refills continuously at a fixed rate.
//
// The caller passes the current time to every call and the bucket never reads a clock, so
// tests drive it with made-up times. Methods cannot fail and report nothing.
// Thread safety: not thread safe; each bucket belongs to one thread (the engine loop).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/clock.h"

namespace titand::policy {

class TokenBucket {
 public:
  // A rate of 0 means unlimited, and so does a negative, NaN or infinite rate. A burst of 0 is
  // treated as 1. The bucket starts full.
  TokenBucket(double rate_per_second, uint32_t burst);

  // Takes one token if there is one at `now`.
  bool tryTake(Micros now);

  // Returns the earliest time at or after `now` when a token is there: `now` itself when
  // one is available already.
  Micros nextAvailable(Micros now) const;

  // Returns the number of whole tokens there at `now`, or SIZE_MAX when unlimited.
  size_t available(Micros now) const;

  // Changes the rate and the burst. Tokens above the new burst are dropped, and a bucket
  // that was unlimited starts full.
  void reconfigure(double rate_per_second, uint32_t burst);

  bool unlimited() const { return unlimited_; }

 private:
  void setRate(double rate_per_second);
  double tokensAt(Micros now) const;

  bool unlimited_ = true;
  double rate_per_micro_ = 0;  // Tokens added per microsecond.
  double capacity_ = 1;
  double tokens_ = 1;  // Tokens at time last_.
  Micros last_ = 0;
  bool started_ = false;  // False until the first tryTake sets last_.
};

}  // namespace titand::policy
