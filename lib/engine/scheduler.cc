#include "engine/scheduler.h"

#include <algorithm>
#include <cstring>

#include <rocksdb/db.h>

#include "engine/result_record.h"
#include "policy/retry_after.h"
#include "policy/retry_policy.h"
#include "store/queue.h"
#include "store/schema.h"

namespace titand::engine {
namespace {

constexpr uint64_t kClaimIntervalMs = 5;
constexpr uint64_t kHousekeepingIntervalMs = 1000;

std::string statusClass(const http::Response& response) {
  if (response.http_status <= 0) return "error";
  return fmt::format("{}xx", response.http_status / 100);
}

std::string describeFailure(const http::Response& response, uint64_t max_body_bytes) {
  if (response.body_too_large) {
    return fmt::format("response body exceeds the limit of {} bytes (engine.max_response_bytes)",
                       max_body_bytes);
  }
  if (response.curl_code != CURLE_OK) return response.error;
  return fmt::format("HTTP status {}", response.http_status);
}

}  // namespace

size_t ItemKeyHash::operator()(const model::ItemKey& key) const {
  size_t value;
  std::memcpy(&value, key.execution_id.data(), sizeof value);
  return value ^ (static_cast<size_t>(key.index) * 0x9e3779b97f4a7c15ULL);
}

Scheduler::Scheduler(const Deps& deps)
    : deps_(deps),
      log_(componentLogger("engine")),
      executions_(deps.store),
      rng_(std::random_device{}()),
      claim_timer_(new uv_timer_t),
      housekeeping_timer_(new uv_timer_t),
      grace_timer_(new uv_timer_t) {
  for (uv_timer_t* timer : {claim_timer_, housekeeping_timer_, grace_timer_}) {
    uv_timer_init(deps_.loop, timer);
    timer->data = this;
  }
  hosts_.resize(1);  // Host id 0 is never used.
}

Scheduler::~Scheduler() {
  for (uv_timer_t* timer : {claim_timer_, housekeeping_timer_, grace_timer_}) {
    uv_timer_stop(timer);
    uv_close(reinterpret_cast<uv_handle_t*>(timer),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  }
}

HostState& Scheduler::host(uint32_t host_id) {
  if (host_id >= hosts_.size()) hosts_.resize(host_id + 1);
  if (!hosts_[host_id]) {
    std::string origin = deps_.store->originOf(host_id);
    hosts_[host_id] = std::make_unique<HostState>(host_id, origin, deps_.config->limitsFor(origin));
  }
  return *hosts_[host_id];
}

Status Scheduler::recover() {
  for (const auto& [id, origin] : deps_.store->hosts()) host(id);

  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(deps_.store->db()->NewIterator(
      rocksdb::ReadOptions(), deps_.store->family(store::kInflightFamily)));
  Micros now = deps_.clock->nowMicros();
  size_t requeued = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = model::ItemKey::decode(it->key().ToStringView());
    if (!key.isOk()) return key.status();
    batch.Delete(deps_.store->family(store::kInflightFamily), it->key()).PermitUncheckedError();
    auto item = deps_.store->getItem(key.value());
    if (!item.isOk()) return item.status();
    if (!item.value() || item.value()->state != model::ItemState::kInFlight) continue;
    model::WorkItem& recovered = *item.value();
    recovered.state = model::ItemState::kQueued;
    recovered.next_attempt_at = now;
    deps_.store->putItem(&batch, recovered);
    batch
        .Put(deps_.store->family(store::kQueueFamily),
             store::queueKey(recovered.host_id, now, recovered.key), "")
        .PermitUncheckedError();
    deps_.store->addCount(&batch, recovered.key.execution_id, model::ItemState::kInFlight, -1);
    deps_.store->addCount(&batch, recovered.key.execution_id, model::ItemState::kQueued, 1);
    host(recovered.host_id).next_due = 0;
    ++requeued;
  }
  TITAND_RETURN_IF_ERROR(
      it->status().ok()
          ? Status::ok()
          : Status(ErrorCode::kIo, "cannot scan in-flight items: " + it->status().ToString()));
  if (batch.Count() > 0) TITAND_RETURN_IF_ERROR(deps_.store->write(&batch));
  log_->info(
      "recovery: {} items left in flight by the previous run went back to the queue; "
      "{} hosts known",
      requeued, hosts_.size() - 1);
  return Status::ok();
}

void Scheduler::start() {
  uv_timer_start(claim_timer_, &Scheduler::onClaimTimer, 0, kClaimIntervalMs);
  uv_timer_start(housekeeping_timer_, &Scheduler::onHousekeepingTimer, kHousekeepingIntervalMs,
                 kHousekeepingIntervalMs);
}

void Scheduler::notifyQueued(uint32_t host_id, Micros due) {
  HostState& state = host(host_id);
  state.scan_from = std::min(state.scan_from, due);
  state.next_due = state.next_due == kNever ? due : std::min(state.next_due, due);
  requestPass();
}

void Scheduler::requestPass() {
  if (pass_requested_ || stopping_) return;
  pass_requested_ = true;
  // A zero-delay restart of the claim timer runs the pass on the next loop turn, after the
  // current callbacks (and their batch) are done.
  uv_timer_start(claim_timer_, &Scheduler::onClaimTimer, 0, kClaimIntervalMs);
}

void Scheduler::onClaimTimer(uv_timer_t* timer) {
  auto* scheduler = static_cast<Scheduler*>(timer->data);
  scheduler->pass_requested_ = false;
  scheduler->runClaimPass();
}

void Scheduler::runClaimPass() {
  if (stopping_ || failed_) return;
  size_t max_in_flight = deps_.config->engine.max_in_flight;
  if (in_flight_.size() >= max_in_flight) return;
  size_t budget = max_in_flight - in_flight_.size();
  Micros now = deps_.clock->nowMicros();
  for (auto& slot : hosts_) {
    if (budget == 0) break;
    if (!slot) continue;
    HostState& state = *slot;
    if (state.next_due == kNever || state.next_due > now || state.hold_until > now) continue;
    if (state.in_flight >= state.limits.max_connections) continue;
    budget -= claimFromHost(state, now, budget);
  }
}

size_t Scheduler::claimFromHost(HostState& state, Micros now, size_t budget) {
  size_t want = std::min<size_t>(
      {budget, state.limits.max_connections - state.in_flight, deps_.config->engine.claim_batch});
  if (want == 0) return 0;
  auto scan = store::scanDue(
      *deps_.store, state.id, now, want,
      [&](const model::ItemKey& key) {
        // A claimed item keeps its queue key until the claim batch is durable.
        if (in_flight_.count(key) > 0) return store::ScanDecision::kSkip;
        if (!state.bucket.tryTake(now)) return store::ScanDecision::kStop;
        return store::ScanDecision::kTake;
      },
      state.scan_from);
  if (!scan.isOk()) {
    log_->error("host {}: {}", state.origin, scan.status().toString());
    deps_.metrics->errors_total.inc();
    return 0;
  }
  if (scan.value().exhausted) {
    Micros next = store::nextDueAfter(*deps_.store, state.id, now);
    state.next_due = next == store::kNoDueTime ? kNever : next;
  }
  std::vector<model::ItemKey> keys;
  std::vector<std::string> queue_keys;
  if (!scan.value().entries.empty()) state.scan_from = scan.value().entries.back().due;
  for (auto& entry : scan.value().entries) {
    keys.push_back(entry.item);
    queue_keys.push_back(std::move(entry.queue_key));
  }
  if (keys.empty()) return 0;

  rocksdb::WriteBatch* batch = deps_.committer->batch();
  auto items = deps_.store->multiGetItems(keys);
  size_t claimed = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    batch->Delete(deps_.store->family(store::kQueueFamily), queue_keys[i]).PermitUncheckedError();
    if (!items[i].isOk()) {
      log_->error("queue entry for item {} dropped: {}", keys[i].toString(),
                  items[i].status().toString());
      deps_.metrics->errors_total.inc();
      continue;
    }
    model::WorkItem item = std::move(items[i].value());
    model::ItemState previous = item.state;
    item.state = model::ItemState::kInFlight;
    item.attempts += 1;
    if (item.first_attempt_at == 0) item.first_attempt_at = now;
    deps_.store->putItem(batch, item);
    batch->Put(deps_.store->family(store::kInflightFamily), keys[i].encode(), "")
        .PermitUncheckedError();
    deps_.committer->addCount(item.key.execution_id, previous, -1);
    deps_.committer->addCount(item.key.execution_id, model::ItemState::kInFlight, 1);
    executions_.onClaim(item.key.execution_id, now, batch);
    ++state.in_flight;
    in_flight_.emplace(keys[i], InFlight{std::move(item), false});
    ++claimed;
  }
  deps_.committer->onDurable([this, keys](const Status& status) {
    if (!status.isOk()) return onCommitFailed(status);
    for (const auto& key : keys) dispatch(key);
  });
  return claimed;
}

