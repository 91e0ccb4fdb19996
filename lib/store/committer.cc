#include "store/committer.h"

#include <chrono>

#include "common/log.h"

namespace titand::store {

Committer::Committer(Store* store, uv_loop_t* loop, WriteObserver observer)
    : store_(store),
      loop_(loop),
      observer_(std::move(observer)),
      open_(std::make_unique<Pending>()),
      done_async_(new uv_async_t),
      check_(new uv_check_t) {
  uv_async_init(loop_, done_async_, &Committer::onAsync);
  done_async_->data = this;
  uv_check_init(loop_, check_);
  check_->data = this;
  uv_check_start(check_, &Committer::onCheck);
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
  writer_ = std::thread([this] { writerMain(); });
}

Committer::~Committer() {
  shutdown();
  uv_close(reinterpret_cast<uv_handle_t*>(done_async_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  uv_close(reinterpret_cast<uv_handle_t*>(check_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_check_t*>(handle); });
}

void Committer::onCheck(uv_check_t* handle) { static_cast<Committer*>(handle->data)->flush(); }

void Committer::onAsync(uv_async_t* handle) {
  static_cast<Committer*>(handle->data)->finishWrite();
}

void Committer::addCount(const model::Id& execution, model::ItemState state, int64_t delta) {
  open_->count_deltas[countKey(execution, state)] += delta;
  open_->total_deltas[static_cast<int>(state)] += delta;
}

void Committer::applyCounts() {
  rocksdb::ColumnFamilyHandle* counts = store_->family(kCountsFamily);
  for (const auto& [key, delta] : open_->count_deltas) {
    if (delta != 0) open_->batch.Merge(counts, key, encodeCountDelta(delta)).PermitUncheckedError();
  }
  for (int state = 0; state < model::kItemStateCount; ++state) {
    int64_t delta = open_->total_deltas[state];
    if (delta == 0) continue;
    open_->batch
        .Merge(counts, countKey(kAllExecutions, static_cast<model::ItemState>(state)),
               encodeCountDelta(delta))
        .PermitUncheckedError();
  }
  open_->count_deltas.clear();
  open_->total_deltas = {};
}

void Committer::flush() {
  if (busy_ || stopping_) return;
  applyCounts();
  if (open_->batch.Count() == 0 && open_->callbacks.empty()) return;
  busy_ = true;
  {
    std::lock_guard lock(mutex_);
    writing_ = std::move(open_);
    has_work_ = true;
  }
  open_ = std::make_unique<Pending>();
  wake_.notify_one();
}

bool Committer::idle() const {
  return !busy_ && open_->batch.Count() == 0 && open_->callbacks.empty() &&
         open_->count_deltas.empty();
}

void Committer::writerMain() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return has_work_ || stopping_; });
    if (!has_work_) return;
    Pending* pending = writing_.get();
    lock.unlock();

    auto start = std::chrono::steady_clock::now();
    uint64_t records = pending->batch.Count();
    pending->status = records > 0 ? store_->write(&pending->batch) : Status::ok();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (observer_ && records > 0) observer_(seconds, records, pending->status.isOk());

    lock.lock();
    has_work_ = false;
    work_done_ = true;
    uv_async_send(done_async_);
  }
}

void Committer::finishWrite() {
  std::unique_ptr<Pending> done;
  {
    std::lock_guard lock(mutex_);
    if (!work_done_) return;
    work_done_ = false;
    done = std::move(writing_);
  }
  busy_ = false;
  if (!done->status.isOk()) {
    componentLogger("store")->error("group commit of {} records failed: {}", done->batch.Count(),
                                    done->status.toString());
  }
  for (auto& callback : done->callbacks) callback(done->status);
  flush();
}

void Committer::shutdown() {
  if (stopping_ && !writer_.joinable()) return;
  // Drain: write whatever is open, one batch at a time, on this thread's schedule.
  while (busy_ || !idle()) {
    if (!busy_) flush();
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(1), [this] { return work_done_; });
    }
    finishWrite();
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

}  // namespace titand::store
