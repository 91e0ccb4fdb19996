// Scheduler: claims due items from the RocksDB queue, sends them through the CurlEngine
// within per-host limits, and records every outcome.
//
// Each claim pass walks the hosts that have free connections, rate tokens and no
// Retry-After hold, and reads that host's due queue keys (a seek plus a short scan). A claim
// marks items in flight in one write batch; requests start only after that batch is durable.
// Each finished attempt becomes one batch: a result (succeeded or failed) or a new queue key
// (retry scheduled, with attempts, due time and last error stored on the item). Retry state
// lives in RocksDB, never in in-memory timers, so a restart resumes it.
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "config/config.h"
#include "engine/engine_metrics.h"
#include "engine/execution_tracker.h"
#include "engine/host_state.h"
#include "http/curl_engine.h"
#include "store/committer.h"
#include "store/store.h"

namespace titand::engine {

struct ItemKeyHash {
  size_t operator()(const model::ItemKey& key) const;
};

class Scheduler {
 public:
  struct Deps {
    uv_loop_t* loop;
    store::Store* store;
    store::Committer* committer;
    http::CurlEngine* http;
    const Config* config;
    EngineMetrics* metrics;
    const Clock* clock;
  };

  explicit Scheduler(const Deps& deps);
  ~Scheduler();

  // Puts items left in flight by a previous process back on the queue, keeping their
  // attempt counts. Call once, before start().
  Status recover();
  // Starts the claim timer.
  void start();
  // Tells the scheduler that queue keys for `host_id` with due times from `due` on are now
  // durable (new tasks from the file drop or the API).
  void notifyQueued(uint32_t host_id, Micros due);
  // Stops claiming, lets in-flight requests finish for up to the grace period, aborts the
  // rest (back to the queue), waits for the last commit, then calls `on_drained`.
  void beginShutdown(std::function<void()> on_drained);
  // Called on a failed commit: stop work and report through `on_fatal`.
  void setFatalHandler(std::function<void(const Status&)> on_fatal) {
    on_fatal_ = std::move(on_fatal);
  }

  size_t inFlight() const { return in_flight_.size(); }
  // Host id 0 is never assigned, so its slot does not count.
  size_t hostCount() const { return hosts_.empty() ? 0 : hosts_.size() - 1; }
  // Returns the due time of the oldest due queue key over all hosts, or 0 when none is due.
  Micros oldestDue();

 private:
  struct InFlight {
    model::WorkItem item;
    bool dispatched = false;
  };

  static void onClaimTimer(uv_timer_t* timer);
  static void onHousekeepingTimer(uv_timer_t* timer);
  static void onGraceTimer(uv_timer_t* timer);

  HostState& host(uint32_t host_id);
  void requestPass();
  void runClaimPass();
  size_t claimFromHost(HostState& host, Micros now, size_t budget);
  void dispatch(const model::ItemKey& key);
  void onResponse(const model::ItemKey& key, http::Response&& response);
  void scheduleRetry(InFlight& flight, HostState& host, Micros now,
                     std::optional<Micros> retry_after);
  void finishItem(InFlight& flight, model::ItemState state, const http::Response* response,
                  Micros now);
  void requeueInterrupted(InFlight& flight, Micros now);
  // Wakes the host's claim passes for `due` once the current commit batch is durable.
  void notifyWhenDurable(uint32_t host_id, Micros due);
  void logRetryBursts();
  void maybeFinishShutdown();
  void onCommitFailed(const Status& status);

  Deps deps_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<HostState>> hosts_;  // Index: host id.
  std::unordered_map<model::ItemKey, InFlight, ItemKeyHash> in_flight_;
  ExecutionTracker executions_;
  std::mt19937_64 rng_;

  uv_timer_t* claim_timer_;
  uv_timer_t* housekeeping_timer_;
  uv_timer_t* grace_timer_;
  bool pass_requested_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  std::function<void()> on_drained_;
  std::function<void(const Status&)> on_fatal_;
  RateLimitedLog error_log_{5, std::chrono::seconds(10)};
};

}  // namespace titand::engine
