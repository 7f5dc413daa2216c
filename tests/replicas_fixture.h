// ReplicasTest: three real keywardd processes on one real PostgreSQL
// database (a throwaway cluster, keystore/testing/postgres_server.h), each
// with its own data dir, socket and audit log, maintenance every second (so
// the lease lives 3 s). Shared by the replica tests (replicas_test.cc,
// replicas_faults_test.cc, replicas_propagation_test.cc): stubs per replica,
// the calls they make, SQL through psql, and the database's integrity check.
// Every call carries a deadline (kCallDeadline unless told).
#ifndef KEYWARD_TESTS_REPLICAS_FIXTURE_H_
#define KEYWARD_TESTS_REPLICAS_FIXTURE_H_

#include <sys/stat.h>

#include <csignal>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keystore/testing/postgres_server.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"

namespace keyward::testing {

namespace pb = keyward::v1;

constexpr int kReplicas = 3;
constexpr absl::Duration kCallDeadline = absl::Seconds(10);

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
}

// The number n at the end of "keys/{id}/versions/{n}", or -1.
inline int VersionOf(const std::string& name) {
  int n = -1;
  size_t slash = name.rfind('/');
  if (slash == std::string::npos ||
      !absl::SimpleAtoi(name.substr(slash + 1), &n)) {
    return -1;
  }
  return n;
}

// Deadline sets `ctx`'s deadline `d` from now.
inline void Deadline(grpc::ClientContext& ctx, absl::Duration d = kCallDeadline) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

struct Replica {
  std::string dir;
  std::unique_ptr<DaemonProcess> daemon;
  std::unique_ptr<pb::CryptoService::Stub> crypto;
  std::unique_ptr<pb::KeyService::Stub> keys;
  std::unique_ptr<pb::JwtService::Stub> jwt;
  std::unique_ptr<pb::AccessService::Stub> access;
};

class ReplicasTest : public ::testing::Test {
 protected:
  // SetUp: a new cluster and database, `keywardd init` on it, and the three
  // replicas started one after the other.
  void SetUp() override {
    PrepareDatabase();
    if (HasFatalFailure()) return;
    ProcessResult init = RunProcess(InitArgv(0));
    ASSERT_EQ(init.exit_code, 0) << init.output;
    for (int i = 0; i < kReplicas; ++i) {
      Start(i);
      if (HasFatalFailure()) return;
    }
  }

  // PrepareDatabase starts the cluster, makes an empty database, writes the
  // shared config and passphrase, and makes each replica's data dir.
  void PrepareDatabase() {
    auto server = keystore::testing::PostgresServer::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto dsn = server_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    const std::string root = NewTempDir();
    passphrase_ = root + "/passphrase";
    WriteFile(passphrase_, "replicas test passphrase\n");
    config_ = root + "/keywardd.txtpb";
    // Maintenance every second: the lease lives three intervals (3 s).
    WriteFile(config_, absl::StrCat("storage { postgres { dsn: \"", dsn_,
                                    "\" pool_size: 3 } }\n"
                                    "maintenance_interval { seconds: 1 }\n"));
    for (int i = 0; i < kReplicas; ++i) {
      replicas_[i].dir = absl::StrCat(root, "/r", i);
      ASSERT_EQ(mkdir(replicas_[i].dir.c_str(), 0700), 0);
    }
  }

  // `keywardd init` with replica i's data dir and the shared config.
  std::vector<std::string> InitArgv(int i) const {
    return {Runfile("daemon/keywardd"), "init", "--config", config_,
            "--data_dir", replicas_[i].dir, "--passphrase_file", passphrase_};
  }

  // Start (re)starts replica i and makes its stubs.
  void Start(int i) {
    Replica& r = replicas_[i];
    r.daemon.reset();
    auto daemon = DaemonProcess::Start(
        r.dir, {"--config", config_, "--data_dir", r.dir, "--passphrase_file",
                passphrase_});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    Adopt(i, std::move(*daemon));
  }

