#include "store/queue.h"

#include <rocksdb/db.h>

namespace titand::store {

Result<ScanResult> scanDue(Store& store, uint32_t host_id, Micros now, size_t max,
                           const std::function<ScanDecision(const model::ItemKey&)>& decide,
                           Micros from) {
  std::string lower = queueKeyPrefix(host_id, from);
  std::string upper = queueKeyPrefix(host_id, now + 1);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions options;
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      store.db()->NewIterator(options, store.family(kQueueFamily)));

  ScanResult result;
  bool stopped = false;
  for (it->SeekToFirst(); it->Valid() && result.entries.size() < max; it->Next()) {
    auto decoded = decodeQueueKey(it->key().ToStringView());
    if (!decoded.isOk()) return decoded.status();
    ScanDecision decision = decide(decoded.value().item);
    if (decision == ScanDecision::kSkip) continue;
    if (decision == ScanDecision::kStop) {
      stopped = true;
      break;
    }
    result.entries.push_back({it->key().ToString(), decoded.value().item, decoded.value().due});
  }
  if (!it->status().ok()) {
    return errorStatus(ErrorCode::kIo, "queue scan of host {} failed: {}", host_id,
                       it->status().ToString());
  }
  result.exhausted = !stopped && !it->Valid();
  return result;
}

Micros nextDueAfter(Store& store, uint32_t host_id, Micros after) {
  std::string end = queueKeyPrefix(host_id + 1, 0);
  rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &end_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      store.db()->NewIterator(options, store.family(kQueueFamily)));
  it->Seek(queueKeyPrefix(host_id, after + 1));
  if (!it->Valid()) return kNoDueTime;
  auto decoded = decodeQueueKey(it->key().ToStringView());
  return decoded.isOk() ? decoded.value().due : kNoDueTime;
}

void enqueue(Store& store, rocksdb::WriteBatch* batch, uint32_t host_id, Micros due,
             const model::ItemKey& item) {
  batch->Put(store.family(kQueueFamily), queueKey(host_id, due, item), "").PermitUncheckedError();
}

}  // namespace titand::store
