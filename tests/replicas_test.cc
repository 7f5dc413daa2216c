// Replicas (issue 16): three real keywardd processes on one real PostgreSQL
// database (a throwaway cluster), each with its own data dir, socket and
// audit log. What one replica changes, the others honour within a second
// (the change feed, daemon/follower.h); concurrent rotations from all three
// make contiguous versions; a replica whose database is gone past the
// staleness bound refuses with UNAVAILABLE and serves again once it is back;
// one replica holds the maintenance lease, and a paused holder steps down.
// Loops are bounded (CI budget).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "tests/replicas_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ReplicasTest, ARotationOnOneIsUsedByTheOthersWithinASecond) {
  ASSERT_TRUE(CreateKey(0, "shared").ok());
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_EQ(Encrypt(i, "shared"), 1) << "replica " << i;  // cached now
  }
  absl::Duration worst;
  for (int round = 0; round < 10; ++round) {
    const int writer = round % kReplicas;
    const int version = Rotate(writer, "shared");
    ASSERT_EQ(version, round + 2);
    const absl::Time rotated = absl::Now();
    for (int i = 0; i < kReplicas; ++i) {
      int used = -1;
      while ((used = Encrypt(i, "shared")) != version &&
             absl::Now() - rotated < absl::Seconds(1)) {
        ASSERT_EQ(used, version - 1) << "replica " << i;
        absl::SleepFor(absl::Milliseconds(5));
      }
      EXPECT_EQ(used, version) << "replica " << i << " after 1 s";
    }
    worst = std::max(worst, absl::Now() - rotated);
  }
  EXPECT_LT(worst, absl::Seconds(1));
}

TEST_F(ReplicasTest, AVersionDisabledOnOneIsRefusedByTheOthersWithinASecond) {
  ASSERT_TRUE(CreateKey(0, "k").ok());
  std::string old;
  ASSERT_EQ(Encrypt(1, "k", &old), 1);
  ASSERT_TRUE(Decrypt(2, "k", old).ok());  // cached on 2 with v1 enabled
  ASSERT_EQ(Rotate(0, "k"), 2);
  grpc::ClientContext ctx;
  Deadline(ctx);
  pb::DisableKeyVersionRequest req;
  req.set_name("keys/k/versions/1");
  pb::DisableKeyVersionResponse resp;
  ASSERT_TRUE(replicas_[0].keys->DisableKeyVersion(&ctx, req, &resp).ok());
  const absl::Time disabled = absl::Now();
  for (int i = 1; i < kReplicas; ++i) {
    grpc::Status s;
    while ((s = Decrypt(i, "k", old)).ok() &&
           absl::Now() - disabled < absl::Seconds(1)) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << "replica " << i << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("disabled"));
  }
}

TEST_F(ReplicasTest, ConcurrentRotationsFromEveryReplicaAreContiguous) {
  ASSERT_TRUE(CreateKey(0, "hot").ok());
  constexpr int kEach = 34;  // 102 concurrent rotations in all (the bar: 100)
  std::atomic<int> ok{0};
  std::vector<int> versions[kReplicas];
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        grpc::Status s;
        int v = Rotate(i, "hot", &s);
        if (s.ok()) {
          ++ok;
          versions[i].push_back(v);
        } else {
          // A lost race after the keystore's retries: ABORTED, nothing made.
          EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED)
              << s.error_message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> all;
  for (const auto& v : versions) {
    for (int n : v) EXPECT_TRUE(all.insert(n).second) << "version " << n;
  }
  ASSERT_EQ(static_cast<int>(all.size()), ok.load());
  EXPECT_GE(ok.load(), kReplicas * kEach / 2);
  EXPECT_EQ(*all.begin(), 2);
  EXPECT_EQ(*all.rbegin(), 1 + ok.load());  // 2..n, none missing
  // Every replica signs with the last one within a second.
  const absl::Time done = absl::Now();
  for (int i = 0; i < kReplicas; ++i) {
    int used = -1;
    while ((used = Encrypt(i, "hot")) != 1 + ok.load() &&
           absl::Now() - done < absl::Seconds(1)) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(used, 1 + ok.load()) << "replica " << i;
  }
}

