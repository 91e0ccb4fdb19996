// Store: opening, locking, typed reads and the merge-operator counts, on a real RocksDB.
#include "store/store.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace titand::store {
namespace {

using testing::TempDir;

model::WorkItem sampleItem(uint32_t index) {
  model::WorkItem item;
  item.key.execution_id = model::deriveId("execution", "sample");
  item.key.index = index;
  item.task_id = model::deriveId("task", "sample");
  item.host_id = 7;
  item.method = "POST";
  item.url = "http://127.0.0.1:9/x";
  item.body = R"({"a":1})";
  item.timeout_seconds = 20;
  item.max_retries = 2;
  item.queued_at = 1000;
  item.next_attempt_at = 1000;
  return item;
}

TEST(StoreTest, SecondOpenOfSameDirectoryFails) {
  TempDir dir;
  auto first = Store::open({dir.str()});
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  auto second = Store::open({dir.str()});
  ASSERT_FALSE(second.isOk());
  EXPECT_EQ(second.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use by another titand"), std::string::npos);
  EXPECT_NE(second.status().message().find(std::to_string(::getpid())), std::string::npos);
}

TEST(StoreTest, ReopenAfterCloseSucceeds) {
  TempDir dir;
  { ASSERT_TRUE(Store::open({dir.str()}).isOk()); }
  auto again = Store::open({dir.str()});
  EXPECT_TRUE(again.isOk()) << again.status().toString();
}

TEST(StoreTest, ItemRoundTripsThroughBatch) {
  TempDir dir;
  auto store = Store::open({dir.str()});
  ASSERT_TRUE(store.isOk());
  rocksdb::WriteBatch batch;
  model::WorkItem item = sampleItem(3);
  store.value()->putItem(&batch, item);
  ASSERT_TRUE(store.value()->write(&batch).isOk());

  auto read = store.value()->getItem(item.key);
  ASSERT_TRUE(read.isOk());
  ASSERT_TRUE(read.value().has_value());
  EXPECT_EQ(read.value()->url, item.url);
  EXPECT_EQ(read.value()->body, item.body);
  EXPECT_EQ(read.value()->key, item.key);

  auto many = store.value()->multiGetItems({item.key, sampleItem(4).key});
  ASSERT_EQ(many.size(), 2u);
  EXPECT_TRUE(many[0].isOk());
  EXPECT_EQ(many[1].status().code(), ErrorCode::kNotFound);
}

TEST(StoreTest, CountsSumDeltasPerExecutionAndOverall) {
  TempDir dir;
  auto store = Store::open({dir.str()});
  ASSERT_TRUE(store.isOk());
  model::Id execution = model::deriveId("execution", "counts");
  rocksdb::WriteBatch batch;
  store.value()->addCount(&batch, execution, model::ItemState::kQueued, 5);
  store.value()->addCount(&batch, execution, model::ItemState::kQueued, -2);
  store.value()->addCount(&batch, execution, model::ItemState::kSucceeded, 2);
  ASSERT_TRUE(store.value()->write(&batch).isOk());

  StateCounts counts = store.value()->getCounts(execution);
  EXPECT_EQ(counts[static_cast<int>(model::ItemState::kQueued)], 3);
  EXPECT_EQ(counts[static_cast<int>(model::ItemState::kSucceeded)], 2);
  EXPECT_EQ(counts[static_cast<int>(model::ItemState::kFailed)], 0);
  StateCounts all = store.value()->getCounts(kAllExecutions);
  EXPECT_EQ(all[static_cast<int>(model::ItemState::kQueued)], 3);
}

TEST(StoreTest, HostIdsPersistAcrossReopen) {
  TempDir dir;
  uint32_t first_id = 0, second_id = 0;
  {
    auto store = Store::open({dir.str()});
    ASSERT_TRUE(store.isOk());
    rocksdb::WriteBatch batch;
    first_id = store.value()->hostIdFor("http://127.0.0.1:80", &batch);
    second_id = store.value()->hostIdFor("https://127.0.0.1:443", &batch);
    EXPECT_EQ(store.value()->hostIdFor("http://127.0.0.1:80", &batch), first_id);
    ASSERT_TRUE(store.value()->write(&batch).isOk());
  }
  EXPECT_NE(first_id, second_id);
  EXPECT_GT(first_id, 0u);
  auto store = Store::open({dir.str()});
  ASSERT_TRUE(store.isOk());
  EXPECT_EQ(store.value()->originOf(first_id), "http://127.0.0.1:80");
  EXPECT_EQ(store.value()->originOf(second_id), "https://127.0.0.1:443");
  rocksdb::WriteBatch batch;
  EXPECT_GT(store.value()->hostIdFor("http://127.0.0.2:80", &batch), second_id);
}

}  // namespace
}  // namespace titand::store
