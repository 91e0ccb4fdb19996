#include "policy/retry_policy.h"

#include <algorithm>

#include "policy/backoff.h"

namespace titand::policy {

Outcome classifyHttpStatus(long status) {
  if (status >= 200 && status <= 299) return Outcome::kSuccess;
  switch (status) {
    case 408:  // Request Timeout
    case 425:  // Too Early
    case 429:  // Too Many Requests
    case 500:  // Internal Server Error
    case 502:  // Bad Gateway
    case 503:  // Service Unavailable
    case 504:  // Gateway Timeout
      return Outcome::kRetry;
    default:
      return Outcome::kFail;
  }
}

Micros chooseRetryDelay(uint32_t retry_number, std::optional<Micros> retry_after,
                        const RetryDelayConfig& config, std::mt19937_64& rng) {
  Micros delay = backoffDelay(retry_number, config.base, config.cap, rng);
  if (retry_after.has_value()) {
    Micros requested =
        std::clamp<Micros>(*retry_after, 0, std::max<Micros>(config.retry_after_cap, 0));
    delay = std::max(delay, requested);
  }
  return delay;
}

}  // namespace titand::policy
