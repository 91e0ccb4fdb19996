// HostState: what the scheduler tracks in memory for one origin (scheme, host, port).
// Only hints and limits live here; the queue itself is in RocksDB.
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "policy/token_bucket.h"

namespace titand::engine {

constexpr Micros kNever = std::numeric_limits<Micros>::max();

struct HostState {
  HostState(uint32_t host_id, std::string host_origin, const HostLimits& host_limits)
      : id(host_id),
        origin(std::move(host_origin)),
        limits(host_limits),
        bucket(host_limits.requests_per_second, host_limits.burst) {}

  uint32_t id;
  std::string origin;
  HostLimits limits;
  policy::TokenBucket bucket;
  uint32_t in_flight = 0;
  // Earliest due time known for this host's queue: 0 means "look", kNever means empty.
  Micros next_due = 0;
  Micros hold_until = 0;  // Set by Retry-After on 429 or 503.
  // Due time of the last claimed queue key. Keys before it are deleted or in flight, so claim
  // scans seek here instead of walking tombstones; every enqueue lowers it to the new due.
  Micros scan_from = 0;
  // Retries since the last summary line, for one log line per retry burst.
  uint64_t retries_since_log = 0;
  std::string last_retry_reason;
  std::string last_retry_item;
};

}  // namespace titand::engine
