#include "policy/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace titand::policy {
namespace {

// Absorbs rounding so that a token computed to arrive at nextAvailable() is there then.
constexpr double kTokenEpsilon = 1e-9;

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, uint32_t burst) {
  setRate(rate_per_second);
  capacity_ = std::max<uint32_t>(burst, 1);
  tokens_ = capacity_;
}

void TokenBucket::setRate(double rate_per_second) {
  unlimited_ = !(rate_per_second > 0) || std::isinf(rate_per_second);
  rate_per_micro_ = unlimited_ ? 0 : rate_per_second / static_cast<double>(kMicrosPerSecond);
}

double TokenBucket::tokensAt(Micros now) const {
  if (!started_) return capacity_;
  // A clock that went back adds no tokens, and tryTake restarts the refill from `now`.
  if (now <= last_) return tokens_;
  double refill = static_cast<double>(now - last_) * rate_per_micro_;
  return std::min(capacity_, tokens_ + refill);
}

bool TokenBucket::tryTake(Micros now) {
  if (unlimited_) return true;
  tokens_ = tokensAt(now);
  last_ = now;
  started_ = true;
  if (tokens_ < 1 - kTokenEpsilon) return false;
  tokens_ = std::max(0.0, tokens_ - 1);
  return true;
}

Micros TokenBucket::nextAvailable(Micros now) const {
  if (unlimited_) return now;
  double missing = 1 - tokensAt(now);
  if (missing <= kTokenEpsilon) return now;
  // Rounding up keeps the result at or after the moment the token is complete. Leaving out
  // half the epsilon stops a division error of 1e-16 from adding a whole microsecond, and
  // tryTake still finds the token because it accepts 1 - kTokenEpsilon.
  double wait = std::ceil((missing - kTokenEpsilon / 2) / rate_per_micro_);
  constexpr Micros kMaxMicros = std::numeric_limits<Micros>::max();
  if (!(wait < static_cast<double>(kMaxMicros - std::max<Micros>(now, 0)))) return kMaxMicros;
  return now + static_cast<Micros>(wait);
}

size_t TokenBucket::available(Micros now) const {
  if (unlimited_) return std::numeric_limits<size_t>::max();
  return static_cast<size_t>(std::floor(tokensAt(now) + kTokenEpsilon));
}

void TokenBucket::reconfigure(double rate_per_second, uint32_t burst) {
  bool was_unlimited = unlimited_;
  setRate(rate_per_second);
  capacity_ = std::max<uint32_t>(burst, 1);
  // NOTE: without a current time, the tokens earned since the last tryTake are credited at
  // the new rate on the next call, so a rate change applies from that tryTake on.
  tokens_ = was_unlimited ? capacity_ : std::min(tokens_, capacity_);
}

}  // namespace titand::policy
