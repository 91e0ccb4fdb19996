// Committer: group commit off the loop thread, callbacks in order on the loop thread.
#include "store/committer.h"

#include <gtest/gtest.h>

#include <thread>

#include "support/temp_dir.h"

namespace titand::store {
namespace {

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    auto opened = Store::open({dir_.str()});
    ASSERT_TRUE(opened.isOk()) << opened.status().toString();
    store_ = std::move(opened.value());
  }
  void TearDown() override {
    committer_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  // Runs the loop until `done` is true, at most about five seconds.
  void runUntil(const bool& done) {
    for (int i = 0; i < 5000 && !done; ++i) {
      uv_run(&loop_, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  testing::TempDir dir_;
  uv_loop_t loop_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Committer> committer_;
};

TEST_F(CommitterTest, CallbackRunsAfterDataIsReadable) {
  uint64_t writes = 0;
  committer_ = std::make_unique<Committer>(store_.get(), &loop_,
                                           [&](double, uint64_t, bool ok) { writes += ok; });
  committer_->batch()->Put(store_->family(kTasksFamily), "k", "v");
  bool done = false;
  std::string seen;
  committer_->onDurable([&](const Status& status) {
    EXPECT_TRUE(status.isOk());
    store_->db()->Get(rocksdb::ReadOptions(), store_->family(kTasksFamily), "k", &seen);
    done = true;
  });
  runUntil(done);
  EXPECT_TRUE(done);
  EXPECT_EQ(seen, "v");
  EXPECT_EQ(writes, 1u);
  EXPECT_TRUE(committer_->idle());
}

TEST_F(CommitterTest, CallbacksRunInCommitOrder) {
  committer_ = std::make_unique<Committer>(store_.get(), &loop_, nullptr);
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) {
    committer_->batch()->Put(store_->family(kTasksFamily), "key" + std::to_string(i), "v");
    committer_->onDurable([&order, i](const Status&) { order.push_back(i); });
    if (i % 7 == 0) uv_run(&loop_, UV_RUN_NOWAIT);
  }
  bool all = false;
  committer_->onDurable([&all](const Status&) { all = true; });
  runUntil(all);
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
}

TEST_F(CommitterTest, ShutdownWritesWhatIsOpen) {
  committer_ = std::make_unique<Committer>(store_.get(), &loop_, nullptr);
  committer_->batch()->Put(store_->family(kTasksFamily), "late", "v");
  bool called = false;
  committer_->onDurable([&called](const Status&) { called = true; });
  committer_->shutdown();
  EXPECT_TRUE(called);
  std::string value;
  EXPECT_TRUE(
      store_->db()->Get(rocksdb::ReadOptions(), store_->family(kTasksFamily), "late", &value).ok());
}

TEST_F(CommitterTest, CountDeltasSumPerBatch) {
  committer_ = std::make_unique<Committer>(store_.get(), &loop_, nullptr);
  model::Id first{};
  first[0] = 1;
  model::Id second{};
  second[0] = 2;
  for (int i = 0; i < 10; ++i) {
    committer_->addCount(first, model::ItemState::kQueued, -1);
    committer_->addCount(first, model::ItemState::kInFlight, 1);
  }
  committer_->addCount(second, model::ItemState::kSucceeded, 3);
  committer_->addCount(second, model::ItemState::kFailed, 1);
  committer_->addCount(second, model::ItemState::kFailed, -1);
  bool done = false;
  committer_->onDurable([&done](const Status&) { done = true; });
  runUntil(done);

  StateCounts first_counts = store_->getCounts(first);
  EXPECT_EQ(first_counts[static_cast<int>(model::ItemState::kQueued)], -10);
  EXPECT_EQ(first_counts[static_cast<int>(model::ItemState::kInFlight)], 10);
  StateCounts second_counts = store_->getCounts(second);
  EXPECT_EQ(second_counts[static_cast<int>(model::ItemState::kSucceeded)], 3);
  EXPECT_EQ(second_counts[static_cast<int>(model::ItemState::kFailed)], 0);
  StateCounts totals = store_->getCounts(kAllExecutions);
  EXPECT_EQ(totals[static_cast<int>(model::ItemState::kInFlight)], 10);
  EXPECT_EQ(totals[static_cast<int>(model::ItemState::kSucceeded)], 3);

  // A batch that holds only count deltas is still written at shutdown.
  committer_->addCount(second, model::ItemState::kSucceeded, 2);
  committer_->shutdown();
  EXPECT_EQ(store_->getCounts(second)[static_cast<int>(model::ItemState::kSucceeded)], 5);
}

}  // namespace
}  // namespace titand::store
