// Faults injected through the Storage interface: a write that fails leaves
// no partial state in the keystore and no stale entry in its cache.
#include <atomic>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/keystore.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {
namespace {

// FaultyStorage forwards to SqliteStorage, except that while `fail` is set
// every change answers UNAVAILABLE without touching the database; and
// `before_write`, when set, runs once just before the next conditional
// write (UpdateKey, SetVersionState, AddVersion): another replica's change
// landing between the Keystore's read and its write.
class FaultyStorage final : public Storage {
 public:
  FaultyStorage(std::unique_ptr<SqliteStorage> real, std::atomic<bool>* fail)
      : real_(std::move(real)), fail_(fail) {}

  absl::StatusOr<KeystoreMeta> ReadMeta() override { return real_->ReadMeta(); }
  absl::Status InitMeta(const KeystoreMeta& m) override {
    return Fault() ? Down() : real_->InitMeta(m);
  }
  absl::Status ReplaceMeta(const std::string& e, const KeystoreMeta& m) override {
    return Fault() ? Down() : real_->ReplaceMeta(e, m);
  }
  absl::Status CreateKey(const KeyRecord& k,
                         const std::vector<VersionRecord>& v) override {
    return Fault() ? Down() : real_->CreateKey(k, v);
  }
  absl::Status AddVersion(const VersionRecord& v, bool p) override {
    Interleave();
    return Fault() ? Down() : real_->AddVersion(v, p);
  }
  absl::StatusOr<KeyRecord> GetKey(const std::string& id) override {
    return real_->GetKey(id);
  }
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(const std::string& a,
                                                  int l) override {
    return real_->ListKeys(a, l);
  }
  absl::StatusOr<KeyWithVersions> GetKeyWithVersions(
      const std::string& id) override {
    return real_->GetKeyWithVersions(id);
  }
  absl::Status UpdateKey(const KeyRecord& k, int64_t revision) override {
    Interleave();
    return Fault() ? Down() : real_->UpdateKey(k, revision);
  }
  absl::StatusOr<VersionRecord> GetVersion(const std::string& id,
                                           int32_t v) override {
    return real_->GetVersion(id, v);
  }
  absl::StatusOr<std::vector<VersionRecord>> ListVersions(
      const std::string& id) override {
    return real_->ListVersions(id);
  }
  absl::StatusOr<VersionRecord> FindVersionByKid(const std::string& kid) override {
    return real_->FindVersionByKid(kid);
  }
  absl::StatusOr<std::vector<VersionRecord>> ListVersionKids() override {
    return real_->ListVersionKids();
  }
  absl::Status SetVersionState(const std::string& id, int32_t v,
                               VersionState e, VersionState s,
                               absl::Time t) override {
    Interleave();
    return Fault() ? Down() : real_->SetVersionState(id, v, e, s, t);
  }
  absl::StatusOr<int64_t> CountKeys() override { return real_->CountKeys(); }
  absl::StatusOr<std::vector<std::string>> ListKeysDueForRotation(
      absl::Time now) override {
    return real_->ListKeysDueForRotation(now);
  }
  absl::Status CreatePolicy(const PolicyRecord& p) override {
    return Fault() ? Down() : real_->CreatePolicy(p);
  }
  absl::Status DeletePolicy(const std::string& id) override {
    return Fault() ? Down() : real_->DeletePolicy(id);
  }
  absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() override {
    return real_->ListPolicies();
  }
  absl::Status CreateApiKey(const ApiKeyRecord& k) override {
    return Fault() ? Down() : real_->CreateApiKey(k);
  }
  absl::StatusOr<ApiKeyRecord> GetApiKey(const std::string& id) override {
    return real_->GetApiKey(id);
  }
  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() override {
    return real_->ListApiKeys();
  }
  absl::Status RevokeApiKey(const std::string& id, absl::Time t) override {
    return Fault() ? Down() : real_->RevokeApiKey(id, t);
  }
  absl::Status TouchApiKey(const std::string& id, absl::Time t) override {
    return Fault() ? Down() : real_->TouchApiKey(id, t);
  }
  absl::Status CreateTokenRecord(const TokenRecord& r) override {
    return Fault() ? Down() : real_->CreateTokenRecord(r);
  }
  absl::StatusOr<TokenRecord> GetTokenRecord(const std::string& jti) override {
    return real_->GetTokenRecord(jti);
  }
  absl::StatusOr<std::vector<TokenRecord>> ListTokenRecords(
      const TokenFilter& f, const TokenCursor& c, int l) override {
    return real_->ListTokenRecords(f, c, l);
  }
  absl::StatusOr<TokenRecord> RevokeTokenRecord(const std::string& jti,
                                                absl::Time t,
                                                const std::string& reason,
                                                const std::string& by) override {
    if (Fault()) return Down();
    return real_->RevokeTokenRecord(jti, t, reason, by);
  }
  absl::StatusOr<int> PurgeTokenRecords(absl::Time t, int l) override {
    if (Fault()) return Down();
    return real_->PurgeTokenRecords(t, l);
  }
  absl::Status ExportRecords(
      const std::function<absl::Status(const StoreRecord&)>& sink) override {
    return real_->ExportRecords(sink);
  }
  absl::Status ReplaceAll(const std::vector<StoreRecord>& records) override {
    return Fault() ? Down() : real_->ReplaceAll(records);
  }
  absl::StatusOr<int64_t> ChangeHead() override { return real_->ChangeHead(); }
  absl::StatusOr<std::vector<ChangeRecord>> ReadChanges(int64_t after,
                                                        int limit) override {
    return real_->ReadChanges(after, limit);
  }
  absl::StatusOr<int> PruneChanges(absl::Time before, int limit) override {
    if (Fault()) return Down();
    return real_->PruneChanges(before, limit);
  }
  absl::StatusOr<LeaseRecord> AcquireLease(const std::string& name,
                                           const std::string& holder,
                                           absl::Duration ttl) override {
    if (Fault()) return Down();
    return real_->AcquireLease(name, holder, ttl);
  }