void Scheduler::dispatch(const model::ItemKey& key) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end() || it->second.dispatched) return;
  it->second.dispatched = true;
  const model::WorkItem& item = it->second.item;
  const Config::Engine& engine = deps_.config->engine;
  http::Request request;
  request.method = item.method;
  request.url = item.url;
  request.body = item.body;
  request.headers.push_back("Idempotency-Key: " + item.idempotencyKey());
  request.timeout_ms = static_cast<long>(item.timeout_seconds) * 1000;
  request.connect_timeout_ms = static_cast<long>(engine.connect_timeout_seconds) * 1000;
  request.max_body_bytes = engine.max_response_bytes;
  deps_.http->start(std::move(request), [this, key](http::Response&& response) {
    onResponse(key, std::move(response));
  });
}

void Scheduler::onResponse(const model::ItemKey& key, http::Response&& response) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  InFlight& flight = it->second;
  HostState& state = host(flight.item.host_id);
  --state.in_flight;
  Micros now = deps_.clock->nowMicros();

  if (response.curl_code == CURLE_ABORTED_BY_CALLBACK) {
    requeueInterrupted(flight, now);
    in_flight_.erase(it);
    maybeFinishShutdown();
    return;
  }
  deps_.metrics->requests(state.origin, statusClass(response)).inc();
  deps_.metrics->request_duration_seconds.observe(response.total_seconds);

  policy::Outcome outcome;
  if (response.body_too_large) {
    outcome = policy::Outcome::kFail;
  } else if (response.curl_code != CURLE_OK) {
    outcome = response.transportRetryable() ? policy::Outcome::kRetry : policy::Outcome::kFail;
  } else {
    outcome = policy::classifyHttpStatus(response.http_status);
  }

  std::optional<Micros> retry_after;
  if ((response.http_status == 429 || response.http_status == 503) &&
      !response.retry_after.empty()) {
    retry_after = policy::parseRetryAfter(response.retry_after, now);
    if (retry_after) {
      Micros cap =
          static_cast<Micros>(deps_.config->engine.retry_after_max_seconds) * kMicrosPerSecond;
      Micros until = now + std::min(*retry_after, cap);
      if (until > state.hold_until) {
        state.hold_until = until;
        deps_.metrics->host_holds_total.inc();
      }
    }
  }

  flight.item.last_http_status = static_cast<int32_t>(response.http_status);
  flight.item.last_error = outcome == policy::Outcome::kSuccess
                               ? std::string()
                               : describeFailure(response, deps_.config->engine.max_response_bytes);
  bool retries_left = flight.item.attempts <= flight.item.max_retries;
  if (outcome == policy::Outcome::kRetry && retries_left && !stopping_) {
    scheduleRetry(flight, state, now, retry_after);
  } else if (outcome == policy::Outcome::kRetry && retries_left) {
    requeueInterrupted(flight, now);  // Shutting down: the retry waits for the next start.
  } else {
    model::ItemState final_state = outcome == policy::Outcome::kSuccess
                                       ? model::ItemState::kSucceeded
                                       : model::ItemState::kFailed;
    finishItem(flight, final_state, &response, now);
  }
  in_flight_.erase(it);
  maybeFinishShutdown();
  requestPass();
}

