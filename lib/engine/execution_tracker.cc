#include "engine/execution_tracker.h"

#include <cstring>

namespace titand::engine {

size_t IdHash::operator()(const model::Id& id) const {
  size_t value;
  std::memcpy(&value, id.data(), sizeof value);
  return value;
}

ExecutionTracker::Progress* ExecutionTracker::load(const model::Id& execution) {
  if (auto it = progress_.find(execution); it != progress_.end()) return &it->second;
  auto record = store_->getExecution(execution);
  if (!record.isOk() || !record.value().has_value()) {
    log_->error("execution {} of a claimed item cannot be read: {}", model::idToString(execution),
                record.isOk() ? "not found" : record.status().toString());
    return nullptr;
  }
  store::StateCounts counts = store_->getCounts(execution);
  Progress progress;
  progress.record = std::move(*record.value());
  progress.succeeded = counts[static_cast<int>(model::ItemState::kSucceeded)];
  progress.failed = counts[static_cast<int>(model::ItemState::kFailed)];
  return &progress_.emplace(execution, std::move(progress)).first->second;
}

void ExecutionTracker::putRecord(const model::Execution& record, rocksdb::WriteBatch* batch) {
  batch->Put(store_->family(store::kExecutionsFamily), store::idKey(record.id), record.toJson())
      .PermitUncheckedError();
}

void ExecutionTracker::onClaim(const model::Id& execution, Micros now, rocksdb::WriteBatch* batch) {
  Progress* progress = load(execution);
  if (progress == nullptr || progress->record.status != model::ExecutionStatus::kQueued) return;
  progress->record.status = model::ExecutionStatus::kRunning;
  progress->record.started_at = now;
  putRecord(progress->record, batch);
}

void ExecutionTracker::onTerminal(const model::Id& execution, bool succeeded, Micros now,
                                  rocksdb::WriteBatch* batch) {
  Progress* progress = load(execution);
  if (progress == nullptr) return;
  (succeeded ? progress->succeeded : progress->failed)++;
  model::Execution& record = progress->record;
  if (progress->succeeded + progress->failed < static_cast<int64_t>(record.total_items)) return;

  if (progress->failed == 0) {
    record.status = model::ExecutionStatus::kCompleted;
  } else if (progress->succeeded == 0) {
    record.status = model::ExecutionStatus::kFailed;
  } else {
    record.status = model::ExecutionStatus::kCompletedWithErrors;
  }
  record.finished_at = now;
  if (record.started_at == 0) record.started_at = now;
  putRecord(record, batch);
  log_->debug("execution {} finished: {} ({} items, {} failed)", model::idToString(record.id),
              model::executionStatusName(record.status), record.total_items, progress->failed);
  progress_.erase(execution);
}

}  // namespace titand::engine