  // Adopt makes `daemon` replica i and makes its stubs.
  void Adopt(int i, std::unique_ptr<DaemonProcess> daemon) {
    Replica& r = replicas_[i];
    r.daemon = std::move(daemon);
    auto channel = r.daemon->NewChannel();
    r.crypto = pb::CryptoService::NewStub(channel);
    r.keys = pb::KeyService::NewStub(channel);
    r.jwt = pb::JwtService::NewStub(channel);
    r.access = pb::AccessService::NewStub(channel);
  }

  grpc::Status CreateKey(int i, const std::string& id,
                         pb::KeyType type = pb::KEY_TYPE_AES256_GCM,
                         pb::KeyPurpose purpose = pb::KEY_PURPOSE_UNSPECIFIED) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(purpose);
    pb::CreateKeyResponse resp;
    return replicas_[i].keys->CreateKey(&ctx, req, &resp);
  }

  // Rotate on replica i: the new version, or -1 with `status` set.
  int Rotate(int i, const std::string& id, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::RotateKeyRequest req;
    req.set_name("keys/" + id);
    pb::RotateKeyResponse resp;
    grpc::Status s = replicas_[i].keys->RotateKey(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    return s.ok() ? VersionOf(resp.version().name()) : -1;
  }

  // Encrypt on replica i: the version used, or -1.
  int Encrypt(int i, const std::string& id, std::string* ciphertext = nullptr,
              grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::EncryptRequest req;
    req.set_name("keys/" + id);
    req.set_plaintext("hello");
    pb::EncryptResponse resp;
    grpc::Status s = replicas_[i].crypto->Encrypt(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    if (ciphertext != nullptr) *ciphertext = resp.ciphertext();
    return s.ok() ? VersionOf(resp.key_version()) : -1;
  }

  grpc::Status Decrypt(int i, const std::string& id,
                       const std::string& ciphertext) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::DecryptRequest req;
    req.set_name("keys/" + id);
    req.set_ciphertext(ciphertext);
    pb::DecryptResponse resp;
    return replicas_[i].crypto->Decrypt(&ctx, req, &resp);
  }

  // Sign on replica i (as `bearer`'s session if not empty): the version
  // used, or -1 with `status` set.
  int Sign(int i, const std::string& id, grpc::Status* status = nullptr,
           const std::string& bearer = "") {
    grpc::ClientContext ctx;
    Deadline(ctx);
    if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
    pb::SignRequest req;
    req.set_name("keys/" + id);
    req.set_data("release.tar.gz");
    pb::SignResponse resp;
    grpc::Status s = replicas_[i].crypto->Sign(&ctx, req, &resp);
    if (status != nullptr) *status = s;
    return s.ok() ? VersionOf(resp.key_version()) : -1;
  }

  // SignJwt on replica i with a token record (so it can be revoked).
  grpc::Status SignJwt(int i, const std::string& id, pb::SignJwtResponse* out) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::SignJwtRequest req;
    req.set_name("keys/" + id);
    req.set_claims_json(R"({"sub":"replica-test"})");
    req.mutable_ttl()->set_seconds(600);
    req.mutable_record();
    return replicas_[i].jwt->SignJwt(&ctx, req, out);
  }

  grpc::Status RevokeToken(int i, const std::string& jti) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::RevokeTokenRequest req;
    req.set_name("tokens/" + jti);
    req.set_reason("replicas test");
    pb::RevokeTokenResponse resp;
    return replicas_[i].jwt->RevokeToken(&ctx, req, &resp);
  }

  // VerifyJwt on replica i: the failure (JWT_FAILURE_UNSPECIFIED if valid).
  pb::JwtFailure VerifyJwt(int i, const std::string& token,
                           grpc::Status* status) {
    grpc::ClientContext ctx;
    Deadline(ctx);
    pb::VerifyJwtRequest req;
    req.set_token(token);
    pb::VerifyJwtResponse resp;
    *status = replicas_[i].jwt->VerifyJwt(&ctx, req, &resp);
    return resp.failure();
  }

  // Psql runs `sql` on the test database with psql (-At: bare rows, '|'
  // between columns); its output, or an error with psql's output.
  absl::StatusOr<std::string> Psql(const std::string& sql) const {
    ProcessResult r = RunProcess({"/usr/lib/postgresql/15/bin/psql", "-X",
                                  "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn_,
                                  "-c", sql});
    if (r.exit_code != 0) {
      return absl::InternalError(absl::StrCat("psql -c '", sql, "': ", r.output));
    }
    return std::string(absl::StripTrailingAsciiWhitespace(r.output));
  }

  // ExpectDatabaseIntact checks the database after a fault: amcheck on every
  // B-tree index of the database (with heapallindexed: every indexed row
  // is in its table) and verify_heapam on every table (a full read); one
  // schema row at the current version; each key's versions 1..latest, none
  // missing or extra; the change feed gap-free up to its head.
  void ExpectDatabaseIntact() const {
    auto ext = Psql("CREATE EXTENSION IF NOT EXISTS amcheck");
    ASSERT_TRUE(ext.ok()) << ext.status();
    auto indexes = Psql(
        "SELECT count(bt_index_check(c.oid, true)) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = "
        "c.relam WHERE a.amname = 'btree' AND c.relpersistence <> 't' "
        "AND i.indisvalid");
    ASSERT_TRUE(indexes.ok()) << indexes.status();
    int checked = 0;
    ASSERT_TRUE(absl::SimpleAtoi(*indexes, &checked)) << *indexes;
    EXPECT_GT(checked, 100);  // the catalog's and the keystore's
    auto heap = Psql(
        "SELECT count(*) FROM pg_class c, verify_heapam(c.oid) "
        "WHERE c.relkind = 'r' AND c.relpersistence <> 't'");
    ASSERT_TRUE(heap.ok()) << heap.status();
    EXPECT_EQ(*heap, "0") << "verify_heapam found corruption";
    auto schema = Psql("SELECT count(*), max(version) FROM keyward_schema");
    ASSERT_TRUE(schema.ok()) << schema.status();
    EXPECT_EQ(*schema, "1|8");
    auto gaps = Psql(
        "SELECT k.id, k.latest_version, count(v.version), max(v.version) "
        "FROM keys k LEFT JOIN key_versions v ON v.key_id = k.id "
        "GROUP BY k.id, k.latest_version HAVING k.latest_version <> "
        "count(v.version) OR k.latest_version <> max(v.version) OR "
        "min(v.version) <> 1");
    ASSERT_TRUE(gaps.ok()) << gaps.status();
    EXPECT_EQ(*gaps, "") << "keys whose versions are not 1..latest";
    auto feed = Psql(
        "SELECT (SELECT seq FROM change_head) = coalesce(max(seq), 0) AND "
        "count(*) = coalesce(max(seq) - min(seq) + 1, 0) FROM changes");
    ASSERT_TRUE(feed.ok()) << feed.status();
    EXPECT_EQ(*feed, "t") << "the change feed has a gap";
  }

  // ExpectAuditChainsIntact stops every replica still running (SIGTERM: a
  // clean stop, its audit log flushed) and checks the three audit chains,
  // one per replica (each data dir's audit.log), with `keyward audit
  // verify`: each intact, the acknowledged calls' records hash-chained.
  void ExpectAuditChainsIntact() {
    std::vector<std::string> argv = {Runfile("client/keyward"), "audit",
                                     "verify"};
    for (Replica& r : replicas_) {
      if (r.daemon != nullptr) {
        ProcessResult stopped = r.daemon->Signal(SIGTERM);
        EXPECT_EQ(stopped.exit_code, 0) << stopped.output;
        r.daemon.reset();
      }
      argv.insert(argv.end(), {"--file", r.dir + "/audit.log"});
    }
    ProcessResult verified = RunProcess(argv);
    EXPECT_EQ(verified.exit_code, 0) << verified.output;
    for (const Replica& r : replicas_) {
      EXPECT_NE(verified.output.find(r.dir + "/audit.log: ok: "),
                std::string::npos)
          << verified.output;
    }
  }

  std::unique_ptr<keystore::testing::PostgresServer> server_;
  std::string dsn_, passphrase_, config_;
  Replica replicas_[kReplicas];
};

// How many times replica `r` has logged `event` so far.
inline int Logged(const Replica& r, const std::string& event) {
  const std::string out = r.daemon->Output();
  int n = 0;
  for (size_t at = out.find(event); at != std::string::npos;
       at = out.find(event, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace keyward::testing

#endif  // KEYWARD_TESTS_REPLICAS_FIXTURE_H_