void Scheduler::scheduleRetry(InFlight& flight, HostState& state, Micros now,
                              std::optional<Micros> retry_after) {
  const Config::Engine& engine = deps_.config->engine;
  policy::RetryDelayConfig delays{
      static_cast<Micros>(engine.backoff_base_ms) * kMicrosPerMilli,
      static_cast<Micros>(engine.backoff_max_ms) * kMicrosPerMilli,
      static_cast<Micros>(engine.retry_after_max_seconds) * kMicrosPerSecond};
  Micros delay = policy::chooseRetryDelay(flight.item.attempts, retry_after, delays, rng_);
  model::WorkItem& item = flight.item;
  item.state = model::ItemState::kRetryScheduled;
  item.next_attempt_at = now + delay;

  rocksdb::WriteBatch* batch = deps_.committer->batch();
  deps_.store->putItem(batch, item);
  batch->Delete(deps_.store->family(store::kInflightFamily), item.key.encode())
      .PermitUncheckedError();
  batch
      ->Put(deps_.store->family(store::kQueueFamily),
            store::queueKey(item.host_id, item.next_attempt_at, item.key), "")
      .PermitUncheckedError();
  deps_.committer->addCount(item.key.execution_id, model::ItemState::kInFlight, -1);
  deps_.committer->addCount(item.key.execution_id, model::ItemState::kRetryScheduled, 1);
  notifyWhenDurable(item.host_id, item.next_attempt_at);
  deps_.metrics->retries_total.inc();
  ++state.retries_since_log;
  state.last_retry_reason = item.last_error;
  state.last_retry_item = item.key.toString();
}