TEST_F(ReplicasTest, PastTheStalenessBoundAReplicaRefusesThenRecovers) {
  ASSERT_TRUE(CreateKey(0, "k").ok());
  ASSERT_EQ(Encrypt(1, "k"), 1);  // cached: no database needed to encrypt
  ASSERT_TRUE(server_->Stop().ok());
  absl::SleepFor(absl::Milliseconds(2500));  // past the 2 s default bound
  grpc::Status s;
  Encrypt(1, "k", nullptr, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("has not caught up"));
  ASSERT_TRUE(server_->Restart().ok());
  // Each replica serves again by itself, within 10 s, without a restart.
  const absl::Time back = absl::Now();
  for (int i = 0; i < kReplicas; ++i) {
    int used = -1;
    while ((used = Encrypt(i, "k", nullptr, &s)) != 1 &&
           absl::Now() - back < absl::Seconds(10)) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_EQ(used, 1) << "replica " << i << ": " << s.error_message();
  }
}

// The maintenance lease (daemon/maintenance.h): one replica of three does
// the once-only work; paused (SIGSTOP) past the lease's 3 s, it is replaced
// by another in a new epoch, and once continued it steps down (its next
// pass sees the other holder; a write of its old epoch is refused by the
// fence, storage_conformance_lease_test.cc) and never takes the lease back
// while the new holder lives.
TEST_F(ReplicasTest, OneReplicaHoldsTheMaintenanceLeaseAPausedOneStepsDown) {
  auto holders = [&] {
    std::vector<int> out;
    for (int i = 0; i < kReplicas; ++i) {
      if (Logged(replicas_[i], "maintenance_lease_taken") > 0) out.push_back(i);
    }
    return out;
  };
  const absl::Time start = absl::Now();
  while (holders().empty() && absl::Now() - start < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Seconds(3));  // more passes: nobody else takes it
  const std::vector<int> first = holders();
  ASSERT_EQ(first.size(), 1u);
  const int old = first[0];
  ASSERT_EQ(kill(replicas_[old].daemon->pid(), SIGSTOP), 0);
  const absl::Time paused = absl::Now();
  while (holders().size() < 2 && absl::Now() - paused < absl::Seconds(15)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const absl::Duration replaced_after = absl::Now() - paused;
  ASSERT_EQ(kill(replicas_[old].daemon->pid(), SIGCONT), 0);
  const std::vector<int> both = holders();
  ASSERT_EQ(both.size(), 2u);
  // Not before the paused holder's lease expired (3 s from its last renewal,
  // at most a second before the pause).
  EXPECT_GE(replaced_after, absl::Seconds(2));
  const int next = both[0] == old ? both[1] : both[0];
  EXPECT_THAT(replicas_[next].daemon->Output(), HasSubstr("\"epoch\":\"2\""));
  const absl::Time resumed = absl::Now();
  while (Logged(replicas_[old], "maintenance_lease_stepped_down") +
                 Logged(replicas_[old], "maintenance_lease_lost") ==
             0 &&
         absl::Now() - resumed < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(Logged(replicas_[old], "maintenance_lease_stepped_down") +
                Logged(replicas_[old], "maintenance_lease_lost"),
            1)
      << replicas_[old].daemon->Output();
  absl::SleepFor(absl::Seconds(3));  // more passes: the new holder keeps it
  EXPECT_EQ(Logged(replicas_[old], "maintenance_lease_taken"), 1);
  EXPECT_EQ(Logged(replicas_[next], "maintenance_lease_taken"), 1);
  EXPECT_EQ(holders().size(), 2u);
}

}  // namespace
}  // namespace keyward::testing
