// Unit tests of the system and audit command handlers against a mock
// client.
#include "client/cli_test_util.h"

namespace keyward::cli::testing {
namespace {


using SystemCommandTest = CommandTest;

TEST_F(SystemCommandTest, StatusShowsTheDaemonState) {
  v1::GetStatusResponse status;
  status.set_version("1.2.3");
  status.set_key_count(7);
  status.mutable_audit()->set_writable(true);
  EXPECT_CALL(client_, GetStatus()).WillOnce(Return(status));
  CliResult r = RunWith(client_, {"status"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("version:         1.2.3"));
  EXPECT_THAT(r.out, HasSubstr("keys:            7"));
  EXPECT_THAT(r.out, HasSubstr("audit log:       writable"));
}

TEST_F(SystemCommandTest, StatusShowsTheReplicaFeedAndLease) {
  v1::GetStatusResponse status;
  v1::ReplicaStatus* r = status.mutable_replica();
  r->set_replica_id("db-a");
  r->set_applied_seq(40);
  r->set_head_seq(42);
  r->set_lag_seq(2);
  r->mutable_lag()->set_nanos(300000000);
  r->mutable_max_staleness()->set_seconds(2);
  r->set_lease_holder("db-b#host/12/ab");
  r->set_lease_epoch(3);
  EXPECT_CALL(client_, GetStatus()).WillOnce(Return(status));
  CliResult r1 = RunWith(client_, {"status"});
  ASSERT_EQ(r1.exit_code, kExitOk) << r1.err;
  EXPECT_THAT(r1.out, HasSubstr("replica:         db-a\n"));
  EXPECT_THAT(r1.out,
              HasSubstr("feed:            applied 40, head 42 (2 changes "
                        "behind), lag 300ms (bound 2s)\n"));
  EXPECT_THAT(r1.out, HasSubstr("lease:           held by another replica: "
                                "db-b#host/12/ab, epoch 3\n"));

  r->set_lease_holder("db-a#host/9/cd");
  r->set_lease_held(true);
  r->set_head_seq(0);
  r->set_feed_error("PostgreSQL: connection refused");
  EXPECT_CALL(client_, GetStatus()).WillOnce(Return(status));
  CliResult r2 = RunWith(client_, {"status"});
  ASSERT_EQ(r2.exit_code, kExitOk) << r2.err;
  EXPECT_THAT(r2.out, HasSubstr("applied 40, head unknown (PostgreSQL: "
                                "connection refused), lag 300ms"));
  EXPECT_THAT(r2.out, HasSubstr("lease:           held by this replica: "
                                "db-a#host/9/cd, epoch 3\n"));
}

TEST_F(SystemCommandTest, StatusSaysSingleNodeOnSqlite) {
  v1::GetStatusResponse status;
  status.mutable_replica()->set_replica_id("host:/var/lib/keyward");
  status.mutable_replica()->set_single_node(true);
  EXPECT_CALL(client_, GetStatus()).WillOnce(Return(status));
  CliResult r = RunWith(client_, {"status"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("replica:         host:/var/lib/keyward "
                               "(single node: SQLite)\n"));
  EXPECT_THAT(r.out, HasSubstr("feed:            - (no change feed on SQLite)"));
  EXPECT_THAT(r.out, HasSubstr("lease:           not seen yet\n"));
}

TEST_F(SystemCommandTest, StatusFallsBackToTheHealthCheckOfAnOlderDaemon) {
  EXPECT_CALL(client_, GetStatus()).WillOnce(Return(absl::UnimplementedError("no")));
  grpc::health::v1::HealthCheckResponse health;
  health.set_status(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_CALL(client_, CheckHealth("")).WillOnce(Return(health));
  CliResult r = RunWith(client_, {"status"});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_EQ(r.out, "NOT_SERVING\n");
}

TEST_F(SystemCommandTest, UnsealSendsThePassphraseFromAPrivateFile) {
  std::string pass = WriteTemp("pass", "correct horse\n", 0600);
  EXPECT_CALL(client_, Unseal(Truly([](const v1::UnsealRequest& req) {
                return req.passphrase() == "correct horse" && req.initialize();
              })))
      .WillOnce([](const v1::UnsealRequest&) {
        v1::UnsealResponse resp;
        resp.set_created(true);
        return resp;
      });
  CliResult r = RunWith(client_, {"unseal", "--passphrase-file", pass, "--initialize"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "keystore created; unsealed\n");
}

// Backup is a fake CreateBackup: it sends `chunks`, then ends with `result`.
auto Backup(std::vector<std::string> chunks, absl::StatusOr<v1::BackupInfo> result) {
  return [=](const std::function<absl::Status(absl::string_view)>& sink) {
    for (const std::string& chunk : chunks) EXPECT_TRUE(sink(chunk).ok());
    return result;
  };
}

TEST_F(SystemCommandTest, BackupStreamsToAFileRenamedWhenComplete) {
  std::string out = TempPath("backup.kwb");
  unlink(out.c_str());
  v1::BackupInfo info;
  info.set_backup_id("b1");
  info.set_key_count(2);
  EXPECT_CALL(client_, CreateBackup(_)).WillOnce(Backup({"part1-", "part2"}, info));
  CliResult r = RunWith(client_, {"backup", out});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(ReadTemp(out), "part1-part2");
  EXPECT_EQ(r.out, absl::StrCat("backup b1 of 2 keys written to ", out, "\n"));
  EXPECT_NE(access((out + ".partial").c_str(), F_OK), 0);
}

TEST_F(SystemCommandTest, AFailedBackupLeavesNoFile) {
  std::string out = TempPath("failed.kwb");
  unlink(out.c_str());
  EXPECT_CALL(client_, CreateBackup(_))
      .WillOnce(Backup({"half"}, absl::UnavailableError("daemon is sealed")));
  CliResult r = RunWith(client_, {"backup", "--out", out});
  EXPECT_EQ(r.exit_code, kExitError);
  EXPECT_THAT(r.err, HasSubstr("keyward: cannot back up: daemon is sealed"));
  EXPECT_NE(access(out.c_str(), F_OK), 0);
  EXPECT_NE(access((out + ".partial").c_str(), F_OK), 0);
}

TEST_F(SystemCommandTest, AuditTailPrintsEveryBatch) {
  EXPECT_CALL(client_, ReadAuditLog(Truly([](const v1::ReadAuditLogRequest& req) {
                                      return req.start_sequence() == 5 &&
                                             req.max_records() == 2 &&
                                             req.principal() == "unix:uid:0";
                                    }),
                                    _))
      .WillOnce([](const v1::ReadAuditLogRequest&,
                   const std::function<bool(const v1::ReadAuditLogResponse&)>& on) {
        for (int seq : {5, 6}) {
          v1::ReadAuditLogResponse batch;
          v1::AuditRecord* rec = batch.add_records();
          rec->set_sequence(seq);
          rec->set_method("KeyService/GetKey");
          rec->set_code(seq == 6 ? 5 : 0);
          if (!on(batch)) break;
        }
        return absl::OkStatus();
      });
  CliResult r = RunWith(client_, {"audit", "tail", "--from", "5", "--max", "2",
                                  "--principal", "unix:uid:0"});
  ASSERT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("KeyService/GetKey  -  OK"));
  EXPECT_THAT(r.out, HasSubstr("KeyService/GetKey  -  NOT_FOUND"));
  ExpectRefusedBeforeAnyCall(RunWith(client_, {"audit", "tail", "--from", "x"}),
                             "--from must be a number");
}

TEST_F(SystemCommandTest, AuditVerifyBrokenChainExitsOne) {
  v1::VerifyAuditLogResponse resp;
  resp.set_ok(false);
  resp.set_first_bad_sequence(42);
  resp.set_problem("hash mismatch");
  EXPECT_CALL(client_, VerifyAuditLog(_)).WillOnce(Return(resp));
  CliResult r = RunWith(client_, {"audit", "verify"});
  EXPECT_EQ(r.exit_code, kExitInvalid);
  EXPECT_EQ(r.out, "BROKEN at record 42: hash mismatch\n");
}

}  // namespace
}  // namespace keyward::cli::testing
