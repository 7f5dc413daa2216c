// Keystore over PostgreSQL chosen with a StorageSpec, on a real throwaway
// server (testing/postgres_server.h): Init, Open (no keystore, wrong
// passphrase), OpenSealed, and backups made and restored. In a build
// without PostgreSQL (the BoringSSL flavor) the same cases assert the
// refusal instead.
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using ::testing::HasSubstr;

KeystoreOptions Options() {
  KeystoreOptions options;
  options.kdf = {1 << 15, 8, 1};
  return options;
}

std::string ScratchPath(const std::string& name) {
  const char* dir = getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name, "-", getpid());
}

// No server at the dsn: UNAVAILABLE naming the dsn; in a build without
// PostgreSQL, FAILED_PRECONDITION saying so.
TEST(KeystorePostgresTest, UnreachableOrUnavailable) {
  StorageSpec spec;
  spec.postgres =
      PostgresOptions{"host=/nonexistent-keyward-pg dbname=x", "", 4};
  if (PostgresStorage::Available()) {
    auto ks = Keystore::Open(spec, SecretData("pass"), Options());
    EXPECT_EQ(ks.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(ks.status().message(),
                HasSubstr("PostgreSQL storage (dsn \"host=/nonexistent"));
    return;
  }
  auto ks = Keystore::Init(spec, SecretData("pass"), Options());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ks.status().message(),
              HasSubstr("PostgreSQL is not available in the BoringSSL flavor"));
  auto opened = Keystore::Open(spec, SecretData("pass"), Options());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
}

class KeystorePostgresServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PostgresStorage::Available()) return;
    auto server = SharedPostgres::Server();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    auto dsn = server_->CreateDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    spec_.postgres = PostgresOptions{*dsn, "", 2};
  }
  testing::PostgresServer* server_ = nullptr;
  StorageSpec spec_;
};

TEST_F(KeystorePostgresServerTest, InitOpenAndRefusals) {
  if (!PostgresStorage::Available()) {
    // No server in this flavor: a sealed open is refused as well.
    StorageSpec spec;
    spec.postgres = PostgresOptions{"host=/tmp dbname=x", "", 2};
    EXPECT_EQ(Keystore::OpenSealed(spec, Options()).status().code(),
              absl::StatusCode::kFailedPrecondition);
    return;
  }
  const SecretData pass("postgres keystore passphrase");
  auto none = Keystore::Open(spec_, pass, Options());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(),
              HasSubstr("no keystore in this database"));
  EXPECT_THAT(none.status().message(),
              HasSubstr("run `keywardd init` with the same storage config"));
  auto sealed_none = Keystore::OpenSealed(spec_, Options());
  EXPECT_EQ(sealed_none.status().code(), absl::StatusCode::kNotFound);

  {
    auto ks = Keystore::Init(spec_, pass, Options());
    ASSERT_TRUE(ks.ok()) << ks.status();
    CreateKeyParams params;
    params.id = "aes";
    ASSERT_TRUE((*ks)->CreateKey(params).ok());
    // Backups work on PostgreSQL (format 2, records): a refused restore
    // changes nothing; a good one replaces the keystore and seals it.
    auto backup = (*ks)->CreateBackup(ScratchPath("backup"));
    ASSERT_TRUE(backup.ok()) << backup.status();
    EXPECT_EQ(backup->substr(0, 10), "KWBACKUP2\n");
    absl::Status restored =
        (*ks)->Restore("not a backup", pass, ScratchPath("restore"));
    EXPECT_EQ(restored.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE((*ks)->sealed());
    CreateKeyParams later;
    later.id = "made-after-the-backup";
    ASSERT_TRUE((*ks)->CreateKey(later).ok());
    ASSERT_TRUE((*ks)->Restore(*backup, pass, ScratchPath("restore")).ok());
    EXPECT_TRUE((*ks)->sealed());
    ASSERT_TRUE((*ks)->Unseal(pass).ok());
    EXPECT_TRUE((*ks)->GetKey("aes").ok());
    EXPECT_EQ((*ks)->GetKey("made-after-the-backup").status().code(),
              absl::StatusCode::kNotFound);
  }
  auto again = Keystore::Init(spec_, pass, Options());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);

  auto wrong = Keystore::Open(spec_, SecretData("wrong"), Options());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);

  auto ks = Keystore::Open(spec_, pass, Options());
  ASSERT_TRUE(ks.ok()) << ks.status();
  EXPECT_TRUE((*ks)->GetKey("aes").ok());
  auto sealed = Keystore::OpenSealed(spec_, Options());
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE((*sealed)->sealed());
  EXPECT_EQ((*sealed)->Unseal(SecretData("wrong")).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE((*sealed)->Unseal(pass).ok());
  EXPECT_TRUE((*sealed)->CreateBackup(ScratchPath("b2")).ok());
}

// The data plane on a cached key reads no row: it keeps signing while the
// server is down, and a call that needs the database is UNAVAILABLE then and
// works again, without reopening, once the server is back.
TEST_F(KeystorePostgresServerTest, CachedKeysServeWhileTheDatabaseIsDown) {
  if (!PostgresStorage::Available()) {
    // No server in this flavor: the keystore cannot be made there at all.
    StorageSpec spec;
    spec.postgres = PostgresOptions{"host=/tmp dbname=x", "", 2};
    EXPECT_EQ(Keystore::Init(spec, SecretData("p"), Options()).status().code(),
              absl::StatusCode::kFailedPrecondition);
    return;
  }
  const SecretData pass("postgres keystore passphrase");
  auto ks = Keystore::Init(spec_, pass, Options());
  ASSERT_TRUE(ks.ok()) << ks.status();
  CreateKeyParams params;
  params.id = "ed";
  params.type = KeyType::kEd25519;
  ASSERT_TRUE((*ks)->CreateKey(params).ok());
  auto before = (*ks)->Sign("ed", "warm the cache");
  ASSERT_TRUE(before.ok()) << before.status();

  ASSERT_TRUE(server_->Stop().ok());
  for (int i = 0; i < 100; ++i) {
    auto sig = (*ks)->Sign("ed", "signed while the database is down");
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE((*ks)->Verify("ed", "signed while the database is down",
                              sig->Enveloped())
                    .ok());
  }
  params.id = "later";
  EXPECT_EQ((*ks)->CreateKey(params).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ((*ks)->GetKey("not-cached").status().code(),
            absl::StatusCode::kUnavailable);

  ASSERT_TRUE(server_->Restart().ok());
  absl::StatusOr<KeyRecord> made = absl::UnavailableError("not yet");
  // Bounded: the pool reconnects with backoff.
  for (int i = 0; i < 50 && absl::IsUnavailable(made.status()); ++i) {
    made = (*ks)->CreateKey(params);
    if (!made.ok()) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE((*ks)->Sign("later", "after the restart").ok());
}

}  // namespace
}  // namespace keyward::keystore
