// Queue keys and due scans on a real RocksDB.
#include "store/queue.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace titand::store {
namespace {

model::ItemKey key(uint32_t index) { return {model::deriveId("execution", "queue"), index}; }

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open({dir_.str(), Durability::kNoSync});
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = std::move(opened.value());
  }
  void put(uint32_t host, Micros due, uint32_t index) {
    rocksdb::WriteBatch batch;
    enqueue(*store_, &batch, host, due, key(index));
    ASSERT_TRUE(store_->write(&batch).isOk());
  }
  ScanResult scan(uint32_t host, Micros now, size_t max) {
    auto result =
        scanDue(*store_, host, now, max, [](const model::ItemKey&) { return ScanDecision::kTake; });
    EXPECT_TRUE(result.isOk());
    return result.isOk() ? result.value() : ScanResult{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(QueueTest, KeysSortByHostThenDueTime) {
  EXPECT_LT(queueKey(1, 500, key(9)), queueKey(1, 600, key(0)));
  EXPECT_LT(queueKey(1, 900, key(0)), queueKey(2, 100, key(0)));
  auto decoded = decodeQueueKey(queueKey(3, 123456, key(42)));
  ASSERT_TRUE(decoded.isOk());
  EXPECT_EQ(decoded.value().host_id, 3u);
  EXPECT_EQ(decoded.value().due, 123456);
  EXPECT_EQ(decoded.value().item, key(42));
  EXPECT_FALSE(decodeQueueKey("short").isOk());
}

TEST_F(QueueTest, ScanReturnsOnlyDueKeysOfHostOldestFirst) {
  put(1, 300, 0);
  put(1, 100, 1);
  put(1, 900, 2);  // Not due at 500.
  put(2, 50, 3);   // Another host.
  ScanResult result = scan(1, 500, 10);
  ASSERT_EQ(result.entries.size(), 2u);
  EXPECT_EQ(result.entries[0].item, key(1));
  EXPECT_EQ(result.entries[1].item, key(0));
  EXPECT_TRUE(result.exhausted);
  EXPECT_EQ(nextDueAfter(*store_, 1, 500), 900);
  EXPECT_EQ(nextDueAfter(*store_, 1, 900), kNoDueTime);
}

TEST_F(QueueTest, ScanStopsAtMaxAndHonoursDecisions) {
  for (uint32_t i = 0; i < 10; ++i) put(4, 100 + i, i);
  ScanResult limited = scan(4, 1000, 3);
  EXPECT_EQ(limited.entries.size(), 3u);
  EXPECT_FALSE(limited.exhausted);

  int seen = 0;
  auto result = scanDue(*store_, 4, 1000, 10, [&](const model::ItemKey& item) {
    ++seen;
    if (item.index % 2 == 0) return ScanDecision::kSkip;
    return item.index >= 7 ? ScanDecision::kStop : ScanDecision::kTake;
  });
  ASSERT_TRUE(result.isOk());
  ASSERT_EQ(result.value().entries.size(), 3u);  // 1, 3, 5; stop at 7.
  EXPECT_EQ(result.value().entries[2].item, key(5));
  EXPECT_FALSE(result.value().exhausted);
  EXPECT_EQ(seen, 8);
}

TEST_F(QueueTest, DeletedKeysAreNotReturned) {
  for (uint32_t i = 0; i < 100; ++i) put(5, 10, i);
  rocksdb::WriteBatch batch;
  for (const DueEntry& entry : scan(5, 10, 60).entries) {
    batch.Delete(store_->family(kQueueFamily), entry.queue_key);
  }
  ASSERT_TRUE(store_->write(&batch).isOk());
  ScanResult rest = scan(5, 10, 100);
  ASSERT_EQ(rest.entries.size(), 40u);
  EXPECT_EQ(rest.entries.front().item, key(60));
}

}  // namespace
}  // namespace titand::store
