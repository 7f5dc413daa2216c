// Replicas: two Keystores (as two keywardd processes) on one real PostgreSQL
// database follow each other through the change feed (keystore.h,
// "Replicas"): a rotation, a version disabled, a token revoked, a restore,
// a feed gap, and the NOTIFY wake-up.
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/keystore.h"
#include "keystore/postgres_storage.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;

KeystoreOptions Options() {
  KeystoreOptions options;
  options.kdf = {1 << 15, 8, 1};
  return options;
}

class KeystoreReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dsn = SharedPostgres::NewDatabase();
    ASSERT_TRUE(dsn.ok()) << dsn.status();
    spec_.postgres = PostgresOptions{*dsn, "", 2};
    auto a = Keystore::Init(spec_, SecretData("pass"), Options());
    ASSERT_TRUE(a.ok()) << a.status();
    a_ = std::move(*a);
    auto b = Keystore::Open(spec_, SecretData("pass"), Options());
    ASSERT_TRUE(b.ok()) << b.status();
    b_ = std::move(*b);
  }
  // MakeKey creates key `id` of `type` on replica `ks`.
  static void MakeKey(Keystore& ks, const std::string& id,
                      KeyType type = KeyType::kAes256Gcm) {
    CreateKeyParams params;
    params.id = id;
    params.type = type;
    auto made = ks.CreateKey(params);
    ASSERT_TRUE(made.ok()) << made.status();
  }

  StorageSpec spec_;
  std::unique_ptr<Keystore> a_;
  std::unique_ptr<Keystore> b_;
};

TEST_F(KeystoreReplicasTest, ARotationOnOneIsSignedWithOnTheOtherAfterCatchUp) {
  MakeKey(*a_, "signer", KeyType::kEd25519);
  auto caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok()) << caught.status();
  ASSERT_EQ(caught->size(), 1u);
  EXPECT_EQ(caught->front().kind, ChangeKind::kKey);
  EXPECT_EQ(caught->front().subject, "signer");
  auto old = b_->Sign("signer", "data");  // cached on b now
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->version, 1);

  ASSERT_TRUE(a_->RotateKey("signer").ok());
  // Without the feed, b answers from its cache: the old primary.
  EXPECT_EQ(b_->Sign("signer", "data")->version, 1);
  caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok()) << caught.status();
  EXPECT_EQ(b_->Sign("signer", "data")->version, 2);
  EXPECT_EQ(b_->FeedPosition(), 2);

  // Version 1 disabled on a: b stops verifying with it once caught up.
  EXPECT_EQ(b_->Verify("signer", "data", old->Enveloped()), absl::OkStatus());
  ASSERT_TRUE(a_->DisableVersion("signer", 1).ok());
  EXPECT_EQ(b_->Verify("signer", "data", old->Enveloped()), absl::OkStatus());
  ASSERT_TRUE(b_->CatchUp().ok());
  EXPECT_EQ(b_->Verify("signer", "data", old->Enveloped()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_GE(b_->CaughtUpAt(), absl::Now() - absl::Seconds(5));
}

TEST_F(KeystoreReplicasTest, ATokenRevokedOnOneIsRevokedOnTheOther) {
  TokenRecord record;
  record.jti = "jti-1";
  record.key_id = "jwt";
  record.expire_at = absl::Now() + absl::Hours(1);
  record.purge_at = absl::Now() + absl::Hours(2);
  ASSERT_TRUE(a_->RecordToken(record, "").ok());
  ASSERT_TRUE(a_->RevokeToken("jti-1", "stolen", "test").ok());
  EXPECT_TRUE(a_->IsTokenRevoked("jti-1"));
  EXPECT_FALSE(b_->IsTokenRevoked("jti-1"));  // memory only, not caught up
  auto caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok()) << caught.status();
  ASSERT_EQ(caught->size(), 1u);
  EXPECT_EQ(caught->front().kind, ChangeKind::kToken);
  EXPECT_TRUE(b_->IsTokenRevoked("jti-1"));
}

