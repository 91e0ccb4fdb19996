// Retry decisions for one HTTP attempt: whether a status code is worth retrying, and how
// long to wait before the retry.
//
// Pure functions that cannot fail. The caller passes the random generator.
// Thread safety: safe from any thread, given a generator that the calling thread owns.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "common/clock.h"

namespace titand::policy {

enum class Outcome { kSuccess, kRetry, kFail };

// Returns kSuccess for 2xx and kFail for most other statuses. Returns kRetry for 408, 425,
// 429, 500, 502, 503 and 504, because these report a condition that may pass.
Outcome classifyHttpStatus(long status);

struct RetryDelayConfig {
  Micros base = 0;             // Backoff ceiling of the first retry.
  Micros cap = 0;              // Largest backoff ceiling.
  Micros retry_after_cap = 0;  // Maximum delay taken from a Retry-After header.
};

// Returns the delay before retry number `retry_number` (1 for the first retry): the
// jittered exponential backoff, or the Retry-After delay capped at retry_after_cap when
// that is longer.
Micros chooseRetryDelay(uint32_t retry_number, std::optional<Micros> retry_after,
                        const RetryDelayConfig& config, std::mt19937_64& rng);

}  // namespace titand::policy
