// End-to-end: the real keywardd with its keystore in a real PostgreSQL (a
// throwaway cluster, keystore/testing/postgres_server.h, with a password
// given through a 0600 file): init, serve, restart, refusals at start,
// another keystore's database or root key, backups made on PostgreSQL and
// restored into SQLite and PostgreSQL,
// `keywardd migrate` both ways, the database going away and coming back
// while serving, and the audit commit hook.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keystore/postgres_storage.h"
#include "keystore/testing/postgres_server.h"
#include "keyward/v1/access_service.grpc.pb.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "keyward/v1/system_service.grpc.pb.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using keystore::testing::PostgresServer;
using ::testing::HasSubstr;

constexpr const char* kPassphrase = "postgres daemon test passphrase";
constexpr const char* kDbPassword = "pg-password-never-printed";

// One PostgreSQL server (password login) for the whole binary; each test
// gets its own database on it.
PostgresServer* Server() {
  static PostgresServer* server = [] {
    auto started = PostgresServer::Start({kDbPassword});
    if (!started.ok()) {
      ADD_FAILURE() << started.status();
      return static_cast<PostgresServer*>(nullptr);
    }
    return started->release();
  }();
  return server;
}

class StopServer : public ::testing::Environment {
 public:
  void TearDown() override { delete Server(); }
};
::testing::Environment* const stop_server =
    ::testing::AddGlobalTestEnvironment(new StopServer);

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

class PostgresDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Server(), nullptr);
    auto dsn = Server()->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    dsn_ = *dsn;
    dir_ = NewTempDir();
    passphrase_ = dir_ + "/passphrase";
    WriteFile(passphrase_, absl::StrCat(kPassphrase, "\n"), 0600);
    pg_password_ = dir_ + "/pg-password";
    WriteFile(pg_password_, absl::StrCat(kDbPassword, "\n"), 0600);
    config_ = WriteConfig("keywardd.txtpb", dsn_, "");
  }

  // A config file keeping the keystore in the database `dsn`; `postgres`
  // adds fields to storage.postgres, `extra` to the config.
  std::string WriteConfig(const std::string& name, const std::string& dsn,
                          const std::string& extra,
                          const std::string& postgres = "") {
    std::string path = dir_ + "/" + name;
    WriteFile(path,
              absl::StrCat("storage { postgres { dsn: \"", dsn,
                           "\" password_file: \"", pg_password_,
                           "\" pool_size: 2 ", postgres, "} }\n", extra),
              0600);
    return path;
  }

  ProcessResult Keywardd(std::vector<std::string> args) {
    args.insert(args.begin(), Runfile("daemon/keywardd"));
    return RunProcess(args, absl::Seconds(60));
  }

  ProcessResult Init() {
    return Keywardd({"init", "--config", config_, "--data_dir", dir_,
                     "--passphrase_file", passphrase_});
  }

  // Serving with `config` and `passphrase_file`, expected to stop at start.
  ProcessResult ServeExpectingRefusal(const std::string& config,
                                      const std::string& passphrase_file) {
    return Keywardd({"--config", config, "--data_dir", dir_,
                     "--passphrase_file", passphrase_file, "--socket",
                     dir_ + "/refused.sock"});
  }

  void Start(const std::string& config) {
    daemon_.reset();
    auto daemon = DaemonProcess::Start(
        dir_, {"--config", config, "--data_dir", dir_, "--passphrase_file",
               passphrase_});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    auto channel = daemon_->NewChannel();
    crypto_ = pb::CryptoService::NewStub(channel);
    keys_ = pb::KeyService::NewStub(channel);
    access_ = pb::AccessService::NewStub(channel);
    system_ = pb::SystemService::NewStub(channel);
  }

  void StopDaemon() {
    ProcessResult r = daemon_->Signal(SIGTERM);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    daemon_.reset();
  }

  grpc::Status CreateKey(const std::string& id, pb::KeyType type) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    pb::CreateKeyResponse resp;
    return keys_->CreateKey(&ctx, req, &resp);
  }

  grpc::Status GetKey(const std::string& id, pb::Key* key) {
    grpc::ClientContext ctx;
    pb::GetKeyRequest req;
    req.set_name("keys/" + id);
    pb::GetKeyResponse resp;
    grpc::Status s = keys_->GetKey(&ctx, req, &resp);
    *key = resp.key();
    return s;
  }

  grpc::Status Encrypt(const std::string& key, const std::string& pt,
                       pb::EncryptResponse* resp) {
    grpc::ClientContext ctx;
    pb::EncryptRequest req;
    req.set_name("keys/" + key);
    req.set_plaintext(pt);
    req.set_associated_data("aad");
    return crypto_->Encrypt(&ctx, req, resp);
  }

  grpc::Status Decrypt(const std::string& key, const std::string& ct,
                       pb::DecryptResponse* resp) {
    grpc::ClientContext ctx;
    pb::DecryptRequest req;
    req.set_name("keys/" + key);
    req.set_ciphertext(ct);
    req.set_associated_data("aad");
    return crypto_->Decrypt(&ctx, req, resp);
  }

  std::string dsn_, dir_, passphrase_, pg_password_, config_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
  std::unique_ptr<pb::AccessService::Stub> access_;
  std::unique_ptr<pb::SystemService::Stub> system_;
};