  std::function<void()> before_write;

 private:
  void Interleave() {
    if (!before_write) return;
    auto once = std::move(before_write);
    before_write = nullptr;
    once();
  }
  bool Fault() const { return fail_->load(); }
  static absl::Status Down() {
    return absl::UnavailableError("injected fault: the disk is gone");
  }
  std::unique_ptr<SqliteStorage> real_;
  std::atomic<bool>* fail_;
};

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    path_ = absl::StrCat(getenv("TEST_TMPDIR"), "/fault", n++, ".db");
    auto real = SqliteStorage::Open(path_, SqliteStorage::Mode::kCreateNew);
    ASSERT_TRUE(real.ok()) << real.status();
    auto faulty = std::make_unique<FaultyStorage>(std::move(*real), &fail_);
    storage_ = faulty.get();
    auto ks = Keystore::OpenStorage(std::move(faulty),
                                    crypto::SecretData("fault test passphrase"),
                                    {}, /*init=*/true);
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  // Another process on the same database (a second replica).
  std::unique_ptr<SqliteStorage> Other() {
    auto other = SqliteStorage::Open(path_, SqliteStorage::Mode::kOpenExisting);
    EXPECT_TRUE(other.ok()) << other.status();
    return other.ok() ? std::move(*other) : nullptr;
  }

  std::string path_;
  FaultyStorage* storage_ = nullptr;
  std::atomic<bool> fail_{false};
  std::unique_ptr<Keystore> ks_;
};

