// Operating replicas (issue 16): real keywardd processes on one real,
// throwaway PostgreSQL database.
// - Replica ids: a second replica started with an id that is live on the
//   database is refused (exit 2, naming the id and the fix); the id of a
//   replica that died is free again once its replica_ttl has passed (at
//   once when restarted on the same host, whose kernel says the old process
//   is gone), and a clean stop frees it at once (daemon/replica.h).
// - `keyward status` shows the replica id, its feed position, the head and
//   the lag, and the maintenance lease's holder; Prometheus exports the lag
//   (keyward_feed_lag_seconds, keyward_feed_lag_changes). On SQLite the
//   status says single node.
// - Deadlines: a call blocked by a row lock that another session holds (as
//   a paused replica would) ends with UNAVAILABLE after lock_timeout, and a
//   log line, never a hang (storage.postgres.lock_timeout).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keystore/testing/postgres_server.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "libpq-fe.h"
#include "tests/daemon_process.h"
#include "tests/free_port.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using keystore::testing::PostgresServer;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kReplicaTtlSeconds = 6;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
}

class ReplicaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PostgresServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto dsn = server_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    root_ = NewTempDir();
    passphrase_ = root_ + "/passphrase";
    WriteFile(passphrase_, "replica ops test passphrase\n");
    config_ = root_ + "/keywardd.txtpb";
    WriteFile(config_,
              absl::StrCat("storage { postgres { dsn: \"", dsn_,
                           "\" pool_size: 2 lock_timeout { nanos: 500000000 } "
                           "statement_timeout { seconds: 2 } } }\n"
                           "maintenance_interval { seconds: 1 }\n"
                           "replica_ttl { seconds: ",
                           kReplicaTtlSeconds, " }\n"));
    ProcessResult init =
        RunProcess({Runfile("daemon/keywardd"), "init", "--config", config_,
                    "--data_dir", Dir("init"), "--passphrase_file",
                    passphrase_});
    ASSERT_EQ(init.exit_code, 0) << init.output;
  }

  // A fresh data dir for a replica named `name`.
  std::string Dir(const std::string& name) {
    const std::string dir = absl::StrCat(root_, "/", name);
    mkdir(dir.c_str(), 0700);
    return dir;
  }

  // The config with `more` appended (for the audit tests).
  std::string ConfigWith(const std::string& name, const std::string& more) {
    std::ifstream in(config_);
    std::string text((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    const std::string path = absl::StrCat(root_, "/", name, ".txtpb");
    WriteFile(path, text + more);
    return path;
  }

  std::vector<std::string> Args(const std::string& dir,
                                const std::string& replica_id,
                                const std::string& config = "") {
    return {"--config", config.empty() ? config_ : config, "--data_dir", dir,
            "--passphrase_file", passphrase_, "--replica_id", replica_id};
  }

  absl::StatusOr<std::unique_ptr<DaemonProcess>> StartReplica(
      const std::string& name, const std::string& replica_id,
      std::vector<std::string> more = {}, const std::string& config = "") {
    std::vector<std::string> args = Args(Dir(name), replica_id, config);
    args.insert(args.end(), more.begin(), more.end());
    return DaemonProcess::Start(Dir(name), args);
  }

  // Runs keywardd in the foreground with `replica_id`: for a start that is
  // refused (a start that is not would serve until the timeout kills it).
  ProcessResult RunReplica(const std::string& name,
                           const std::string& replica_id,
                           const std::string& config = "") {
    std::vector<std::string> argv = {Runfile("daemon/keywardd"), "--socket",
                                     Dir(name) + "/keywardd.sock"};
    for (const std::string& a : Args(Dir(name), replica_id, config)) {
      argv.push_back(a);
    }
    return RunProcess(argv, absl::Seconds(20));
  }

  static ProcessResult Cli(const DaemonProcess& d,
                           std::vector<std::string> args) {
    args.insert(args.begin(), {Runfile("client/keyward"), "--addr",
                               "unix://" + d.socket_path()});
    return RunProcess(args);
  }

  std::unique_ptr<PostgresServer> server_;
  std::string dsn_, root_, passphrase_, config_;
};

TEST_F(ReplicaOpsTest, ALiveReplicaIdIsRefusedAndADeadOnesIsFreed) {
  auto first = StartReplica("a", "dup");
  ASSERT_TRUE(first.ok()) << first.status();

  ProcessResult refused = RunReplica("b", "dup");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("replica id \"dup\" is live on this database"));
  EXPECT_THAT(refused.output, HasSubstr("--replica_id"));
  // Another id on the same database is welcome.
  auto other = StartReplica("c", "other");
  ASSERT_TRUE(other.ok()) << other.status();

  // Killed, then restarted on this host: its claim cannot be renewed any
  // more (no such process), so the new one takes the id at once.
  (*first)->Signal(SIGKILL);
  auto second = StartReplica("b", "dup");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT((*second)->Output(), HasSubstr("replica_id_taken_over"));

  // A clean stop frees the id at once.
  ProcessResult stopped = (*second)->Signal(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
  auto third = StartReplica("d", "dup");
  ASSERT_TRUE(third.ok()) << third.status();
}

// A replica on another host that died: its last heartbeat (a row on the
// database's clock) holds the id until replica_ttl has passed, then the id
// is free.
TEST_F(ReplicaOpsTest, ADeadRemoteReplicasIdIsFreeOnceItsTtlHasPassed) {
  PGconn* db = PQconnectdb(dsn_.c_str());
  ASSERT_EQ(PQstatus(db), CONNECTION_OK) << PQerrorMessage(db);
  PGresult* r = PQexec(
      db, absl::StrCat(
              "INSERT INTO leases (name, holder, epoch, expires_at_us) VALUES "
              "('replica:remote', 'remote#elsewhere/4242/abcd', 1, "
              "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + ",
              kReplicaTtlSeconds, "000000)")
              .c_str());
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(db);
  const absl::Time heartbeat = absl::Now();

  ProcessResult refused = RunReplica("a", "remote");
  if (absl::Now() - heartbeat < absl::Seconds(kReplicaTtlSeconds)) {
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
    EXPECT_THAT(refused.output, HasSubstr("replica id \"remote\" is live"));
    EXPECT_THAT(refused.output,
                HasSubstr("instance remote#elsewhere/4242/abcd holds it"));
  }
  absl::SleepFor(heartbeat + absl::Seconds(kReplicaTtlSeconds) +
                 absl::Milliseconds(500) - absl::Now());
  auto started = StartReplica("a", "remote");
  ASSERT_TRUE(started.ok()) << started.status();
}

TEST_F(ReplicaOpsTest, StatusShowsTheReplicaItsFeedAndTheLease) {
  const int port = FreePort();
  auto a = StartReplica(
      "a", "replica-a", {"--metrics_address", absl::StrCat("127.0.0.1:", port)});
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = StartReplica("b", "replica-b");
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(Cli(**a, {"key", "create", "k", "--type", "ed25519"}).exit_code, 0);
  ASSERT_EQ(Cli(**b, {"key", "rotate", "k"}).exit_code, 0);

  // Each replica's first maintenance pass (at start) saw the lease; both
  // catch up with the two changes within the poll.
  std::string out_a, out_b;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(10)) {
    ProcessResult ra = Cli(**a, {"status"});
    ProcessResult rb = Cli(**b, {"status"});
    ASSERT_EQ(ra.exit_code, 0) << ra.output;
    ASSERT_EQ(rb.exit_code, 0) << rb.output;
    out_a = ra.output;
    out_b = rb.output;
    if (absl::StrContains(out_a, "(0 changes behind)") &&
        absl::StrContains(out_b, "(0 changes behind)") &&
        !absl::StrContains(out_a, "not seen yet") &&
        !absl::StrContains(out_b, "not seen yet")) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(out_a, HasSubstr("replica:         replica-a\n"));
  EXPECT_THAT(out_b, HasSubstr("replica:         replica-b\n"));
  for (const std::string& out : {out_a, out_b}) {
    EXPECT_THAT(out, HasSubstr("feed:            applied 2, head 2 (0 changes "
                               "behind), lag "));
    EXPECT_THAT(out, HasSubstr("(bound 2s)"));
  }
  // One holder, named the same by both, with its epoch.
  const bool a_holds = absl::StrContains(out_a, "held by this replica");
  const bool b_holds = absl::StrContains(out_b, "held by this replica");
  EXPECT_NE(a_holds, b_holds) << out_a << out_b;
  const std::string holder = a_holds ? "replica-a#" : "replica-b#";
  EXPECT_THAT(out_a, HasSubstr("lease:           held by "));
  EXPECT_THAT(out_a, HasSubstr(": " + holder));
  EXPECT_THAT(out_b, HasSubstr(": " + holder));
  EXPECT_THAT(out_a, HasSubstr(", epoch 1\n"));

  ProcessResult json = Cli(**a, {"status", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"replicaId\": \"replica-a\""));

  ProcessResult scraped = RunProcess(
      {"/usr/bin/python3", "-c",
       absl::StrCat("import urllib.request; print(urllib.request.urlopen("
                    "'http://127.0.0.1:", port, "/metrics').read().decode())")});
  ASSERT_EQ(scraped.exit_code, 0) << scraped.output;
  EXPECT_THAT(scraped.output, HasSubstr("# TYPE keyward_feed_lag_seconds gauge"));
  EXPECT_THAT(scraped.output, HasSubstr("\nkeyward_feed_lag_seconds "));
  EXPECT_THAT(scraped.output, HasSubstr("\nkeyward_feed_lag_changes 0"));
  EXPECT_THAT(scraped.output, Not(HasSubstr("keyward_feed_lag_seconds +Inf")));
}

TEST_F(ReplicaOpsTest, StatusOnSqliteSaysSingleNode) {
  const std::string dir = Dir("sqlite");
  ProcessResult init =
      RunProcess({Runfile("daemon/keywardd"), "init", "--data_dir", dir,
                  "--passphrase_file", passphrase_});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto d = DaemonProcess::Start(
      dir, {"--data_dir", dir, "--passphrase_file", passphrase_,
            "--replica_id", "solo"});
  ASSERT_TRUE(d.ok()) << d.status();
  ProcessResult r = Cli(**d, {"status"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("replica:         solo (single node: SQLite)"));
  EXPECT_THAT(r.output, HasSubstr("feed:            - (no change feed on SQLite)"));
}

// Audit with replicas: two replicas sharing one audit directory keep one
// chain each, named by replica id (audit.path "audit-{replica_id}.log");
// `keyward audit verify --dir` checks every chain and names a tampered one.
// Two replicas given one fixed audit path: the second is refused.
TEST_F(ReplicaOpsTest, EachReplicaKeepsItsOwnAuditChainAndVerifyChecksAll) {
  const std::string dir = Dir("audit");
  const std::string shared = ConfigWith(
      "shared-audit",
      absl::StrCat("audit { path: \"", dir, "/audit-{replica_id}.log\" }\n"));
  auto a = StartReplica("a", "replica-a", {}, shared);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = StartReplica("b", "replica-b", {}, shared);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(Cli(**a, {"key", "create", "k", "--type", "ed25519"}).exit_code, 0);
  ASSERT_EQ(Cli(**b, {"key", "rotate", "k"}).exit_code, 0);
  ASSERT_EQ(Cli(**a, {"sign", "k", "--in", passphrase_}).exit_code, 0);
  EXPECT_EQ((*a)->Signal(SIGTERM).exit_code, 0);
  EXPECT_EQ((*b)->Signal(SIGTERM).exit_code, 0);

  const std::string keyward = Runfile("client/keyward");
  ProcessResult ok = RunProcess({keyward, "audit", "verify", "--dir", dir});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr(dir + "/audit-replica-a.log: ok: "));
  EXPECT_THAT(ok.output, HasSubstr(dir + "/audit-replica-b.log: ok: "));
  EXPECT_THAT(ok.output, HasSubstr("2 chains: 2 ok, 0 broken, 0 unreadable"));

  // Tamper with one record of replica-b's chain.
  const std::string b_log = dir + "/audit-replica-b.log";
  std::string text;
  {
    std::ifstream in(b_log);
    text.assign(std::istreambuf_iterator<char>(in),
                std::istreambuf_iterator<char>());
  }
  const size_t at = text.find("keys/k");
  ASSERT_NE(at, std::string::npos) << text;
  text[at + 5] = 'x';
  WriteFile(b_log, text);
  ProcessResult bad = RunProcess({keyward, "audit", "verify", "--dir", dir});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr(dir + "/audit-replica-a.log: ok: "));
  EXPECT_THAT(bad.output,
              HasSubstr(dir + "/audit-replica-b.log: BROKEN at record "));
  EXPECT_THAT(bad.output, HasSubstr("2 chains: 1 ok, 1 broken, 0 unreadable"));
  ProcessResult one = RunProcess(
      {keyward, "audit", "verify", "--file", dir + "/audit-replica-a.log"});
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_THAT(one.output, HasSubstr("1 chain: 1 ok, 0 broken, 0 unreadable"));

  // One fixed path for two replicas: the second is refused, naming the
  // first.
  const std::string fixed = ConfigWith(
      "fixed-audit",
      absl::StrCat("audit { path: \"", Dir("audit-fixed"), "/audit.log\" }\n"));
  auto x = StartReplica("x", "replica-x", {}, fixed);
  ASSERT_TRUE(x.ok()) << x.status();
  ProcessResult refused = RunReplica("y", "replica-y", fixed);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("is in use by another keywardd (replica \"replica-x\")"));
  EXPECT_THAT(refused.output, HasSubstr("{replica_id}"));
}