TEST_F(PostgresDaemonTest, KeysPoliciesAndCiphertextsSurviveARestart) {
  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_THAT(init.output, HasSubstr("created keystore in PostgreSQL"));
  // The keystore is in the database, not in the data dir.
  struct stat st;
  EXPECT_NE(stat((dir_ + "/keystore.db").c_str(), &st), 0);

  Start(config_);
  ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
  ASSERT_TRUE(CreateKey("aes", pb::KEY_TYPE_AES256_GCM).ok());
  {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/ed");
    req.set_data("hello");
    pb::SignResponse sig;
    ASSERT_TRUE(crypto_->Sign(&ctx, req, &sig).ok());
    grpc::ClientContext vctx;
    pb::VerifyRequest vreq;
    vreq.set_name("keys/ed");
    vreq.set_data("hello");
    vreq.set_signature(sig.signature());
    pb::VerifyResponse verdict;
    ASSERT_TRUE(crypto_->Verify(&vctx, vreq, &verdict).ok());
    EXPECT_TRUE(verdict.valid());
    grpc::ClientContext bctx;
    vreq.set_data("hellO");
    ASSERT_TRUE(crypto_->Verify(&bctx, vreq, &verdict).ok());
    EXPECT_FALSE(verdict.valid());
  }
  pb::EncryptResponse ct1;
  ASSERT_TRUE(Encrypt("aes", "card 4111", &ct1).ok());
  pb::DecryptResponse pt;
  ASSERT_TRUE(Decrypt("aes", ct1.ciphertext(), &pt).ok());
  EXPECT_EQ(pt.plaintext(), "card 4111");
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/aes");
    pb::RotateKeyResponse resp;
    grpc::Status s = keys_->RotateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.version().number(), 2u);
  }
  {
    grpc::ClientContext ctx;
    pb::CreatePolicyRequest req;
    req.set_policy_id("app-sign");
    req.mutable_policy()->set_principal("unix:uid:4242");
    req.mutable_policy()->set_resource("keys/ed");
    req.mutable_policy()->add_operations(pb::OPERATION_SIGN);
    pb::CreatePolicyResponse resp;
    grpc::Status s = access_->CreatePolicy(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  StopDaemon();
  Start(config_);
  pb::Key key;
  ASSERT_TRUE(GetKey("aes", &key).ok());
  EXPECT_EQ(key.primary_version(), 2u);
  {
    grpc::ClientContext ctx;
    pb::ListKeyVersionsRequest req;
    req.set_parent("keys/aes");
    pb::ListKeyVersionsResponse resp;
    ASSERT_TRUE(keys_->ListKeyVersions(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.versions_size(), 2);
    EXPECT_EQ(resp.versions(0).number(), 1u);
    EXPECT_EQ(resp.versions(1).number(), 2u);
  }
  {
    grpc::ClientContext ctx;
    pb::ListPoliciesRequest req;
    pb::ListPoliciesResponse resp;
    ASSERT_TRUE(access_->ListPolicies(&ctx, req, &resp).ok());
    bool found = false;
    for (const auto& p : resp.policies()) {
      if (p.name() == "policies/app-sign") {
        found = true;
        EXPECT_EQ(p.principal(), "unix:uid:4242");
        EXPECT_EQ(p.resource(), "keys/ed");
      }
    }
    EXPECT_TRUE(found);
  }
  pb::DecryptResponse again;
  ASSERT_TRUE(Decrypt("aes", ct1.ciphertext(), &again).ok());
  EXPECT_EQ(again.plaintext(), "card 4111");
  EXPECT_EQ(again.key_version(), "keys/aes/versions/1");
  // Nothing printed holds the database password.
  EXPECT_THAT(daemon_->Output(), ::testing::Not(HasSubstr(kDbPassword)));
}

TEST_F(PostgresDaemonTest, RefusalsAtStartExitTwoNamingTheCause) {
  // A database with no keystore yet.
  ProcessResult r = ServeExpectingRefusal(config_, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("no keystore in this database (PostgreSQL dsn"));
  EXPECT_THAT(r.output, HasSubstr("run `keywardd init` with the same storage "
                                  "config"));

  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // A second init leaves the keystore as it was.
  ProcessResult twice = Init();
  EXPECT_EQ(twice.exit_code, 2) << twice.output;
  EXPECT_THAT(twice.output, HasSubstr("already holds a keystore"));

  // A wrong passphrase (or a database holding another keystore).
  const std::string wrong = dir_ + "/wrong-passphrase";
  WriteFile(wrong, "not the passphrase\n", 0600);
  r = ServeExpectingRefusal(config_, wrong);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase for this keystore"));
  EXPECT_THAT(r.output, HasSubstr("holds another keystore"));

  // A server that is not there.
  std::string nowhere = WriteConfig(
      "nowhere.txtpb", "host=/nonexistent-keyward-pg dbname=keyward user=x", "");
  r = ServeExpectingRefusal(nowhere, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("PostgreSQL storage (dsn \"host=/nonexistent"));

  // A malformed dsn.
  std::string garbled = WriteConfig("garbled.txtpb", "host", "");
  r = ServeExpectingRefusal(garbled, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("PostgreSQL storage (dsn \"host\")"));

  // The wrong database password.
  WriteFile(pg_password_, "not-the-db-password\n", 0600);
  r = ServeExpectingRefusal(config_, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("password authentication"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("not-the-db-password")));

  // A password file others can read.
  WriteFile(pg_password_, absl::StrCat(kDbPassword, "\n"), 0644);
  r = ServeExpectingRefusal(config_, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is accessible to group or others"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr(kDbPassword)));

  // A missing dsn is a config error.
  std::string empty = dir_ + "/empty-dsn.txtpb";
  WriteFile(empty, "storage { postgres { } }\n", 0600);
  r = ServeExpectingRefusal(empty, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("storage.postgres.dsn"));
}

// A database that holds another keystore (made by `keywardd init` with
// another passphrase) stops the daemon, exit 2, naming the passphrase and
// that database. A database whose wrapped root key does not belong with its
// passphrase check (here: another keystore's root key put in its meta row,
// through the storage API on the real server) is refused as such: the
// passphrase is right, the root key is named as damaged, exit 2.
TEST_F(PostgresDaemonTest, AnotherKeystoresDatabaseOrRootKeyIsRefusedAsSuch) {
  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto other_dsn = Server()->CreateDatabase();
  ASSERT_TRUE(other_dsn.ok()) << other_dsn.status();
  const std::string other_config = WriteConfig("other.txtpb", *other_dsn, "");
  const std::string other_passphrase = dir_ + "/other-passphrase";
  WriteFile(other_passphrase, "the other keystore's passphrase\n", 0600);
  ProcessResult other = Keywardd({"init", "--config", other_config,
                                  "--data_dir", dir_, "--passphrase_file",
                                  other_passphrase});
  ASSERT_EQ(other.exit_code, 0) << other.output;

  ProcessResult r = ServeExpectingRefusal(other_config, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase for this keystore"));
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("dsn \"", *other_dsn,
                                               "\", holds another keystore")));

  // This keystore's meta row with the other keystore's wrapped root key.
  auto open = [this](const std::string& dsn) {
    keystore::PostgresOptions options;
    options.dsn = dsn;
    options.password_file = pg_password_;
    return keystore::PostgresStorage::Open(options);
  };
  auto mine = open(dsn_);
  ASSERT_TRUE(mine.ok()) << mine.status();
  auto theirs = open(*other_dsn);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  auto meta = (*mine)->ReadMeta();
  ASSERT_TRUE(meta.ok()) << meta.status();
  auto their_meta = (*theirs)->ReadMeta();
  ASSERT_TRUE(their_meta.ok()) << their_meta.status();
  keystore::KeystoreMeta swapped = *meta;
  swapped.wrapped_root_key = their_meta->wrapped_root_key;
  ASSERT_TRUE((*mine)->ReplaceMeta(meta->wrapped_root_key, swapped).ok());
  mine->reset();
  theirs->reset();

  r = ServeExpectingRefusal(config_, passphrase_);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the passphrase is right but the keystore's "
                                  "wrapped root key is damaged"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr(kDbPassword)));
  // The other keystore's own passphrase does not open it either.
  const std::string other_config_mine = WriteConfig("mine.txtpb", dsn_, "");
  r = ServeExpectingRefusal(other_config_mine, other_passphrase);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrong passphrase for this keystore"));
}

