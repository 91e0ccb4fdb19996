// Queue: reads of the "queue" column family, where each key is host id, due time and item
// key. Finding a host's due items is one seek to the host's first key plus a scan that
// stops at the first key not yet due, so its cost does not grow with the queue size.
// Thread safety: any thread (RocksDB iterators are per call).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "store/store.h"

namespace titand::store {

inline constexpr Micros kNoDueTime = std::numeric_limits<Micros>::max();

struct DueEntry {
  std::string queue_key;
  model::ItemKey item;
  Micros due = 0;
};

enum class ScanDecision { kTake, kSkip, kStop };

struct ScanResult {
  std::vector<DueEntry> entries;
  bool exhausted = false;  // True when no further due key of the host exists.
};

// Returns up to `max` keys of `host_id` that are due at `now`, oldest first. `decide` receives
// each key and may skip it (already claimed) or stop the scan (rate limit reached).
Result<ScanResult> scanDue(Store& store, uint32_t host_id, Micros now, size_t max,
                           const std::function<ScanDecision(const model::ItemKey&)>& decide,
                           Micros from = 0);

// Returns the earliest due time of `host_id` after `after`, or kNoDueTime.
Micros nextDueAfter(Store& store, uint32_t host_id, Micros after);

// Adds a queue key for an item to a batch.
void enqueue(Store& store, rocksdb::WriteBatch* batch, uint32_t host_id, Micros due,
             const model::ItemKey& item);

}  // namespace titand::store
