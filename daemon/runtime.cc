#include "daemon/runtime.h"

#include <systemd/sd-daemon.h>

#include <fmt/format.h>

#include "metrics/process_metrics.h"
#include "store/schema.h"

namespace titand::daemon {
namespace {

constexpr uint64_t kStatusIntervalMs = 2000;
constexpr uint64_t kProgressLogEveryTicks = 15;

template <typename Handle>
uv_handle_t* asHandle(Handle* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);
}

}  // namespace

Runtime::Runtime(Config config) : config_(std::move(config)), log_(componentLogger("titand")) {
  uv_loop_init(&loop_);
}

Runtime::~Runtime() {
  api_.reset();
  spool_.reset();
  scheduler_.reset();
  http_.reset();
  committer_.reset();
  // Run the loop once more so the close callbacks of the handles above free their memory.
  uv_run(&loop_, UV_RUN_DEFAULT);
  store_.reset();
  if (uv_loop_close(&loop_) != 0) log_->warn("event loop closed with handles still open");
}

int Runtime::run() {
  log_->info("titand starting: state_dir {}, spool {}, api {}, metrics {}, durability {}",
             config_.state_dir, config_.spool.dir, config_.api.listen, config_.metrics.listen,
             config_.store.durability == Durability::kSync ? "sync" : "nosync");
  Status started = startComponents();
  if (!started.isOk()) {
    log_->critical("start failed: {}", started.message());
    sd_notifyf(0, "STATUS=start failed: %s", started.message().c_str());
    return 1;
  }
  sd_notify(0, "READY=1");
  log_->info("titand ready: api http://{} metrics http://{}/metrics", config_.api.listen,
             config_.metrics.listen);
  uv_run(&loop_, UV_RUN_DEFAULT);
  log_->info("titand stopped (exit code {})", exit_code_);
  return exit_code_;
}

Status Runtime::startComponents() {
  metrics_ = std::make_unique<engine::EngineMetrics>(&registry_, config_.metrics.max_host_labels);
  auto store = store::Store::open({config_.state_dir, config_.store.durability,
                                   config_.store.write_buffer_mb, config_.store.block_cache_mb});
  if (!store.isOk()) return store.status();
  store_ = std::move(store.value());

  engine::EngineMetrics* metrics = metrics_.get();
  committer_ = std::make_unique<store::Committer>(
      store_.get(), &loop_, [metrics](double seconds, uint64_t, bool ok) {
        (ok ? metrics->wal_syncs_total : metrics->wal_sync_errors_total).inc();
        metrics->wal_sync_seconds.observe(seconds);
      });
  http_ = std::make_unique<http::CurlEngine>(
      &loop_, http::CurlEngine::Options{config_.engine.user_agent,
                                        static_cast<long>(config_.engine.max_in_flight) * 2});
  scheduler_ = std::make_unique<engine::Scheduler>(
      engine::Scheduler::Deps{&loop_, store_.get(), committer_.get(), http_.get(), &config_,
                              metrics_.get(), &SystemClock::instance()});
  scheduler_->setFatalHandler([this](const Status&) { beginStop("store failure", 1); });
  TITAND_RETURN_IF_ERROR(scheduler_->recover());

  auto api_listen = parseListenAddress(config_.api.listen);
  auto metrics_listen = parseListenAddress(config_.metrics.listen);
  if (!api_listen.isOk()) return api_listen.status();
  if (!metrics_listen.isOk()) return metrics_listen.status();
  api_ = std::make_unique<api::ApiServer>(
      &loop_, store_.get(), api::ApiServer::Options{api_listen.value(), metrics_listen.value()},
      [this] { return renderMetrics(); },
      [this] {
        return std::make_pair(healthy_ && !stopping_, std::string(stopping_  ? "stopping"
                                                                  : healthy_ ? "ok"
                                                                             : "store failure"));
      });
  TITAND_RETURN_IF_ERROR(api_->start());

  spool_ = std::make_unique<ingest::Spool>(ingest::Spool::Deps{
      &loop_, store_.get(), &config_, metrics_.get(), &SystemClock::instance(),
      [this](uint32_t host, Micros due) { scheduler_->notifyQueued(host, due); }});
  TITAND_RETURN_IF_ERROR(spool_->start());
  scheduler_->start();

  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sighup_);
  for (uv_signal_t* handle : {&sigterm_, &sigint_, &sighup_}) handle->data = this;
  uv_signal_start(&sigterm_, &Runtime::onSignal, SIGTERM);
  uv_signal_start(&sigint_, &Runtime::onSignal, SIGINT);
  uv_signal_start(&sighup_, &Runtime::onSignal, SIGHUP);

  uv_timer_init(&loop_, &status_timer_);
  status_timer_.data = this;
  uv_timer_start(&status_timer_, &Runtime::onStatusTimer, 0, kStatusIntervalMs);
  uv_timer_init(&loop_, &watchdog_timer_);
  watchdog_timer_.data = this;
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    // Ping at a third of the interval so one slow loop turn does not trip the watchdog.
    uint64_t every_ms = std::max<uint64_t>(watchdog_usec / 3000, 1);
    uv_timer_start(&watchdog_timer_, &Runtime::onWatchdogTimer, 0, every_ms);
    log_->info("systemd watchdog enabled, pinging every {} ms", every_ms);
  }
  return Status::ok();
}