// A backup of a PostgreSQL keystore (format 2) restores into a new SQLite
// keystore and into an empty PostgreSQL database (`keywardd restore`), and
// what it encrypted decrypts there; a database that holds a keystore is
// refused.
TEST_F(PostgresDaemonTest, BackupsOfPostgresRestoreIntoSqliteAndPostgres) {
  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  Start(config_);
  ASSERT_TRUE(CreateKey("aes", pb::KEY_TYPE_AES256_GCM).ok());
  pb::EncryptResponse ct;
  ASSERT_TRUE(Encrypt("aes", "card 4111", &ct).ok());
  grpc::ClientContext ctx;
  auto reader = system_->CreateBackup(&ctx, pb::CreateBackupRequest());
  pb::CreateBackupResponse chunk;
  std::string bytes;
  uint32_t format = 0;
  while (reader->Read(&chunk)) {
    bytes += chunk.data();
    if (chunk.has_info()) format = chunk.info().format_version();
  }
  grpc::Status s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(format, 2u);
  EXPECT_EQ(bytes.substr(0, 10), "KWBACKUP2\n");
  StopDaemon();
  const std::string backup = dir_ + "/pg.backup";
  WriteFile(backup, bytes, 0600);

  // Into SQLite.
  const std::string sqlite_dir = dir_ + "/sqlite";
  ProcessResult r = Keywardd({"restore", "--data_dir", sqlite_dir,
                              "--passphrase_file", passphrase_, "--in",
                              backup});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Into an empty PostgreSQL database; then again, refused.
  auto other = Server()->CreateDatabase();
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string other_config = WriteConfig("other.txtpb", *other, "");
  r = Keywardd({"restore", "--config", other_config, "--data_dir", dir_,
                "--passphrase_file", passphrase_, "--in", backup});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("restored keystore in PostgreSQL"));
  r = Keywardd({"restore", "--config", other_config, "--data_dir", dir_,
                "--passphrase_file", passphrase_, "--in", backup});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already holds a keystore"));

  const std::string pg_dir = dir_ + "/restored-pg";
  ASSERT_EQ(mkdir(pg_dir.c_str(), 0700), 0);
  for (const std::vector<std::string>& where :
       {std::vector<std::string>{"--data_dir", sqlite_dir},
        std::vector<std::string>{"--config", other_config, "--data_dir",
                                 pg_dir}}) {
    std::vector<std::string> args = where;
    args.insert(args.end(), {"--passphrase_file", passphrase_});
    auto daemon = DaemonProcess::Start(where.back(), args);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    crypto_ = pb::CryptoService::NewStub((*daemon)->NewChannel());
    pb::DecryptResponse pt;
    grpc::Status d = Decrypt("aes", ct.ciphertext(), &pt);
    ASSERT_TRUE(d.ok()) << d.error_message();
    EXPECT_EQ(pt.plaintext(), "card 4111");
    EXPECT_THAT((*daemon)->Output(), ::testing::Not(HasSubstr(kDbPassword)));
  }
}

