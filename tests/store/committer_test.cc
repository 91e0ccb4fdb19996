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

}  // namespace
}  // namespace titand::store
