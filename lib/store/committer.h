// Committer: group commit of the event loop's state changes to RocksDB.
//
// The loop thread adds its changes to the open batch and registers callbacks to run once
// they are durable. At the end of each loop turn flush() hands the open batch to a writer
// thread, which applies it (with a synced WAL under durability "sync") while the loop goes
// on filling the next batch. The fsync therefore never blocks the loop. Callbacks run on the
// loop thread, in commit order.
// Thread safety: every public method belongs to the loop thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rocksdb/write_batch.h>

#include "common/status.h"
#include "store/store.h"

namespace titand::store {

class Committer {
 public:
  using Callback = std::function<void(const Status&)>;
  // Observes each write: its latency in seconds and the number of records.
  using WriteObserver = std::function<void(double seconds, uint64_t records, bool ok)>;

  Committer(Store* store, uv_loop_t* loop, WriteObserver observer);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // The batch of the current loop turn.
  rocksdb::WriteBatch* batch() { return &open_->batch; }
  // Adds `delta` to the item count of `execution` in `state` (and to the totals) in the open
  // batch. Deltas of one batch are summed first, so a batch writes one merge per execution and
  // state instead of two per item transition.
  void addCount(const model::Id& execution, model::ItemState state, int64_t delta);
  // Runs `callback` after everything added so far is durable (or failed).
  void onDurable(Callback callback) { open_->callbacks.push_back(std::move(callback)); }
  // Hands the open batch to the writer thread unless a write is under way.
  void flush();
  // True when nothing is open, queued or being written.
  bool idle() const;
  // Writes what is open, waits for it, runs callbacks, and stops the writer thread.
  void shutdown();

 private:
  struct Pending {
    rocksdb::WriteBatch batch;
    std::vector<Callback> callbacks;
    std::unordered_map<std::string, int64_t> count_deltas;  // Key: countKey().
    StateCounts total_deltas{};
    Status status;
  };

  // Writes the summed count deltas of the open batch into it as merges.
  void applyCounts();

  static void onAsync(uv_async_t* handle);
  static void onCheck(uv_check_t* handle);
  void writerMain();
  void finishWrite();

  Store* store_;
  uv_loop_t* loop_;
  WriteObserver observer_;
  std::unique_ptr<Pending> open_;
  std::unique_ptr<Pending> writing_;  // Owned by the writer thread while busy_ is true.
  bool busy_ = false;                 // Loop thread view: a batch is with the writer.

  uv_async_t* done_async_;
  uv_check_t* check_;
  std::thread writer_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool has_work_ = false;
  bool work_done_ = false;
  bool stopping_ = false;
};

}  // namespace titand::store
