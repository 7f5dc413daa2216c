#include "daemon/work_pool.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace keyward::daemon {
namespace {

TEST(WorkPoolTest, RunsEveryClosureBeforeItIsDestroyed) {
  std::atomic<int> ran{0};
  {
    WorkPool pool(2);
    for (int i = 0; i < 1000; ++i) pool.Schedule([&ran] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(WorkPoolTest, RunsClosuresOnSeveralThreadsAtOnce) {
  WorkPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  // Three closures that each wait for the other two: they finish only if
  // the three run at the same time, on three threads.
  absl::Mutex mu;
  int arrived = 0;
  std::set<std::thread::id> threads;
  absl::Notification done[3];
  for (int i = 0; i < 3; ++i) {
    pool.Schedule([&, i] {
      absl::MutexLock lock(&mu);
      ++arrived;
      threads.insert(std::this_thread::get_id());
      mu.Await(absl::Condition(
          +[](int* n) { return *n == 3; }, &arrived));
      done[i].Notify();
    });
  }
  for (auto& d : done) {
    ASSERT_TRUE(d.WaitForNotificationWithTimeout(absl::Seconds(30)));
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(WorkPoolTest, AtLeastOneThread) {
  WorkPool pool(0);
  EXPECT_EQ(pool.size(), 1);
  absl::Notification ran;
  pool.Schedule([&ran] { ran.Notify(); });
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_GE(WorkPool::DefaultSize(), 1);
}

TEST(WorkPoolTest, ChunksForKeepsChunksLargeEnoughAndOnePerThread) {
  WorkPool pool(4);
  EXPECT_EQ(pool.ChunksFor(1, 4), 1);
  EXPECT_EQ(pool.ChunksFor(7, 4), 1);
  EXPECT_EQ(pool.ChunksFor(8, 4), 2);
  EXPECT_EQ(pool.ChunksFor(12, 4), 3);
  EXPECT_EQ(pool.ChunksFor(1000, 4), 4);
  EXPECT_EQ(pool.ChunksFor(3, 1), 3);
  EXPECT_EQ(pool.ChunksFor(3, 0), 3);
}

}  // namespace
}  // namespace keyward::daemon
