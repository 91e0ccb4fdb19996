// Exponential backoff with full jitter for retry delays.
//
// Pure functions: the caller passes the random generator, so a seeded generator gives
// repeatable delays. Nothing here fails.
// Thread safety: safe from any thread, given a generator that the calling thread owns.
#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace titand::policy {

// Returns the ceiling of the jittered delay: min(cap, base * 2^(retry_number - 1)), without
// overflow for any retry number. Retry number 0 counts as 1, and a negative base or cap
// counts as 0.
Micros backoffCeiling(uint32_t retry_number, Micros base, Micros cap);

// Returns a delay drawn uniformly from [0, backoffCeiling(retry_number, base, cap)].
// retry_number is 1 for the first retry.
Micros backoffDelay(uint32_t retry_number, Micros base, Micros cap, std::mt19937_64& rng);

}  // namespace titand::policy
