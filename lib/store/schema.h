// The RocksDB layout: column families and key encodings.
//
//   default     meta keys (schema version, next host id)
//   tasks       task id (16 bytes)                        -> task JSON
//   executions  execution id (16)                         -> execution JSON
//   items       item key (execution id 16 + index u32 BE) -> WorkItem binary record
//   queue       host id u32 BE + due micros u64 BE + item key -> empty
//   inflight    item key                                  -> empty (claimed, not finished)
//   results     item key                                  -> result JSON
//   counts      execution id + item state byte            -> int64 LE, summed by a merge operator
//               (execution id all zeros: totals over all executions)
//   hosts       origin ("scheme://host:port")             -> host id u32 BE
//   files       SHA-256 hex of a dropped file             -> file record JSON
//
// Queue keys sort by host, then due time, so claiming the due items of one host is a seek
// plus a short scan, whatever the queue size. Items and results sort by execution, so an
// export is one prefix scan. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "model/model.h"

namespace titand::store {

inline constexpr const char* kTasksFamily = "tasks";
inline constexpr const char* kExecutionsFamily = "executions";
inline constexpr const char* kItemsFamily = "items";
inline constexpr const char* kQueueFamily = "queue";
inline constexpr const char* kInflightFamily = "inflight";
inline constexpr const char* kResultsFamily = "results";
inline constexpr const char* kCountsFamily = "counts";
inline constexpr const char* kHostsFamily = "hosts";
inline constexpr const char* kFilesFamily = "files";

inline constexpr std::string_view kSchemaVersionKey = "schema_version";
inline constexpr std::string_view kNextHostIdKey = "next_host_id";
inline constexpr uint32_t kSchemaVersion = 1;

// The counts of this all-zero execution id sum the counts of every execution.
inline constexpr model::Id kAllExecutions{};

constexpr size_t kQueueKeySize = 4 + 8 + model::ItemKey::kEncodedSize;

std::string encodeU32(uint32_t value);
std::string encodeU64(uint64_t value);
uint32_t decodeU32(std::string_view bytes);
uint64_t decodeU64(std::string_view bytes);

std::string queueKey(uint32_t host_id, Micros due, const model::ItemKey& item);
// The smallest queue key of a host with the given due time (a seek target).
std::string queueKeyPrefix(uint32_t host_id, Micros due);

struct DecodedQueueKey {
  uint32_t host_id = 0;
  Micros due = 0;
  model::ItemKey item;
};
Result<DecodedQueueKey> decodeQueueKey(std::string_view key);

std::string idKey(const model::Id& id);
std::string countKey(const model::Id& execution, model::ItemState state);
std::string encodeCountDelta(int64_t delta);
int64_t decodeCount(std::string_view value);

}  // namespace titand::store