// `keywardd migrate`: a SQLite keystore (made and used by the real daemon)
// copied into PostgreSQL, checked record by record, served from there;
// then back into a new SQLite file. A target holding a keystore is refused
// with nothing changed; the database password never shows.
TEST_F(PostgresDaemonTest, MigrateSqliteIntoPostgresAndBack) {
  const std::string sqlite_dir = dir_ + "/sqlite";
  ProcessResult r = Keywardd({"init", "--data_dir", sqlite_dir,
                              "--passphrase_file", passphrase_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  pb::EncryptResponse ct;
  {
    auto daemon = DaemonProcess::Start(
        dir_, {"--data_dir", sqlite_dir, "--passphrase_file", passphrase_});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    auto channel = (*daemon)->NewChannel();
    crypto_ = pb::CryptoService::NewStub(channel);
    keys_ = pb::KeyService::NewStub(channel);
    access_ = pb::AccessService::NewStub(channel);
    ASSERT_TRUE(CreateKey("aes", pb::KEY_TYPE_AES256_GCM).ok());
    ASSERT_TRUE(CreateKey("ed", pb::KEY_TYPE_ED25519).ok());
    ASSERT_TRUE(Encrypt("aes", "card 4111", &ct).ok());
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/aes");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
    grpc::ClientContext pctx;
    pb::CreatePolicyRequest preq;
    preq.set_policy_id("app-sign");
    preq.mutable_policy()->set_principal("unix:uid:4242");
    preq.mutable_policy()->set_resource("keys/ed");
    preq.mutable_policy()->add_operations(pb::OPERATION_SIGN);
    pb::CreatePolicyResponse presp;
    ASSERT_TRUE(access_->CreatePolicy(&pctx, preq, &presp).ok());
    EXPECT_EQ((*daemon)->Signal(SIGTERM).exit_code, 0);
  }
  const std::string source = sqlite_dir + "/keystore.db";
  r = Keywardd({"migrate", "--from", source, "--to", config_});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("migrated 1 key hierarchy, 2 keys (3 versions), 1 "
                        "policy, 0 API keys, 0 token records; checked record "
                        "by record"));
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr(kDbPassword)));
  // Again: the target now holds a keystore; refused, nothing changed.
  r = Keywardd({"migrate", "--from", source, "--to", config_});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already holds a keystore"));
  // Usage: both sides are needed.
  r = Keywardd({"migrate", "--from", source});
  EXPECT_EQ(r.exit_code, 2) << r.output;

  // Served from PostgreSQL: the earlier ciphertext, the rotation, the policy.
  Start(config_);
  pb::DecryptResponse pt;
  grpc::Status s = Decrypt("aes", ct.ciphertext(), &pt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pt.plaintext(), "card 4111");
  pb::Key key;
  ASSERT_TRUE(GetKey("aes", &key).ok());
  EXPECT_EQ(key.primary_version(), 2u);
  ASSERT_TRUE(CreateKey("made-in-postgres", pb::KEY_TYPE_ED25519).ok());
  StopDaemon();

  // And back, into a new SQLite keystore.
  const std::string back_dir = dir_ + "/back";
  ASSERT_EQ(mkdir(back_dir.c_str(), 0700), 0);
  r = Keywardd({"migrate", "--from", config_, "--to",
                back_dir + "/keystore.db"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("3 keys (4 versions), 1 policy"));
  // The source is refused as a target too (it exists).
  r = Keywardd({"migrate", "--from", config_, "--to", source});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("already"));
  auto daemon = DaemonProcess::Start(
      dir_, {"--data_dir", back_dir, "--passphrase_file", passphrase_});
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  crypto_ = pb::CryptoService::NewStub((*daemon)->NewChannel());
  keys_ = pb::KeyService::NewStub((*daemon)->NewChannel());
  s = Decrypt("aes", ct.ciphertext(), &pt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(pt.plaintext(), "card 4111");
  EXPECT_TRUE(GetKey("made-in-postgres", &key).ok());
}

