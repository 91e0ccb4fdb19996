// Crash safety: SIGKILL titand at random moments during a 20,000-item batch, restart it
// each time, then check in RocksDB that every item has exactly one terminal result.
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "integration/task_lines.h"
#include "store/schema.h"
#include "store/store.h"
#include "support/daemon_harness.h"
#include "testing/http_target.h"

namespace titand::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kTasks = 2000;
constexpr int kUrlsPerTask = 10;
constexpr int kItems = kTasks * kUrlsPerTask;
constexpr int kKills = 6;

int64_t terminalItems(DaemonHarness& daemon) {
  std::string metrics = httpGet(daemon.metricsUrl() + "/metrics").body;
  int64_t total = 0;
  for (const char* state : {"succeeded", "failed"}) {
    std::string prefix = fmt::format("titand_items{{state=\"{}\"}} ", state);
    size_t at = metrics.find(prefix);
    if (at != std::string::npos) total += std::stoll(metrics.substr(at + prefix.size()));
  }
  return total;
}

TEST(CrashTest, KillNineLosesNothing) {
  HttpTarget::Options options;
  options.ports = {0, 0, 0, 0};
  auto started = HttpTarget::start(options);
  ASSERT_TRUE(started.isOk()) << started.status().toString();
  auto& target = *started.value();

  DaemonHarness daemon(R"(
[engine]
max_in_flight = 256
[hosts.default]
requests_per_second = 0
burst = 1000
max_connections = 32
)");
  std::string content;
  for (int task = 0; task < kTasks; ++task) {
    std::vector<std::string> urls;
    for (int url = 0; url < kUrlsPerTask; ++url) {
      urls.push_back(fmt::format("{}/item/{}/{}", target.baseUrl(url % 4), task, url));
    }
    content += taskLine(fmt::format("crash-{}", task), urls, task % 2 == 0 ? R"({"n":1})" : "");
  }
  daemon.start();
  daemon.dropFile("crash.ndjson", content);

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(100, 1500);
  int kills = 0;
  for (; kills < kKills; ++kills) {
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));
    daemon.kill9();
    daemon.start();
    if (::testing::Test::HasFatalFailure()) return;
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (terminalItems(daemon) < kItems && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_EQ(daemon.stop(), 0);

  // Read the state directly from RocksDB.
  auto store = store::Store::open({daemon.stateDir().string()});
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  rocksdb::DB* db = store.value()->db();
  auto count = [&](const char* family) {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), store.value()->family(family)));
    int64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  };
  EXPECT_EQ(count(store::kItemsFamily), kItems);
  EXPECT_EQ(count(store::kResultsFamily), kItems);
  EXPECT_EQ(count(store::kQueueFamily), 0);
  EXPECT_EQ(count(store::kInflightFamily), 0);
  store::StateCounts totals = store.value()->getCounts(store::kAllExecutions);
  EXPECT_EQ(totals[static_cast<int>(model::ItemState::kSucceeded)], kItems);
  EXPECT_EQ(totals[static_cast<int>(model::ItemState::kQueued)], 0);
  EXPECT_EQ(totals[static_cast<int>(model::ItemState::kInFlight)], 0);

  std::unique_ptr<rocksdb::Iterator> items(
      db->NewIterator(rocksdb::ReadOptions(), store.value()->family(store::kItemsFamily)));
  int64_t not_succeeded = 0;
  for (items->SeekToFirst(); items->Valid(); items->Next()) {
    auto item = model::WorkItem::decode(items->value().ToStringView());
    ASSERT_TRUE(item.isOk());
    if (item.value().state != model::ItemState::kSucceeded) ++not_succeeded;
  }
  EXPECT_EQ(not_succeeded, 0);
  EXPECT_EQ(target.distinctKeys(), static_cast<size_t>(kItems));

  uint64_t extra = target.totalRequests() - target.distinctKeys();
  std::printf(
      "crash test: %d kills, %d items, target saw %llu requests, %llu beyond one per item\n", kills,
      kItems, static_cast<unsigned long long>(target.totalRequests()),
      static_cast<unsigned long long>(extra));
  ::testing::Test::RecordProperty("duplicate_requests", static_cast<int>(extra));
}

}  // namespace
}  // namespace titand::testing