void Scheduler::finishItem(InFlight& flight, model::ItemState final_state,
                           const http::Response* response, Micros now) {
  model::WorkItem& item = flight.item;
  item.state = final_state;
  item.finished_at = now;
  item.next_attempt_at = 0;
  rocksdb::WriteBatch* batch = deps_.committer->batch();
  deps_.store->putItem(batch, item);
  batch->Delete(deps_.store->family(store::kInflightFamily), item.key.encode())
      .PermitUncheckedError();
  batch
      ->Put(deps_.store->family(store::kResultsFamily), item.key.encode(),
            buildResultJson(item, response))
      .PermitUncheckedError();
  deps_.committer->addCount(item.key.execution_id, model::ItemState::kInFlight, -1);
  deps_.committer->addCount(item.key.execution_id, final_state, 1);
  bool succeeded = final_state == model::ItemState::kSucceeded;
  executions_.onTerminal(item.key.execution_id, succeeded, now, batch);
  (succeeded ? deps_.metrics->items_succeeded_total : deps_.metrics->items_failed_total).inc();
  if (!succeeded) {
    uint64_t dropped = 0;
    if (error_log_.allow(&dropped)) {
      log_->warn("item {} failed after {} attempts: {} ({} similar lines suppressed)",
                 item.key.toString(), item.attempts, item.last_error, dropped);
    }
  }
}

void Scheduler::requeueInterrupted(InFlight& flight, Micros now) {
  model::WorkItem& item = flight.item;
  item.state = model::ItemState::kQueued;
  item.next_attempt_at = now;
  rocksdb::WriteBatch* batch = deps_.committer->batch();
  deps_.store->putItem(batch, item);
  batch->Delete(deps_.store->family(store::kInflightFamily), item.key.encode())
      .PermitUncheckedError();
  batch
      ->Put(deps_.store->family(store::kQueueFamily), store::queueKey(item.host_id, now, item.key),
            "")
      .PermitUncheckedError();
  deps_.committer->addCount(item.key.execution_id, model::ItemState::kInFlight, -1);
  deps_.committer->addCount(item.key.execution_id, model::ItemState::kQueued, 1);
  notifyWhenDurable(item.host_id, now);
}

