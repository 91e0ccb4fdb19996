// Micro benchmarks of the store's hot paths on a real RocksDB under /tmp, removed at exit.
// One group claims a batch of due items from one host as the queue grows from 10^4 to 10^7
// items. The other commits a batch of finished items, with and without a synced WAL, directly
// and through the group-commit Committer. The writes copy what engine/scheduler.cc writes.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include "engine/result_record.h"
#include "http/curl_engine.h"
#include "store/committer.h"
#include "store/queue.h"
#include "store/schema.h"
#include "store/store.h"

namespace titand::store {
namespace {

constexpr size_t kClaimBatch = 256;
constexpr uint32_t kItemsPerExecution = 1000;
constexpr size_t kLoadBatchItems = 50'000;
constexpr const char* kOrigin = "https://api.carrier.example:443";
// Due times start here and grow by 1 us per item. kNow is past every due time, so the whole
// queue is due and a claim always finds a full batch at the head.
constexpr Micros kFirstDue = 1'700'000'000'000'000;
constexpr Micros kNow = 2 * kFirstDue;

std::string& rootDir() {
  static std::string dir = [] {
    std::string pattern = "/tmp/titand-store-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    return pattern;
  }();
  return dir;
}

std::unique_ptr<Store> openStore(const std::string& name, Durability durability) {
  auto opened = Store::open({rootDir() + "/" + name, durability});
  if (!opened.isOk()) {
    std::fprintf(stderr, "cannot open store %s: %s\n", name.c_str(),
                 opened.status().toString().c_str());
    std::exit(1);
  }
  return std::move(opened.value());
}

model::Id executionId(uint64_t number) {
  return model::deriveId("bench-execution", std::to_string(number));
}

// A queued POST item shaped like the demo batch's items.
model::WorkItem makeItem(const model::Id& execution, uint32_t index, uint32_t host_id, Micros due) {
  model::WorkItem item;
  item.key = {execution, index};
  item.task_id = execution;
  item.host_id = host_id;
  item.state = model::ItemState::kQueued;
  item.method = "POST";
  item.url = "https://api.carrier.example/v1/quotes/" + std::to_string(index);
  item.body = R"({"origin_zip":"94107","destination_zip":"10001","weight_kg":12.5})";
  item.timeout_seconds = 20;
  item.max_retries = 2;
  item.queued_at = kFirstDue;
  item.next_attempt_at = due;
  return item;
}

// Waits until RocksDB has no flush or compaction pending or running, so the claim figures do
// not include the bulk load's background work. Gives up after ten minutes.
void waitForBackgroundWork(rocksdb::DB* db) {
  for (int i = 0; i < 6000; ++i) {
    uint64_t pending = 0, compactions = 0, flushes = 0;
    db->GetIntProperty("rocksdb.compaction-pending", &pending);
    db->GetIntProperty("rocksdb.num-running-compactions", &compactions);
    db->GetIntProperty("rocksdb.num-running-flushes", &flushes);
    if (pending == 0 && compactions == 0 && flushes == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// A store with `size` queued items of one host, built once and shared by every run of every
// benchmark that uses the same store name.
struct QueueFixture {
  std::unique_ptr<Store> store;
  uint32_t host_id = 0;
  Micros next_due = 0;  // Due time for the next item moved back to the tail of the queue.
  int64_t moved = 0;    // Items moved from head to tail by BM_ScanDueAfterClaims so far.
  // Due time of the last claimed key, where the scheduler starts its next scan of the host.
  Micros scan_from = 0;
  double load_seconds = 0;
};

// Bulk-loads with the WAL off and flushes at the end. The load is not measured, and a crash
// here only loses a benchmark fixture.
void bulkLoad(QueueFixture* fixture, int64_t size) {
  Store& store = *fixture->store;
  rocksdb::WriteOptions load_options;
  load_options.disableWAL = true;
  rocksdb::WriteBatch batch;
  fixture->host_id = store.hostIdFor(kOrigin, &batch);
  model::Id execution{};
  for (int64_t i = 0; i < size; ++i) {
    auto index = static_cast<uint32_t>(i % kItemsPerExecution);
    if (index == 0) {
      execution = executionId(static_cast<uint64_t>(i / kItemsPerExecution));
      int64_t count = std::min<int64_t>(kItemsPerExecution, size - i);
      store.addCount(&batch, execution, model::ItemState::kQueued, count);
    }
    model::WorkItem item = makeItem(execution, index, fixture->host_id, kFirstDue + i);
    store.putItem(&batch, item);
    enqueue(store, &batch, fixture->host_id, item.next_attempt_at, item.key);
    if (static_cast<size_t>(i + 1) % kLoadBatchItems == 0 || i + 1 == size) {
      rocksdb::Status status = store.db()->Write(load_options, &batch);
      if (!status.ok()) {
        std::fprintf(stderr, "bulk load failed: %s\n", status.ToString().c_str());
        std::exit(1);
      }
      batch.Clear();
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> families = {
      store.family(kItemsFamily), store.family(kQueueFamily), store.family(kCountsFamily),
      store.family(kHostsFamily)};
  store.db()->Flush(rocksdb::FlushOptions(), families).PermitUncheckedError();
  waitForBackgroundWork(store.db());
  fixture->next_due = kFirstDue + size;
}

// Every store the benchmarks open, kept open across runs and closed by closeStores().
struct OpenStores {
  std::map<std::string, std::unique_ptr<QueueFixture>> queues;  // Key: store name.
  std::unique_ptr<Store> commit_sync;
  std::unique_ptr<Store> commit_nosync;
};

OpenStores& openStores() {
  static OpenStores stores;
  return stores;
}

void closeStores() { openStores() = OpenStores(); }

// Returns the fixture `name` of `size` items, loading it on first use.
QueueFixture& queueFixture(const std::string& name, int64_t size) {
  auto& slot = openStores().queues[name];
  if (slot) return *slot;
  auto start = std::chrono::steady_clock::now();
  slot = std::make_unique<QueueFixture>();
  // In the daemon the claim write goes through the Committer with a synced WAL. These stores
  // do not sync because the commit benchmarks measure the fsync on its own.
  slot->store = openStore(name, Durability::kNoSync);
  bulkLoad(slot.get(), size);
  slot->load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "queue fixture of %lld items loaded in %.1f s\n",
               static_cast<long long>(size), slot->load_seconds);
  return *slot;
}

ScanResult scanBatch(QueueFixture& fixture, benchmark::State& state) {
  auto scan = scanDue(
      *fixture.store, fixture.host_id, kNow, kClaimBatch,
      [](const model::ItemKey&) { return ScanDecision::kTake; }, fixture.scan_from);
  if (!scan.isOk() || scan.value().entries.size() != kClaimBatch) {
    state.SkipWithError("scanDue did not return a full batch");
    return {};
  }
  return std::move(scan.value());
}

// Counts the deleted queue keys that one scan walks past before it finds a batch of live ones
// (RocksDB's perf context counter internal_delete_skipped_count). Not timed.
uint64_t countSkippedDeletes(QueueFixture& fixture) {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  auto scan = scanDue(*fixture.store, fixture.host_id, kNow, kClaimBatch,
                      [](const model::ItemKey&) { return ScanDecision::kTake; });
  uint64_t skipped = rocksdb::get_perf_context()->internal_delete_skipped_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  return scan.isOk() ? skipped : 0;
}

struct ReadCounts {
  uint64_t blocks = 0;        // Blocks read from files (not found in the block cache).
  uint64_t bytes = 0;         // Bytes of those blocks.
  uint64_t index_blocks = 0;  // Index blocks among them.
};

// Counts the block reads of one claim-sized MultiGet of the items at the head of the queue
// (RocksDB's perf context counters). Not timed.
ReadCounts countMultiGetReads(QueueFixture& fixture) {
  auto scan = scanDue(*fixture.store, fixture.host_id, kNow, kClaimBatch,
                      [](const model::ItemKey&) { return ScanDecision::kTake; });
  if (!scan.isOk()) return {};
  std::vector<model::ItemKey> keys;
  for (const DueEntry& entry : scan.value().entries) keys.push_back(entry.item);
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  fixture.store->multiGetItems(keys);
  const rocksdb::PerfContext& perf = *rocksdb::get_perf_context();
  ReadCounts counts{perf.block_read_count, perf.block_read_byte, perf.index_block_read_count};
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  return counts;
}

// scanDue alone: the seek to the host's first key plus the walk over 256 due keys.
void BM_ScanDue(benchmark::State& state) {
  QueueFixture& fixture = queueFixture("queue-" + std::to_string(state.range(0)), state.range(0));
  for (auto _ : state) {
    ScanResult scan = scanBatch(fixture, state);
    if (scan.entries.empty()) break;
    benchmark::DoNotOptimize(scan.entries.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClaimBatch));
  state.counters["load_s"] = fixture.load_seconds;
  state.counters["deletes_skipped_after"] = static_cast<double>(countSkippedDeletes(fixture));
}

// Returns claimed items to the queue the way an interrupted item goes back (requeueInterrupted
// in the scheduler), at the tail, so the next claim takes other items and the queue size stays
// at the fixture size.
void requeueAtTail(QueueFixture& fixture, std::vector<model::WorkItem>& items) {
  Store& store = *fixture.store;
  rocksdb::WriteBatch batch;
  for (model::WorkItem& item : items) {
    item.state = model::ItemState::kQueued;
    item.attempts = 0;
    item.next_attempt_at = fixture.next_due++;
    store.putItem(&batch, item);
    batch.Delete(store.family(kInflightFamily), item.key.encode()).PermitUncheckedError();
    enqueue(store, &batch, item.host_id, item.next_attempt_at, item.key);
    store.addCount(&batch, item.key.execution_id, model::ItemState::kInFlight, -1);
    store.addCount(&batch, item.key.execution_id, model::ItemState::kQueued, 1);
  }
  if (!store.write(&batch).isOk()) std::abort();
}

// The whole claim of Scheduler::claimFromHost: scanDue, a MultiGet of the items, and one batch
// with the queue delete, the in-flight item, the inflight marker and the count merges. The
// execution tracker's write (once per execution, on its first claim) is left out.
void BM_ClaimBatch(benchmark::State& state) {
  QueueFixture& fixture = queueFixture("queue-" + std::to_string(state.range(0)), state.range(0));
  Store& store = *fixture.store;
  using SteadyClock = std::chrono::steady_clock;
  std::chrono::duration<double> scan_time{0}, read_time{0}, write_time{0};
  for (auto _ : state) {
    auto scan_start = SteadyClock::now();
    ScanResult scan = scanBatch(fixture, state);
    if (scan.entries.empty()) break;
    auto read_start = SteadyClock::now();
    std::vector<model::ItemKey> keys;
    keys.reserve(scan.entries.size());
    for (const DueEntry& entry : scan.entries) keys.push_back(entry.item);
    auto found = store.multiGetItems(keys);
    auto write_start = SteadyClock::now();

    rocksdb::WriteBatch batch;
    std::vector<model::WorkItem> claimed;
    claimed.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      batch.Delete(store.family(kQueueFamily), scan.entries[i].queue_key).PermitUncheckedError();
      if (!found[i].isOk()) {
        state.SkipWithError("a queued item is missing from the items family");
        break;
      }
      model::WorkItem item = std::move(found[i].value());
      model::ItemState previous = item.state;
      item.state = model::ItemState::kInFlight;
      item.attempts += 1;
      if (item.first_attempt_at == 0) item.first_attempt_at = kNow;
      store.putItem(&batch, item);
      batch.Put(store.family(kInflightFamily), keys[i].encode(), "").PermitUncheckedError();
      store.addCount(&batch, item.key.execution_id, previous, -1);
      store.addCount(&batch, item.key.execution_id, model::ItemState::kInFlight, 1);
      claimed.push_back(std::move(item));
    }
    if (!store.write(&batch).isOk()) state.SkipWithError("claim write failed");
    fixture.scan_from = scan.entries.back().due;
    auto write_end = SteadyClock::now();
    scan_time += read_start - scan_start;
    read_time += write_start - read_start;
    write_time += write_end - write_start;

    state.PauseTiming();
    requeueAtTail(fixture, claimed);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClaimBatch));
  state.counters["load_s"] = fixture.load_seconds;
  state.counters["deletes_skipped_after"] = static_cast<double>(countSkippedDeletes(fixture));
  ReadCounts reads = countMultiGetReads(fixture);
  state.counters["multiget_blocks_read"] = static_cast<double>(reads.blocks);
  state.counters["multiget_index_blocks_read"] = static_cast<double>(reads.index_blocks);
  state.counters["multiget_kib_read"] = static_cast<double>(reads.bytes) / 1024;
  // Time per claim of each step: scanDue, the items MultiGet, and building plus writing the batch.
  state.counters["scan_us"] =
      benchmark::Counter(scan_time.count() * 1e6, benchmark::Counter::kAvgIterations);
  state.counters["read_us"] =
      benchmark::Counter(read_time.count() * 1e6, benchmark::Counter::kAvgIterations);
  state.counters["write_us"] =
      benchmark::Counter(write_time.count() * 1e6, benchmark::Counter::kAvgIterations);
}

// Same iteration count for every size, so every size has claimed (and left tombstones for) the
// same number of items when its time is taken.
constexpr int64_t kClaimIterations = 400;

BENCHMARK(BM_ScanDue)
    ->RangeMultiplier(10)
    ->Range(10'000, 10'000'000)
    ->Iterations(kClaimIterations)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClaimBatch)
    ->RangeMultiplier(10)
    ->Range(10'000, 10'000'000)
    ->Iterations(kClaimIterations)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Moves `count` items from the head of the queue to its tail, 256 at a time, touching only the
// queue family: the queue-side trace that `count` claimed and requeued items leave behind.
void moveHeadToTail(QueueFixture& fixture, int64_t count) {
  Store& store = *fixture.store;
  for (int64_t moved = 0; moved < count; moved += kClaimBatch) {
    auto scan = scanDue(store, fixture.host_id, kNow, kClaimBatch,
                        [](const model::ItemKey&) { return ScanDecision::kTake; });
    if (!scan.isOk()) std::abort();
    rocksdb::WriteBatch batch;
    for (const DueEntry& entry : scan.value().entries) {
      batch.Delete(store.family(kQueueFamily), entry.queue_key).PermitUncheckedError();
      enqueue(store, &batch, fixture.host_id, fixture.next_due++, entry.item);
    }
    if (!store.write(&batch).isOk()) std::abort();
  }
}

// scanDue on a queue of 10^6 items after a number of items (the argument, cumulative across
// arguments) were claimed from its head and requeued at its tail. RocksDB keeps a deleted key
// as a tombstone until compaction drops it, and a scan from the head of the host's range walks
// every tombstone before the first live key. The fixture waits for background compaction
// before the timed scans.
void BM_ScanDueAfterClaims(benchmark::State& state) {
  QueueFixture& fixture = queueFixture("tombstones-1000000", 1'000'000);
  int64_t target = state.range(0);
  if (target > fixture.moved) {
    moveHeadToTail(fixture, target - fixture.moved);
    fixture.moved = target;
    waitForBackgroundWork(fixture.store->db());
  }
  for (auto _ : state) {
    ScanResult scan = scanBatch(fixture, state);
    if (scan.entries.empty()) break;
    benchmark::DoNotOptimize(scan.entries.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClaimBatch));
  state.counters["deletes_skipped"] = static_cast<double>(countSkippedDeletes(fixture));
}
BENCHMARK(BM_ScanDueAfterClaims)
    ->Arg(0)
    ->Arg(25'600)
    ->Arg(256'000)
    ->Arg(1'024'000)
    ->Iterations(kClaimIterations)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// A finished response like the demo target's quote response.
http::Response makeResponse() {
  http::Response response;
  response.http_status = 200;
  response.body = R"({"carrier":"demo","quote_id":"q-000123","amount":{"value":"41.20",)"
                  R"("currency":"USD"},"transit_days":3,"valid_until":"2030-01-01T00:00:00Z"})";
  response.headers = {{"content-type", "application/json"}};
  response.total_seconds = 0.012;
  response.http_version = 2;
  return response;
}

// Adds one finished item as Scheduler::finishItem does: the final item record, the inflight
// delete, the result JSON and the count merges. The execution tracker's write (once per
// execution, when its last item ends) is left out.
void addFinishedItem(Store& store, rocksdb::WriteBatch* batch, const model::Id& execution,
                     uint32_t index, const http::Response& response) {
  model::WorkItem item = makeItem(execution, index, 1, kFirstDue);
  item.state = model::ItemState::kSucceeded;
  item.attempts = 1;
  item.first_attempt_at = kFirstDue;
  item.finished_at = kFirstDue + 12'000;
  item.next_attempt_at = 0;
  item.last_http_status = 200;
  store.putItem(batch, item);
  batch->Delete(store.family(kInflightFamily), item.key.encode()).PermitUncheckedError();
  batch
      ->Put(store.family(kResultsFamily), item.key.encode(),
            engine::buildResultJson(item, &response))
      .PermitUncheckedError();
  store.addCount(batch, execution, model::ItemState::kInFlight, -1);
  store.addCount(batch, execution, model::ItemState::kSucceeded, 1);
}

Store& commitStore(bool sync) {
  OpenStores& stores = openStores();
  if (sync && !stores.commit_sync) stores.commit_sync = openStore("commit-sync", Durability::kSync);
  if (!sync && !stores.commit_nosync) {
    stores.commit_nosync = openStore("commit-nosync", Durability::kNoSync);
  }
  return sync ? *stores.commit_sync : *stores.commit_nosync;
}

// Builds and writes one batch of 256 finished items per iteration with Store::write, on the
// calling thread. Argument: 1 for a synced WAL (durability "sync"), 0 for none.
void BM_CommitBatchDirect(benchmark::State& state) {
  bool sync = state.range(0) == 1;
  Store& store = commitStore(sync);
  http::Response response = makeResponse();
  static uint64_t next_execution = 0;
  for (auto _ : state) {
    model::Id execution = executionId(next_execution++);
    rocksdb::WriteBatch batch;
    for (uint32_t i = 0; i < kClaimBatch; ++i)
      addFinishedItem(store, &batch, execution, i, response);
    if (!store.write(&batch).isOk()) state.SkipWithError("commit write failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClaimBatch));
  state.SetLabel(sync ? "sync" : "nosync");
}
BENCHMARK(BM_CommitBatchDirect)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);

// A libuv loop with a Committer on it, for the group-commit benchmarks.
class CommitterLoop {
 public:
  explicit CommitterLoop(Store* store) {
    uv_loop_init(&loop_);
    committer_ = std::make_unique<Committer>(store, &loop_, [this](double, uint64_t, bool ok) {
      if (ok) ++writes_;
    });
  }
  ~CommitterLoop() {
    committer_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  uv_loop_t* loop() { return &loop_; }
  Committer& committer() { return *committer_; }
  // Written by the Committer's writer thread; read after the loop has seen the write's callback.
  uint64_t writes() const { return writes_.load(); }

 private:
  uv_loop_t loop_;
  std::unique_ptr<Committer> committer_;
  std::atomic<uint64_t> writes_{0};
};

// One batch of 256 finished items per iteration through the Committer, waiting for its
// callback before the next: Store::write plus the hand-off to the writer thread and back.
void BM_CommitBatchCommitter(benchmark::State& state) {
  bool sync = state.range(0) == 1;
  Store& store = commitStore(sync);
  CommitterLoop loop(&store);
  http::Response response = makeResponse();
  static uint64_t next_execution = 1'000'000;
  for (auto _ : state) {
    model::Id execution = executionId(next_execution++);
    for (uint32_t i = 0; i < kClaimBatch; ++i) {
      addFinishedItem(store, loop.committer().batch(), execution, i, response);
    }
    bool done = false;
    loop.committer().onDurable([&done](const Status&) { done = true; });
    // The Committer flushes from a check handle, which runs after the poll phase. Flushing
    // here keeps UV_RUN_ONCE from blocking in poll on a write that has not started.
    loop.committer().flush();
    while (!done) uv_run(loop.loop(), UV_RUN_ONCE);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kClaimBatch));
  state.SetLabel(sync ? "sync" : "nosync");
}
BENCHMARK(BM_CommitBatchCommitter)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The daemon's pattern: each loop turn adds 256 finished items and goes on without waiting,
// so turns that arrive while a write is under way are grouped into the next write. One
// iteration is 64 turns plus the wait for the last callback; "writes" is how many RocksDB
// writes those 64 turns took.
void BM_CommitPipelinedCommitter(benchmark::State& state) {
  constexpr int kTurns = 64;
  bool sync = state.range(0) == 1;
  Store& store = commitStore(sync);
  CommitterLoop loop(&store);
  http::Response response = makeResponse();
  static uint64_t next_execution = 2'000'000;
  uint64_t writes_before = loop.writes();
  for (auto _ : state) {
    int durable = 0;
    for (int turn = 0; turn < kTurns; ++turn) {
      model::Id execution = executionId(next_execution++);
      for (uint32_t i = 0; i < kClaimBatch; ++i) {
        addFinishedItem(store, loop.committer().batch(), execution, i, response);
      }
      loop.committer().onDurable([&durable](const Status&) { ++durable; });
      uv_run(loop.loop(), UV_RUN_NOWAIT);
    }
    loop.committer().flush();
    while (durable < kTurns) uv_run(loop.loop(), UV_RUN_ONCE);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kTurns * kClaimBatch));
  state.counters["writes"] = benchmark::Counter(static_cast<double>(loop.writes() - writes_before),
                                                benchmark::Counter::kAvgIterations);
  state.SetLabel(sync ? "sync" : "nosync");
}
BENCHMARK(BM_CommitPipelinedCommitter)
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace titand::store

// A main of our own, so the RocksDB directories are removed after the last benchmark.
int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  titand::store::closeStores();
  std::string dir = titand::store::rootDir();
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) std::fprintf(stderr, "cannot remove %s: %s\n", dir.c_str(), error.message().c_str());
  return 0;
}
