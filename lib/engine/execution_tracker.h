// ExecutionTracker: progress of the executions that have items claimed in this process,
// so the write that finishes an execution's last item also writes its final status.
// Thread safety: loop thread only.
#pragma once

#include <unordered_map>

#include <rocksdb/write_batch.h>

#include "common/clock.h"
#include "common/log.h"
#include "model/model.h"
#include "store/store.h"

namespace titand::engine {

struct IdHash {
  size_t operator()(const model::Id& id) const;
};

class ExecutionTracker {
 public:
  explicit ExecutionTracker(store::Store* store) : store_(store), log_(componentLogger("engine")) {}

  // Marks the execution running when an item of it is first claimed.
  void onClaim(const model::Id& execution, Micros now, rocksdb::WriteBatch* batch);
  // Counts a terminal item; when it was the last, adds the final status to `batch`.
  void onTerminal(const model::Id& execution, bool succeeded, Micros now,
                  rocksdb::WriteBatch* batch);
  size_t active() const { return progress_.size(); }

 private:
  struct Progress {
    model::Execution record;
    int64_t succeeded = 0;
    int64_t failed = 0;
  };
  Progress* load(const model::Id& execution);
  void putRecord(const model::Execution& record, rocksdb::WriteBatch* batch);

  store::Store* store_;
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<model::Id, Progress, IdHash> progress_;
};

}  // namespace titand::engine
