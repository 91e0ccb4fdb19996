// Runtime: the daemon's components on one libuv loop, from start-up recovery to a clean
// stop on SIGTERM. Also reports to systemd (READY, STATUS, WATCHDOG, STOPPING).
// Thread safety: run() owns the calling thread until the loop ends.
#pragma once

#include <uv.h>

#include <memory>

#include "api/api_server.h"
#include "common/log.h"
#include "config/config.h"
#include "engine/engine_metrics.h"
#include "engine/scheduler.h"
#include "http/curl_engine.h"
#include "ingest/spool.h"
#include "metrics/registry.h"
#include "store/committer.h"
#include "store/store.h"

namespace titand::daemon {

class Runtime {
 public:
  explicit Runtime(Config config);
  ~Runtime();

  // Runs until stopped; returns the process exit code.
  int run();

 private:
  Status startComponents();
  void beginStop(const char* reason, int exit_code);
  void finishStop();
  void updateStatus();
  std::string renderMetrics();
  void collectQueueMetrics(std::string* out);

  static void onSignal(uv_signal_t* handle, int signal);
  static void onStatusTimer(uv_timer_t* timer);
  static void onWatchdogTimer(uv_timer_t* timer);

  Config config_;
  std::shared_ptr<spdlog::logger> log_;
  uv_loop_t loop_;
  metrics::Registry registry_;
  std::unique_ptr<engine::EngineMetrics> metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Committer> committer_;
  std::unique_ptr<http::CurlEngine> http_;
  std::unique_ptr<engine::Scheduler> scheduler_;
  std::unique_ptr<ingest::Spool> spool_;
  std::unique_ptr<api::ApiServer> api_;

  uv_signal_t sigterm_, sigint_, sighup_;
  uv_timer_t status_timer_, watchdog_timer_;
  uint64_t status_ticks_ = 0;
  long long last_logged_finished_ = -1;  // -1 until the first status update.
  bool stopping_ = false;
  bool healthy_ = true;
  int exit_code_ = 0;
};

}  // namespace titand::daemon