TEST_F(PostgresDaemonTest, DatabaseDownIsUnavailableThenServesAgain) {
  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // The staleness bound this test means (config.proto max_staleness): long
  // enough that `pg_ctl stop` on a loaded machine returns within it.
  constexpr absl::Duration kStaleness = absl::Seconds(10);
  Start(WriteConfig("bounded.txtpb", dsn_, "", "max_staleness { seconds: 10 } "));
  ASSERT_TRUE(CreateKey("before", pb::KEY_TYPE_ED25519).ok());
  auto sign = [this](const std::string& key) {
    grpc::ClientContext ctx;
    pb::SignRequest req;
    req.set_name("keys/" + key);
    req.set_data("x");
    pb::SignResponse resp;
    return crypto_->Sign(&ctx, req, &resp);
  };
  ASSERT_TRUE(sign("before").ok());  // now in the key cache

  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(Server()->Stop().ok());
  // Within the staleness bound, a cached key needs no database (the audit
  // log is a local file); the daemon's own CreateKey, followed back from the
  // change feed, did not drop it from the cache.
  grpc::Status cached = sign("before");
  EXPECT_TRUE(cached.ok()) << cached.error_message();
  grpc::Status s = CreateKey("during", pb::KEY_TYPE_ED25519);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  pb::Key key;
  s = GetKey("absent", &key);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // Past the bound the replica cannot know what another one revoked: the
  // cached key is refused too, with the bound named.
  do {
    cached = sign("before");
    if (!cached.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < stopped + kStaleness + absl::Seconds(10));
  EXPECT_EQ(cached.error_code(), grpc::StatusCode::UNAVAILABLE)
      << cached.error_message();
  EXPECT_THAT(cached.error_message(), HasSubstr("bound: 10s"));
  // The lag counts from the start of the last pass that reached the head,
  // which may precede `stopped` by up to one poll (100 ms).
  EXPECT_GE(absl::Now() - stopped, kStaleness - absl::Milliseconds(100));

  ASSERT_TRUE(Server()->Restart().ok());
  // The same daemon (no restart) serves again once its pool reconnects.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  do {
    s = CreateKey("after", pb::KEY_TYPE_ED25519);
    if (s.ok()) break;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << s.error_message();
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(GetKey("before", &key).ok());
  EXPECT_EQ(GetKey("during", &key).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(GetKey("after", &key).ok());
}

TEST_F(PostgresDaemonTest, AuditFailureRollsTheChangeBack) {
  ProcessResult init = Init();
  ASSERT_EQ(init.exit_code, 0) << init.output;
  Start(WriteConfig("full-audit.txtpb", dsn_, "audit { path: \"/dev/full\" }\n"));
  grpc::Status s = CreateKey("lost", pb::KEY_TYPE_ED25519);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("audit"));
  StopDaemon();

  Start(config_);
  pb::Key key;
  EXPECT_EQ(GetKey("lost", &key).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(CreateKey("kept", pb::KEY_TYPE_ED25519).ok());
  EXPECT_TRUE(GetKey("kept", &key).ok());
}

}  // namespace
}  // namespace keyward::testing
