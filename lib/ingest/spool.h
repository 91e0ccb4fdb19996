// Spool: the bulk-submission file drop.
//
// Writers rename finished NDJSON files (*.ndjson, *.jsonl) into <spool>/incoming/; dot-files
// and *.tmp are ignored. A libuv fs event wakes the ingest thread, and a periodic rescan
// catches events the kernel dropped. Each file is validated in full first: a file with any
// invalid line goes to failed/ with <name>.errors.json and queues nothing. A valid file is
// committed to RocksDB (tasks, executions, items and queue keys), then gets
// <name>.receipt.json in done/ and moves there.
//
// Files of up to spool.commit_chunk_lines lines commit in one write batch. Larger files
// commit in chunks; the file record (keyed by the content's SHA-256) stores the next line
// in the same batch, so a crash resumes where it stopped. Ids derive from the content hash
// and line number, and a committed hash is never committed again, so dropping the same
// content twice, or crashing between the commit and the move, creates no duplicates.
// NOTE: items of a file larger than one chunk can start before its last chunk commits.
//
// Thread safety: start() and stop() belong to the loop thread; files are read and committed
// on the spool's own thread; on_queued runs on the loop thread.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "config/config.h"
#include "engine/engine_metrics.h"
#include "store/store.h"

namespace titand::ingest {

class Spool {
 public:
  struct Deps {
    uv_loop_t* loop;
    store::Store* store;
    const Config* config;
    engine::EngineMetrics* metrics;
    const Clock* clock;
    // Told, on the loop thread, that a host has new durable queue keys due from `due` on.
    std::function<void(uint32_t host_id, Micros due)> on_queued;
  };

  explicit Spool(const Deps& deps);
  ~Spool();

  // Creates incoming/, done/ and failed/ when missing and starts watching.
  Status start();
  // Stops watching and joins the ingest thread after the file chunk it is committing.
  void stop();

  // Number of files processed (committed, rejected or duplicate) since start, for tests.
  uint64_t filesProcessed() const { return files_processed_.load(); }

 private:
  struct Queued {
    uint32_t host_id;
    Micros due;
  };

  static void onFsEvent(uv_fs_event_t* handle, const char* filename, int events, int status);
  static void onAsync(uv_async_t* handle);
  void threadMain();
  // Ingests every settled candidate file. Returns how long until the next file that was
  // modified too recently to take has settled, if there is one.
  std::optional<std::chrono::milliseconds> scanIncoming();
  void processFile(const std::filesystem::path& path);
  // Logs an entry of incoming/ that is not ingested, once per name.
  void warnIgnored(const std::filesystem::directory_entry& entry);
  void postQueued(std::vector<Queued> queued);
  void wake();

  Deps deps_;
  std::filesystem::path incoming_, done_, failed_;
  std::shared_ptr<spdlog::logger> log_;
  uv_fs_event_t* fs_event_ = nullptr;
  uv_async_t* async_ = nullptr;
  std::thread thread_;
  int lock_fd_ = -1;
  std::unordered_set<std::string>
      ignored_names_;  // Spool thread only.  // flock on <spool dir>/titand.lock while started.
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  bool wake_flag_ = false;
  bool stopping_ = false;
  std::vector<Queued> queued_;  // Guarded by mutex_; drained on the loop thread.
  std::atomic<uint64_t> files_processed_{0};
  std::atomic<bool> stop_requested_{false};
};

}  // namespace titand::ingest