// A row lock held by another session (a replica stopped mid-change holds
// its locks the same way) makes a call on that row wait lock_timeout
// (500 ms here), then fail with UNAVAILABLE naming it, logged; nothing
// changed, and the call works once the lock is gone.
TEST_F(ReplicaOpsTest, ACallBlockedByAHeldLockEndsUnavailableWithinTheBound) {
  auto d = StartReplica("a", "replica-a");
  ASSERT_TRUE(d.ok()) << d.status();
  auto keys = pb::KeyService::NewStub((*d)->NewChannel());
  ASSERT_EQ(Cli(**d, {"key", "create", "k", "--type", "ed25519"}).exit_code, 0);

  PGconn* holder = PQconnectdb(dsn_.c_str());
  ASSERT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
  PGresult* locked =
      PQexec(holder, "BEGIN; SELECT id FROM keys WHERE id = 'k' FOR UPDATE");
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK)
      << PQresultErrorMessage(locked);
  ASSERT_EQ(PQntuples(locked), 1);
  PQclear(locked);

  auto rotate = [&](pb::RotateKeyResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    pb::RotateKeyRequest req;
    req.set_name("keys/k");
    return keys->RotateKey(&ctx, req, resp);
  };
  pb::RotateKeyResponse resp;
  const absl::Time start = absl::Now();
  grpc::Status s = rotate(&resp);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("lock_timeout"));
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_THAT((*d)->Output(), HasSubstr("storage_unavailable"));

  PQclear(PQexec(holder, "ROLLBACK"));
  PQfinish(holder);
  ASSERT_TRUE(rotate(&resp).ok());
  EXPECT_EQ(resp.version().name(), "keys/k/versions/2");  // nothing changed
}

}  // namespace
}  // namespace keyward::testing