TEST_F(KeystoreReplicasTest, AKidImportedOnOneIsFoundOnTheOtherAtOnce) {
  CreateKeyParams params;
  params.id = "hmac";
  params.type = KeyType::kHmacSha256;
  ImportKeyParams import;
  import.create = params;
  import.format = ImportFormat::kRawSecret;
  import.material = SecretData(std::string(32, 'k'));
  import.kid = "partner-kid-1";
  ASSERT_TRUE(a_->ImportKey(std::move(import)).ok());
  // Not caught up: the database is read before refusing.
  auto found = b_->FindVersionByKid("partner-kid-1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->key_id, "hmac");
  EXPECT_EQ(b_->FindVersionByKid("no-such-kid").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KeystoreReplicasTest, ARestoreOnOneSealsTheOther) {
  MakeKey(*a_, "aes");
  auto backup = a_->CreateBackup("");
  ASSERT_TRUE(backup.ok()) << backup.status();
  ASSERT_TRUE(b_->CatchUp().ok());
  ASSERT_TRUE(a_->Restore(*backup, SecretData("pass"), "").ok());
  EXPECT_TRUE(a_->sealed());
  ASSERT_TRUE(a_->Unseal(SecretData("pass")).ok());
  // a made the restore: its own feed row does not seal it again.
  ASSERT_TRUE(a_->CatchUp().ok());
  EXPECT_FALSE(a_->sealed());
  auto caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok()) << caught.status();
  ASSERT_EQ(caught->size(), 1u);
  EXPECT_EQ(caught->front().kind, ChangeKind::kStore);
  EXPECT_TRUE(b_->sealed());
  EXPECT_EQ(b_->Encrypt("aes", "x", "").status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_TRUE(b_->Unseal(SecretData("pass")).ok());
  EXPECT_TRUE(b_->Encrypt("aes", "x", "").ok());
}

TEST_F(KeystoreReplicasTest, AGapInThePrunedFeedReloadsWithoutSealing) {
  MakeKey(*a_, "aes");
  ASSERT_TRUE(b_->Encrypt("aes", "x", "").ok());
  ASSERT_TRUE(a_->RotateKey("aes").ok());
  ASSERT_TRUE(a_->RotateKey("aes").ok());
  ASSERT_EQ(*a_->PruneChanges(absl::Hours(-1), 100), 2);  // all but the head
  auto caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok()) << caught.status();
  ASSERT_EQ(caught->size(), 1u);
  EXPECT_EQ(caught->front().kind, ChangeKind::kStore);
  EXPECT_FALSE(b_->sealed());
  EXPECT_EQ(b_->FeedPosition(), 3);
  int32_t used = 0;
  auto sealed = b_->Encrypt("aes", "x", "");
  ASSERT_TRUE(sealed.ok());
  ASSERT_TRUE(b_->Decrypt("aes", *sealed, "", &used).ok());
  EXPECT_EQ(used, 3);
}

TEST_F(KeystoreReplicasTest, NotifyWakesTheWaiterBeforeItsTimeout) {
  b_->WaitForChange(absl::Milliseconds(10));  // opens the LISTEN connection
  absl::Notification woke;
  absl::Duration waited;
  std::thread waiter([&] {
    const absl::Time start = absl::Now();
    b_->WaitForChange(absl::Seconds(20));
    waited = absl::Now() - start;
    woke.Notify();
  });
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(a_->CreatePolicy({"p", "unix:uid:1", "*", {"SIGN"}}).ok());
  ASSERT_TRUE(woke.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
  EXPECT_LT(waited, absl::Seconds(5));
  auto caught = b_->CatchUp();
  ASSERT_TRUE(caught.ok());
  ASSERT_EQ(caught->size(), 1u);
  EXPECT_EQ(caught->front().kind, ChangeKind::kPolicy);
}

}  // namespace
}  // namespace keyward::keystore
