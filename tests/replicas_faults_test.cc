// Replicas under faults (issue 16, "The bar"): three real keywardd processes
// on one real PostgreSQL database (replicas_fixture.h), a client driving
// random operations at random replicas (replicas_load.h), then the faults:
// three replicas started at once on an empty database; a replica killed
// with SIGKILL under load; PostgreSQL restarted under load (pg_ctl restart
// -m fast, then -m immediate); the maintenance lease's holder paused past
// its lease mid-pass, and the lease row deleted. After each, every
// acknowledged change is looked for through the replicas still up, and the
// database's integrity is checked (amcheck, a full read, versions
// contiguous, the feed gap-free). Loops are bounded in count and time.
#include <signal.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "tests/replicas_fixture.h"
#include "tests/replicas_load.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

class ReplicasFaultsTest : public ReplicasTest {
 protected:
  void MakeSharedKeys() {
    ::keyward::testing::MakeSharedKeys(
        [&](const std::string& id, pb::KeyType type, pb::KeyPurpose purpose) {
          return CreateKey(0, id, type, purpose);
        });
  }

  // The lease row: holder ("{replica_id}#host/pid/random", empty if none) and epoch.
  std::pair<std::string, int> LeaseRow() const {
    auto row = Psql(
        "SELECT holder, epoch FROM leases WHERE name = 'maintenance' AND "
        "expires_at_us > (extract(epoch FROM clock_timestamp()) * 1000000)");
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || row->empty()) return {"", 0};
    std::vector<std::string> cols = absl::StrSplit(*row, '|');
    int epoch = 0;
    EXPECT_TRUE(absl::SimpleAtoi(cols.at(1), &epoch)) << *row;
    return {cols[0], epoch};
  }

  // The replica whose process is named in lease holder `holder`
  // ("{replica_id}#{host}/{pid}/{random}"), or -1.
  int ReplicaOf(const std::string& holder) const {
    const size_t hash = holder.rfind('#');
    if (hash == std::string::npos) return -1;
    std::vector<std::string> parts =
        absl::StrSplit(holder.substr(hash + 1), '/');
    int pid = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &pid)) return -1;
    for (int i = 0; i < kReplicas; ++i) {
      if (replicas_[i].daemon != nullptr && replicas_[i].daemon->pid() == pid) {
        return i;
      }
    }
    return -1;
  }

  // WaitForHolder: the replica holding the lease once one of `among` does
  // (within `within`), or -1.
  int WaitForHolder(const std::set<int>& among,
                    absl::Duration within = absl::Seconds(10)) {
    const absl::Time start = absl::Now();
    do {
      const int i = ReplicaOf(LeaseRow().first);
      if (among.count(i)) return i;
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() - start < within);
    return -1;
  }

  // For each epoch logged in a "maintenance_lease_taken" line, the replicas
  // that logged it.
  std::map<int, std::set<int>> TakenEpochs() const {
    std::map<int, std::set<int>> out;
    for (int i = 0; i < kReplicas; ++i) {
      if (replicas_[i].daemon == nullptr) continue;
      for (absl::string_view line :
           absl::StrSplit(replicas_[i].daemon->Output(), '\n')) {
        if (!absl::StrContains(line, "\"maintenance_lease_taken\"")) continue;
        const size_t at = line.find("\"epoch\":\"");
        int epoch = 0;
        if (at == absl::string_view::npos ||
            !absl::SimpleAtoi(line.substr(at + 9, line.find('"', at + 9) -
                                                      at - 9),
                              &epoch)) {
          ADD_FAILURE() << "no epoch in " << line;
          continue;
        }
        out[epoch].insert(i);
      }
    }
    return out;
  }

  // ExpectAcknowledged looks for every change `load` had acknowledged
  // through each replica of `via` in turn: keys, versions, token records
  // (revoked ones REVOKED), and revoked tokens refused by VerifyJwt on
  // every replica of `via`.
  void ExpectAcknowledged(const Load::Acked& acked, const std::vector<int>& via) {
    int n = 0;
    auto next = [&] { return via[n++ % via.size()]; };
    for (const std::string& id : acked.created) {
      grpc::ClientContext ctx;
      Deadline(ctx);
      pb::GetKeyRequest req;
      req.set_name("keys/" + id);
      pb::GetKeyResponse resp;
      grpc::Status s = replicas_[next()].keys->GetKey(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    }
    for (const auto& [id, version] : acked.versions) {
      grpc::ClientContext ctx;
      Deadline(ctx);
      pb::GetKeyVersionRequest req;
      req.set_name(absl::StrCat("keys/", id, "/versions/", version));
      pb::GetKeyVersionResponse resp;
      grpc::Status s = replicas_[next()].keys->GetKeyVersion(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << req.name() << ": " << s.error_message();
    }
    for (const auto& [jti, token] : acked.tokens) {
      grpc::ClientContext ctx;
      Deadline(ctx);
      pb::GetTokenRecordRequest req;
      req.set_name("tokens/" + jti);
      pb::GetTokenRecordResponse resp;
      grpc::Status s = replicas_[next()].jwt->GetTokenRecord(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << jti << ": " << s.error_message();
      if (acked.revoked.count(jti)) {
        EXPECT_EQ(resp.record().state(), pb::TOKEN_STATE_REVOKED) << jti;
      }
    }
    for (const std::string& jti : acked.revoked) {
      for (int i : via) {
        grpc::Status s;
        EXPECT_EQ(VerifyJwt(i, acked.tokens.at(jti), &s),
                  pb::JWT_FAILURE_REVOKED)
            << "replica " << i << ", " << jti << ": " << s.error_message();
      }
    }
    std::printf("acknowledged and found: %zu keys created, %zu rotations, "
                "%zu tokens, %zu revoked\n",
                acked.created.size(), acked.versions.size(),
                acked.tokens.size(), acked.revoked.size());
  }
};

// Three `keywardd init` at once on an empty database: the schema is set up
// once (under its lock), one makes the keystore and the others are told it
// exists (exit 2); then three daemons started at once all serve it.
class EmptyDatabaseTest : public ReplicasFaultsTest {
 protected:
  void SetUp() override { PrepareDatabase(); }
};

TEST_F(EmptyDatabaseTest, ThreeReplicasStartedAtOnceMakeOneSchemaAndAllServe) {
  ProcessResult inits[kReplicas];
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kReplicas; ++i) {
      threads.emplace_back([&, i] { inits[i] = RunProcess(InitArgv(i)); });
    }
    for (auto& t : threads) t.join();
  }
  int made = 0;
  for (const ProcessResult& r : inits) {
    if (r.exit_code == 0) {
      ++made;
      EXPECT_THAT(r.output, HasSubstr("created keystore"));
    } else {
      EXPECT_EQ(r.exit_code, 2) << r.output;
      EXPECT_THAT(r.output, HasSubstr("already holds a keystore")) << r.output;
    }
  }
  EXPECT_EQ(made, 1);
  auto schema = Psql(
      "SELECT (SELECT count(*) || '|' || max(version) FROM keyward_schema), "
      "(SELECT count(*) FROM meta), (SELECT count(*) FROM change_head)");
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_EQ(*schema, "1|8|1|1");

  absl::StatusOr<std::unique_ptr<DaemonProcess>> daemons[kReplicas];
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kReplicas; ++i) {
      threads.emplace_back([&, i] {
        daemons[i] = DaemonProcess::Start(
            replicas_[i].dir, {"--config", config_, "--data_dir",
                               replicas_[i].dir, "--passphrase_file",
                               passphrase_});
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_TRUE(daemons[i].ok()) << "replica " << i << ": " << daemons[i].status();
    Adopt(i, std::move(*daemons[i]));
  }
  ASSERT_TRUE(CreateKey(1, "first").ok());
  for (int i = 0; i < kReplicas; ++i) {
    grpc::Status s;
    EXPECT_EQ(Encrypt(i, "first", nullptr, &s), 1)
        << "replica " << i << ": " << s.error_message();
  }
  // Two replicas' rotations, seen by the third.
  EXPECT_EQ(Rotate(0, "first"), 2);
  EXPECT_EQ(Rotate(2, "first"), 3);
  for (int i = 0; i < kReplicas; ++i) {
    EXPECT_THAT(replicas_[i].daemon->Output(),
                ::testing::Not(HasSubstr("\"level\":\"error\"")));
  }
  ExpectDatabaseIntact();
  ExpectAuditChainsIntact();
}

// SIGKILL of the lease holder under load: calls to the other two never fail,
// the lease passes to one of them, and every acknowledged change is there,
// through them and through the killed replica restarted.
TEST_F(ReplicasFaultsTest, AKilledReplicaLeavesTheOthersServingNothingLost) {
  MakeSharedKeys();
  const int victim = WaitForHolder({0, 1, 2});
  ASSERT_GE(victim, 0) << "no lease holder after 10 s";
  std::vector<int> survivors;
  for (int i = 0; i < kReplicas; ++i) {
    if (i != victim) survivors.push_back(i);
  }
  Load load(replicas_, absl::Seconds(5));
  load.Start(3);
  absl::SleepFor(absl::Seconds(2));
  const absl::Time killed = absl::Now();
  ProcessResult end = replicas_[victim].daemon->Signal(SIGKILL);
  EXPECT_EQ(end.signal, SIGKILL);
  absl::SleepFor(absl::Seconds(1));  // the victim too: refused, at once
  load.SetTargets(survivors);
  absl::SleepFor(absl::Seconds(3));
  load.Stop();

  int victim_failures = 0;
  for (const Load::Failure& f : load.failures()) {
    if (f.replica == victim && f.at + f.took >= killed) {
      ++victim_failures;
      EXPECT_EQ(f.status.error_code(), grpc::StatusCode::UNAVAILABLE)
          << f.op << " to the killed replica: " << f.status.error_message();
      continue;
    }
    ADD_FAILURE() << f.op << " to replica " << f.replica << " ("
                  << (f.replica == victim ? "before the kill" : "a survivor")
                  << ") failed after " << f.took << ": "
                  << f.status.error_code() << " " << f.status.error_message();
  }
  const std::vector<int> ok = load.successes();
  for (int i : survivors) EXPECT_GT(ok[i], 20) << "replica " << i;
  std::printf("kill -9 of replica %d under load: calls answered %d/%d/%d, "
              "%d refused by the killed one, none by the others\n",
              victim, ok[0], ok[1], ok[2], victim_failures);
  // The lease passes on (three intervals after the last renewal at most).
  EXPECT_GE(WaitForHolder({survivors[0], survivors[1]}), 0)
      << "no survivor took the lease";
  for (const auto& [e, who] : TakenEpochs()) {
    EXPECT_EQ(who.size(), 1u) << "epoch " << e << " taken by several";
  }
  ExpectAcknowledged(load.acked(), survivors);
  // Restarted, the killed replica serves all of it too.
  Start(victim);
  ASSERT_FALSE(HasFatalFailure());
  ExpectAcknowledged(load.acked(), {victim});
  ExpectDatabaseIntact();
  ExpectAuditChainsIntact();
}

// PostgreSQL restarted under load, fast then immediate: every call that
// fails says UNAVAILABLE within its deadline, each replica serves writes
// again by itself within 10 s of the server being back, and nothing that
// was acknowledged is lost.
TEST_F(ReplicasFaultsTest, PostgresRestartedUnderLoadEveryReplicaRecovers) {
  MakeSharedKeys();
  constexpr absl::Duration kDeadline = absl::Seconds(5);
  Load load(replicas_, kDeadline);
  load.Start(3);
  absl::SleepFor(absl::Milliseconds(1500));
  const absl::Time first_fault = absl::Now();
  int probes = 0;
  for (const std::string mode : {"fast", "immediate"}) {
    const absl::Time begin = absl::Now();
    ASSERT_TRUE(server_->RestartNow(mode).ok());
    const absl::Time up = absl::Now();
    for (int i = 0; i < kReplicas; ++i) {
      grpc::Status s;
      do {
        grpc::ClientContext ctx;
        Deadline(ctx, absl::Seconds(2));
        pb::CreateKeyRequest req;
        req.set_key_id(absl::StrCat("probe-", probes++));
        req.mutable_key()->set_key_type(pb::KEY_TYPE_AES256_GCM);
        pb::CreateKeyResponse resp;
        s = replicas_[i].keys->CreateKey(&ctx, req, &resp);
        if (!s.ok()) absl::SleepFor(absl::Milliseconds(50));
      } while (!s.ok() && absl::Now() - up < absl::Seconds(10));
      EXPECT_TRUE(s.ok()) << "replica " << i << " 10 s after `pg_ctl restart -m "
                          << mode << "`: " << s.error_message();
      std::printf("pg_ctl restart -m %s: took %s; replica %d writes again %s "
                  "after the server was back\n",
                  mode.c_str(), absl::FormatDuration(up - begin).c_str(), i,
                  absl::FormatDuration(absl::Now() - up).c_str());
    }
    absl::SleepFor(absl::Seconds(1));  // load on the recovered replicas
    for (int i = 0; i < kReplicas; ++i) {
      EXPECT_TRUE(load.SucceededAfter(i, up)) << "replica " << i;
    }
  }
  load.Stop();
  int failed = 0;
  for (const Load::Failure& f : load.failures()) {
    ++failed;
    EXPECT_EQ(f.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << f.op << " to replica " << f.replica << ": "
        << f.status.error_message();
    EXPECT_LE(f.took, kDeadline + absl::Seconds(1)) << f.op;
    EXPECT_GE(f.at + f.took, first_fault)
        << f.op << " failed before any fault: " << f.status.error_message();
  }
  const std::vector<int> ok = load.successes();
  std::printf("PostgreSQL restarted twice under load: calls answered "
              "%d/%d/%d, %d refused with UNAVAILABLE\n",
              ok[0], ok[1], ok[2], failed);
  ExpectAcknowledged(load.acked(), {0, 1, 2});
  ExpectDatabaseIntact();
  ExpectAuditChainsIntact();
}

// The holder paused mid-pass (its read of the due keys held up by a table
// lock, then SIGSTOP) past its lease: another replica takes the lease in a
// new epoch; continued, the old holder's first fenced write (the token
// purge) is refused, it logs maintenance_lease_lost and never takes the
// lease back while the new holder lives. No epoch is ever taken by two.
TEST_F(ReplicasFaultsTest, APausedHoldersFirstFencedWriteFailsAndItStepsDown) {
  const int old = WaitForHolder({0, 1, 2});
  ASSERT_GE(old, 0) << "no lease holder after 10 s";
  const int old_epoch = LeaseRow().second;
  // Hold the keys table (up to 20 s; ended below): the holder's next pass
  // (within a second, or a few on a loaded machine) waits in its read of the
  // due keys, between taking the lease and its first write.
  std::thread locker([&] {
    // Ends with an error: its session is terminated below.
    Psql("BEGIN; LOCK TABLE keys IN ACCESS EXCLUSIVE MODE; "
         "SELECT pg_sleep(20) AS holding_the_keys_table; COMMIT;")
        .IgnoreError();
  });
  const absl::Time locked = absl::Now();
  bool waiting = false;
  while (!waiting && absl::Now() - locked < absl::Seconds(5)) {
    auto n = Psql(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
        "'Lock' AND query LIKE '%rotation_period_s%'");
    waiting = n.ok() && *n == "1";
    if (!waiting) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(waiting) << "the holder's pass never waited on the keys table";
  ASSERT_EQ(kill(replicas_[old].daemon->pid(), SIGSTOP), 0);
  const absl::Time paused = absl::Now();
  // The lock ends now, so that the next holder's passes are not held up:
  // the paused one's read completes, unread, in its socket.
  auto ended = Psql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
      "query LIKE '%AS holding_the_keys_table%' AND pid <> pg_backend_pid()");
  EXPECT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended.value_or(""), "1");
  locker.join();
  int next = -1;
  while ((next = ReplicaOf(LeaseRow().first)) == old || next < 0) {
    if (absl::Now() - paused > absl::Seconds(15)) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  const auto [holder, epoch] = LeaseRow();
  ASSERT_EQ(kill(replicas_[old].daemon->pid(), SIGCONT), 0);
  ASSERT_NE(next, old);
  ASSERT_GE(next, 0);
  EXPECT_EQ(epoch, old_epoch + 1);
  const absl::Time resumed = absl::Now();
  while (Logged(replicas_[old], "maintenance_lease_lost") == 0 &&
         absl::Now() - resumed < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  const std::string out = replicas_[old].daemon->Output();
  EXPECT_EQ(Logged(replicas_[old], "maintenance_lease_lost"), 1) << out;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("\"event\":\"maintenance_lease_lost\"",
                                          ",\"holder\":\"")));
  absl::SleepFor(absl::Seconds(3));  // more passes: nothing changes hands
  EXPECT_EQ(LeaseRow(), std::make_pair(holder, epoch));
  EXPECT_EQ(Logged(replicas_[old], "maintenance_lease_taken"), 1);
  // Each epoch had one holder, and the old one stopped at its own.
  for (const auto& [e, who] : TakenEpochs()) {
    EXPECT_EQ(who.size(), 1u) << "epoch " << e << " taken by several";
  }
  EXPECT_EQ(TakenEpochs()[epoch], std::set<int>{next});
  EXPECT_THAT(out, HasSubstr(absl::StrCat("\"epoch\":\"", old_epoch, "\"")));
  ExpectDatabaseIntact();
  ExpectAuditChainsIntact();
}

// The lease row deleted under the holder: a replica takes the lease again
// within a few passes, and it stays with one holder.
TEST_F(ReplicasFaultsTest, ALeaseRowDeletedIsTakenAgain) {
  ASSERT_GE(WaitForHolder({0, 1, 2}), 0) << "no lease holder after 10 s";
  ASSERT_TRUE(Psql("DELETE FROM leases WHERE name = 'maintenance'").ok());
  const absl::Time deleted = absl::Now();
  const int again = WaitForHolder({0, 1, 2});
  ASSERT_GE(again, 0) << "nobody took the lease again";
  EXPECT_LT(absl::Now() - deleted, absl::Seconds(5));
  const auto row = LeaseRow();
  absl::SleepFor(absl::Seconds(3));  // more passes: it stays where it is
  EXPECT_EQ(LeaseRow(), row);
  int taken_after = 0;
  for (int i = 0; i < kReplicas; ++i) {
    if (i != again) {
      // Others may have stepped down; none holds it now.
      EXPECT_NE(ReplicaOf(LeaseRow().first), i);
    }
    taken_after += Logged(replicas_[i], "maintenance_lease_taken");
  }
  EXPECT_LE(taken_after, 2);  // the first holder, and again at most once
  ExpectDatabaseIntact();
  ExpectAuditChainsIntact();
}

}  // namespace
}  // namespace keyward::testing