TEST_F(FaultTest, FailedWritesChangeNothing) {
  CreateKeyParams params;
  params.id = "k";
  params.type = KeyType::kAes256Gcm;
  ASSERT_TRUE(ks_->CreateKey(params).ok());
  auto ct = ks_->Encrypt("k", "before", "");
  ASSERT_TRUE(ct.ok());

  fail_ = true;
  EXPECT_EQ(ks_->RotateKey("k").status().code(), absl::StatusCode::kUnavailable);
  params.id = "k2";
  EXPECT_EQ(ks_->CreateKey(params).status().code(),
            absl::StatusCode::kUnavailable);
  KeyUpdate update;
  update.description = "changed";
  EXPECT_EQ(ks_->UpdateKey("k", update).status().code(),
            absl::StatusCode::kUnavailable);
  ImportKeyParams import;
  import.create.id = "imported";
  import.create.type = KeyType::kAes256Gcm;
  import.format = ImportFormat::kRawSecret;
  import.material = crypto::SecretData("0123456789abcdef0123456789abcdef");
  import.kid = "imported-kid";
  EXPECT_EQ(ks_->ImportKey(std::move(import)).status().code(),
            absl::StatusCode::kUnavailable);
  // A refused import leaves its kid unknown.
  EXPECT_EQ(ks_->FindVersionByKid("imported-kid").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ks_->ChangePassphrase(crypto::SecretData("fault test passphrase"),
                                  crypto::SecretData("new one"))
                .code(),
            absl::StatusCode::kUnavailable);
  // Nothing moved: same primary, same description, no k2; reads still work.
  EXPECT_EQ(ks_->GetKey("k")->primary_version, 1);
  EXPECT_EQ(ks_->GetKey("k")->description, "");
  EXPECT_EQ(ks_->GetKey("k2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ks_->Decrypt("k", *ct, "")->InsecureView(), "before");
  auto during = ks_->Encrypt("k", "during", "");
  ASSERT_TRUE(during.ok());
  EXPECT_TRUE(absl::StartsWith(*during, "kw:v1:"));

  // The disk comes back: the same operations succeed, and everything made
  // before, during and after is readable.
  fail_ = false;
  auto rotated = ks_->RotateKey("k");
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(rotated->version, 2);
  EXPECT_EQ(ks_->Decrypt("k", *during, "")->InsecureView(), "during");
  auto after = ks_->Encrypt("k", "after", "");
  EXPECT_TRUE(absl::StartsWith(*after, "kw:v2:"));
  ks_.reset();
  auto reopened = Keystore::Open(path_, crypto::SecretData("fault test passphrase"));
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Decrypt("k", *ct, "")->InsecureView(), "before");
  EXPECT_EQ((*reopened)->GetKey("k")->primary_version, 2);
}

// Another replica rotates between UpdateKey's read and its write: the
// conditional write loses, and the update is applied again to the key as it
// now is; the rotation stays (UpdateKey never writes the primary).
TEST_F(FaultTest, AnUpdateRacingARotationIsReappliedAndKeepsIt) {
  CreateKeyParams params;
  params.id = "k";
  params.type = KeyType::kAes256Gcm;
  ASSERT_TRUE(ks_->CreateKey(params).ok());
  auto other = Other();
  ASSERT_NE(other, nullptr);
  storage_->before_write = [&] {
    VersionRecord v = *other->GetVersion("k", 1);
    v.version = 2;
    ASSERT_TRUE(other->AddVersion(v, /*make_primary=*/true).ok());
  };
  KeyUpdate update;
  update.description = "after the race";
  update.labels = std::map<std::string, std::string>{{"by", "update"}};
  auto updated = ks_->UpdateKey("k", update);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->primary_version, 2);
  auto stored = other->GetKey("k");
  EXPECT_EQ(stored->primary_version, 2);
  EXPECT_EQ(stored->description, "after the race");
  EXPECT_EQ(stored->labels.at("by"), "update");
  EXPECT_EQ(stored->revision, 3);  // made, rotated, updated
}

// Another replica changes a version's state between the Keystore's check
// and its write: FAILED_PRECONDITION naming the state now, nothing written.
TEST_F(FaultTest, AStateChangeRacingAnotherIsRefusedNamingTheState) {
  CreateKeyParams params;
  params.id = "k";
  params.type = KeyType::kAes256Gcm;
  ASSERT_TRUE(ks_->CreateKey(params).ok());
  ASSERT_TRUE(ks_->RotateKey("k").ok());
  ASSERT_TRUE(ks_->DisableVersion("k", 1).ok());
  auto other = Other();
  ASSERT_NE(other, nullptr);
  // Destroy checked "disabled"; meanwhile the other replica re-enabled it.
  storage_->before_write = [&] {
    ASSERT_TRUE(other
                    ->SetVersionState("k", 1, VersionState::kDisabled,
                                      VersionState::kEnabled, absl::Now())
                    .ok());
  };
  absl::Status s = ks_->DestroyVersion("k", 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("it is now enabled"));
  auto v = other->GetVersion("k", 1);
  EXPECT_EQ(v->state, VersionState::kEnabled);
  EXPECT_FALSE(v->wrapped_material.empty());
  // The same change made by the other replica meanwhile: OK (idempotent).
  storage_->before_write = [&] {
    ASSERT_TRUE(other
                    ->SetVersionState("k", 1, VersionState::kEnabled,
                                      VersionState::kDisabled, absl::Now())
                    .ok());
  };
  EXPECT_TRUE(ks_->DisableVersion("k", 1).ok());
}

}  // namespace
}  // namespace keyward::keystore