void Runtime::onSignal(uv_signal_t* handle, int signal) {
  auto* runtime = static_cast<Runtime*>(handle->data);
  if (signal == SIGHUP) {
    runtime->log_->info("SIGHUP received; nothing to reload in this version");
    return;
  }
  runtime->beginStop(signal == SIGTERM ? "SIGTERM" : "SIGINT", 0);
}

void Runtime::beginStop(const char* reason, int exit_code) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  if (exit_code != 0) healthy_ = false;
  sd_notify(0, "STOPPING=1");
  log_->info("stopping ({}): no new claims, in-flight requests get {} s to finish", reason,
             config_.engine.shutdown_grace_seconds);
  spool_->stop();
  scheduler_->beginShutdown([this] { finishStop(); });
}

void Runtime::finishStop() {
  committer_->shutdown();
  log_->info("state persisted; closing listeners");
  uv_timer_stop(&status_timer_);
  uv_timer_stop(&watchdog_timer_);
  for (uv_signal_t* handle : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_stop(handle);
    uv_close(asHandle(handle), nullptr);
  }
  uv_close(asHandle(&status_timer_), nullptr);
  uv_close(asHandle(&watchdog_timer_), nullptr);
  api_->stop([] {});
  // The remaining handles (timers of the scheduler, curl, committer) close in their
  // destructors after uv_run returns; stop the loop now.
  uv_stop(&loop_);
}

void Runtime::onStatusTimer(uv_timer_t* timer) {
  static_cast<Runtime*>(timer->data)->updateStatus();
}

void Runtime::onWatchdogTimer(uv_timer_t*) { sd_notify(0, "WATCHDOG=1"); }

void Runtime::updateStatus() {
  store::StateCounts counts = store_->getCounts(store::kAllExecutions);
  using model::ItemState;
  long long queued = counts[static_cast<int>(ItemState::kQueued)];
  long long retry = counts[static_cast<int>(ItemState::kRetryScheduled)];
  long long succeeded = counts[static_cast<int>(ItemState::kSucceeded)];
  long long failed = counts[static_cast<int>(ItemState::kFailed)];
  sd_notifyf(0,
             "STATUS=queued %lld, retry scheduled %lld, in flight %zu, succeeded %lld, failed %lld",
             queued, retry, scheduler_->inFlight(), succeeded, failed);

  // One progress line per interval while items finish, instead of one per execution.
  long long finished = succeeded + failed;
  if (last_logged_finished_ < 0) last_logged_finished_ = finished;
  if (++status_ticks_ % kProgressLogEveryTicks != 0) return;
  if (finished == last_logged_finished_) return;
  log_->info(
      "progress: queued {}, retry scheduled {}, in flight {}, succeeded {}, failed {} "
      "({} items finished in the last {} s)",
      queued, retry, scheduler_->inFlight(), succeeded, failed, finished - last_logged_finished_,
      kProgressLogEveryTicks * kStatusIntervalMs / 1000);
  last_logged_finished_ = finished;
}

std::string Runtime::renderMetrics() {
  std::string out = registry_.render();
  collectQueueMetrics(&out);
  metrics::appendProcessMetrics(&out);
  return out;
}

void Runtime::collectQueueMetrics(std::string* out) {
  store::StateCounts counts = store_->getCounts(store::kAllExecutions);
  std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>> by_state;
  for (int state = 0; state < model::kItemStateCount; ++state) {
    by_state.push_back({{{"state", model::itemStateName(static_cast<model::ItemState>(state))}},
                        static_cast<double>(counts[state])});
  }
  metrics::appendGaugeFamily(out, "titand_items", "Work items by state", by_state);
  using model::ItemState;
  metrics::appendGaugeFamily(
      out, "titand_queue_depth",
      "Items waiting: due (queued for a first attempt or after recovery), delayed (waiting for "
      "a retry), in flight",
      {{{{"kind", "due"}}, static_cast<double>(counts[static_cast<int>(ItemState::kQueued)])},
       {{{"kind", "delayed"}},
        static_cast<double>(counts[static_cast<int>(ItemState::kRetryScheduled)])},
       {{{"kind", "in_flight"}}, static_cast<double>(scheduler_->inFlight())}});
  Micros oldest = scheduler_->oldestDue();
  double age =
      oldest > 0 ? static_cast<double>(SystemClock::instance().nowMicros() - oldest) / 1e6 : 0.0;
  metrics::appendGaugeFamily(out, "titand_oldest_due_item_age_seconds",
                             "Age of the oldest due item that is not yet claimed",
                             {{{}, std::max(age, 0.0)}});
  metrics::appendGaugeFamily(out, "titand_hosts", "Hosts known to the scheduler",
                             {{{}, static_cast<double>(scheduler_->hostCount())}});
}

}  // namespace titand::daemon