void Scheduler::notifyWhenDurable(uint32_t host_id, Micros due) {
  // A claim pass that runs before the batch is written may find the host's queue empty in
  // RocksDB and set next_due to kNever, so the wake-up must come after the write.
  deps_.committer->onDurable([this, host_id, due](const Status& status) {
    if (status.isOk()) notifyQueued(host_id, due);
  });
}

void Scheduler::onHousekeepingTimer(uv_timer_t* timer) {
  static_cast<Scheduler*>(timer->data)->logRetryBursts();
}

void Scheduler::logRetryBursts() {
  for (auto& slot : hosts_) {
    if (!slot || slot->retries_since_log == 0) continue;
    log_->warn("host {}: {} retries scheduled in the last second, last item {}: {}", slot->origin,
               slot->retries_since_log, slot->last_retry_item, slot->last_retry_reason);
    slot->retries_since_log = 0;
  }
}

Micros Scheduler::oldestDue() {
  Micros now = deps_.clock->nowMicros();
  Micros oldest = 0;
  for (auto& slot : hosts_) {
    if (!slot || slot->next_due == kNever) continue;
    std::string lower = store::queueKeyPrefix(slot->id, slot->scan_from);
    std::string upper = store::queueKeyPrefix(slot->id, now + 1);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(
        deps_.store->db()->NewIterator(options, deps_.store->family(store::kQueueFamily)));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      auto decoded = store::decodeQueueKey(it->key().ToStringView());
      if (!decoded.isOk() || in_flight_.count(decoded.value().item) > 0) continue;
      if (oldest == 0 || decoded.value().due < oldest) oldest = decoded.value().due;
      break;
    }
  }
  return oldest;
}

void Scheduler::beginShutdown(std::function<void()> on_drained) {
  stopping_ = true;
  on_drained_ = std::move(on_drained);
  uv_timer_stop(claim_timer_);
  log_->info("shutdown: stopped claiming; {} requests in flight, grace {} s", in_flight_.size(),
             deps_.config->engine.shutdown_grace_seconds);
  uint64_t grace_ms = static_cast<uint64_t>(deps_.config->engine.shutdown_grace_seconds) * 1000;
  uv_timer_start(grace_timer_, &Scheduler::onGraceTimer, grace_ms, 0);
  maybeFinishShutdown();
}

void Scheduler::onGraceTimer(uv_timer_t* timer) {
  auto* scheduler = static_cast<Scheduler*>(timer->data);
  scheduler->log_->warn(
      "shutdown: grace period over, aborting {} requests; they go back to "
      "the queue",
      scheduler->in_flight_.size());
  // Items claimed but not yet dispatched go back to the queue too.
  Micros now = scheduler->deps_.clock->nowMicros();
  for (auto it = scheduler->in_flight_.begin(); it != scheduler->in_flight_.end();) {
    if (!it->second.dispatched) {
      scheduler->requeueInterrupted(it->second, now);
      it = scheduler->in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  scheduler->deps_.http->abortAll();
  scheduler->maybeFinishShutdown();
}

void Scheduler::maybeFinishShutdown() {
  if (!stopping_ || !on_drained_ || !in_flight_.empty()) return;
  uv_timer_stop(grace_timer_);
  auto done = std::move(on_drained_);
  on_drained_ = nullptr;
  deps_.committer->onDurable([done](const Status&) { done(); });
}

void Scheduler::onCommitFailed(const Status& status) {
  if (failed_) return;
  failed_ = true;
  stopping_ = true;
  deps_.metrics->errors_total.inc();
  log_->critical("cannot persist state changes, stopping work: {}", status.toString());
  if (on_fatal_) on_fatal_(status);
}

}  // namespace titand::engine
