// The storage contract's leases (keystore/storage.h, "Leases"), checked
// against every backend (instantiated in storage_conformance_test.cc):
// taking, renewing, never stealing a live lease, a new epoch after expiry
// (also for the old holder), fenced writes refused once the lease is lost
// with nothing written, and one holder among concurrent acquirers.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "keystore/commit_hook.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore::testing {
namespace {

using ::testing::HasSubstr;

// HeldBy: AcquireLease answered OK, naming `holder` in `epoch`.
::testing::AssertionResult HeldBy(const absl::StatusOr<LeaseRecord>& lease,
                                  const std::string& holder, int64_t epoch) {
  if (!lease.ok()) {
    return ::testing::AssertionFailure() << lease.status();
  }
  if (lease->holder != holder || lease->epoch != epoch) {
    return ::testing::AssertionFailure()
           << "held by '" << lease->holder << "' in epoch " << lease->epoch
           << ", not '" << holder << "' in epoch " << epoch;
  }
  return ::testing::AssertionSuccess();
}

TEST_P(StorageConformanceTest, LeaseIsTakenRenewedAndNeverStolen) {
  EXPECT_EQ(storage().AcquireLease("", "a", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage().AcquireLease("m", "", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(storage().AcquireLease("m", "a", absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);

  const absl::Time before = absl::Now() - absl::Seconds(1);
  auto a = storage().AcquireLease("m", "a", absl::Seconds(30));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->name, "m");
  EXPECT_EQ(a->holder, "a");
  EXPECT_EQ(a->epoch, 1);
  EXPECT_GT(a->expires, before + absl::Seconds(29));
  EXPECT_LT(a->expires, absl::Now() + absl::Seconds(32));

  // Another replica (its own connection) sees the holder and changes
  // nothing.
  auto other = Another();
  ASSERT_NE(other, nullptr);
  auto b = other->AcquireLease("m", "b", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(b, "a", 1));
  EXPECT_EQ(b->expires, a->expires);

  // The holder renews: same epoch, later expiry.
  absl::SleepFor(absl::Milliseconds(20));
  auto renewed = storage().AcquireLease("m", "a", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(renewed, "a", 1));
  EXPECT_GT(renewed->expires, a->expires);

  // Leases are independent by name.
  auto n = other->AcquireLease("other-work", "b", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(n, "b", 1));
}

TEST_P(StorageConformanceTest, ExpiredLeaseIsTakenInANewEpoch) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(storage().AcquireLease("m", "a", absl::Milliseconds(200))->epoch, 1);
  absl::SleepFor(absl::Milliseconds(400));
  auto b = other->AcquireLease("m", "b", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(b, "b", 2));
  // The old holder cannot renew its way back.
  auto a = storage().AcquireLease("m", "a", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(a, "b", 2));
  // A holder that let its own lease expire gets a new epoch too.
  ASSERT_EQ(other->AcquireLease("n", "b", absl::Milliseconds(200))->epoch, 1);
  absl::SleepFor(absl::Milliseconds(400));
  auto again = other->AcquireLease("n", "b", absl::Seconds(30));
  ASSERT_TRUE(HeldBy(again, "b", 2));
}

TEST_P(StorageConformanceTest, FencedWritesCheckTheLeaseInTheirTransaction) {
  auto other = Another();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(storage().CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage().CreateTokenRecord(Token("t1", 10)).ok());
  auto held = storage().AcquireLease("m", "a", absl::Milliseconds(300));
  ASSERT_TRUE(held.ok()) << held.status();
  {
    // While held: fenced writes are made; reads are never fenced.
    ScopedLeaseFence fence({"m", "a", held->epoch});
    EXPECT_TRUE(storage().AddVersion(Version("a", 2), true).ok());
    EXPECT_TRUE(storage().GetKey("a").ok());
    // A fence naming another epoch or holder refuses.
  }
  {
    ScopedLeaseFence fence({"m", "a", held->epoch + 1});
    EXPECT_EQ(storage().AddVersion(Version("a", 3), true).code(),
              absl::StatusCode::kFailedPrecondition);
  }
  // Lost: expired and taken by another.
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_EQ(other->AcquireLease("m", "b", absl::Seconds(30))->holder, "b");
  const int64_t head = storage().ChangeHead().value_or(-1);
  {
    ScopedLeaseFence fence({"m", "a", held->epoch});
    absl::Status s = storage().AddVersion(Version("a", 3), true);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("is no longer held by 'a'"));
    auto purged = storage().PurgeTokenRecords(absl::FromUnixSeconds(5000), 10);
    EXPECT_EQ(purged.status().code(), absl::StatusCode::kFailedPrecondition);
    auto pruned = storage().PruneChanges(absl::Now() + absl::Hours(1), 10);
    EXPECT_EQ(pruned.status().code(), absl::StatusCode::kFailedPrecondition);
    // Taking a lease is never fenced.
    EXPECT_EQ(storage().AcquireLease("m", "a", absl::Seconds(1))->holder, "b");
  }
  // Nothing was written by the refused changes.
  EXPECT_EQ(storage().GetKey("a")->latest_version, 2);
  EXPECT_TRUE(storage().GetTokenRecord("t1").ok());
  EXPECT_EQ(storage().ChangeHead().value_or(-1), head);
  // The new holder's fenced writes are made.
  ScopedLeaseFence fence({"m", "b", 2});
  EXPECT_TRUE(other->AddVersion(Version("a", 3), true).ok());
}

TEST_P(StorageConformanceTest, ConcurrentAcquirersAgreeOnOneHolder) {
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<Storage>> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.push_back(Another());
    ASSERT_NE(replicas.back(), nullptr);
  }
  std::vector<LeaseRecord> seen(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      auto got = replicas[i]->AcquireLease("m", absl::StrCat("r", i),
                                           absl::Seconds(30));
      EXPECT_TRUE(got.ok()) << got.status();
      if (got.ok()) seen[i] = *got;
    });
  }
  for (std::thread& t : threads) t.join();
  int holders = 0;
  for (int i = 0; i < kReplicas; ++i) {
    EXPECT_EQ(seen[i].holder, seen[0].holder);
    EXPECT_EQ(seen[i].epoch, 1);
    holders += seen[i].holder == absl::StrCat("r", i);
  }
  EXPECT_EQ(holders, 1);
}

}  // namespace
}  // namespace keyward::keystore::testing
