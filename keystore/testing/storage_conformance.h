// The storage conformance suite (keystore/storage_conformance_test.cc and
// storage_conformance_access_test.cc): what a Storage backend gives the
// suite, the fixture every case runs in, and record builders. Test-only.
#ifndef KEYWARD_KEYSTORE_TESTING_STORAGE_CONFORMANCE_H_
#define KEYWARD_KEYSTORE_TESTING_STORAGE_CONFORMANCE_H_

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore::testing {

// StorageBackend: one backend under test.
struct StorageBackend {
  // name is a gtest-safe name ([A-Za-z0-9]): "Sqlite", "Postgres".
  std::string name;
  // fresh makes a new, empty database and opens a Storage on it.
  std::function<absl::StatusOr<std::unique_ptr<Storage>>()> fresh;
  // another opens a second Storage, with its own connection(s), on the
  // database that the last fresh() made: a second reader, another process.
  std::function<absl::StatusOr<std::unique_ptr<Storage>>()> another;
};

// StorageConformanceTest: each case gets a fresh database (storage()) and
// can open a second Storage on it (Another()).
class StorageConformanceTest
    : public ::testing::TestWithParam<StorageBackend> {
 protected:
  void SetUp() override {
    auto s = GetParam().fresh();
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(*s);
  }
  Storage& storage() { return *storage_; }
  std::unique_ptr<Storage> Another() {
    auto s = GetParam().another();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

 private:
  std::unique_ptr<Storage> storage_;
};

// TempPath returns a new path under TEST_TMPDIR, starting with `name`.
inline std::string TempPath(const std::string& name) {
  static std::atomic<int> n{0};
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name, n++);
}

inline KeyRecord Key(const std::string& id) {
  KeyRecord k;
  k.id = id;
  k.type = KeyType::kEd25519;
  k.purpose = KeyPurpose::kSignVerify;
  k.primary_version = 1;
  k.latest_version = 1;
  k.labels = {{"team", "payments"}, {"env", "prod"}};
  k.created_at = absl::FromUnixSeconds(1000);
  k.rotated_at = k.created_at;
  k.rotation_period = absl::Hours(24);
  return k;
}

inline VersionRecord Version(const std::string& id, int v) {
  VersionRecord r;
  r.key_id = id;
  r.version = v;
  r.created_at = absl::FromUnixSeconds(1000 + v);
  r.wrapped_material = absl::StrCat("wrapped-", v);
  r.public_key = absl::StrCat("spki-", v);
  return r;
}

inline KeystoreMeta Meta(const std::string& root) {
  KeystoreMeta meta;
  meta.kdf_salt = std::string("salt\0\x01\xff", 7);
  meta.scrypt_n = uint64_t{1} << 15;
  meta.scrypt_r = 8;
  meta.scrypt_p = 1;
  meta.kek_check = std::string(32, '\xc3');
  meta.wrapped_root_key = root;
  return meta;
}

inline PolicyRecord Policy(const std::string& id) {
  PolicyRecord p;
  p.id = id;
  p.principal = "unix:uid:1000";
  p.resource = "keys/pay*";
  p.operations = {"SIGN", "VERIFY", "ADMIN"};
  p.description = "payments signers";
  p.created_by = "unix:uid:0";
  p.created_at = absl::FromUnixSeconds(1234);
  return p;
}

inline ApiKeyRecord ApiKey(const std::string& id) {
  ApiKeyRecord k;
  k.id = id;
  k.description = "ci";
  k.secret_sha256 = std::string("\x00\x01hash", 6) + std::string(26, '\x80');
  k.created_by = "unix:uid:0";
  k.created_at = absl::FromUnixSeconds(2000);
  return k;
}

inline TokenRecord Token(const std::string& jti, int64_t issued_s) {
  TokenRecord r;
  r.jti = jti;
  r.key_id = "jwt-key";
  r.version = 1;
  r.subject = "bob";
  r.claims_json = R"({"sub":"bob"})";
  r.issued_by = "unix:uid:1000";
  r.issued_at = absl::FromUnixSeconds(issued_s);
  r.expire_at = absl::FromUnixSeconds(issued_s + 100);
  r.purge_at = absl::FromUnixSeconds(issued_s + 1000);
  return r;
}

// Jtis returns the jtis of `records`, in order.
inline std::vector<std::string> Jtis(const std::vector<TokenRecord>& records) {
  std::vector<std::string> out;
  for (const TokenRecord& r : records) out.push_back(r.jti);
  return out;
}

// One record of every kind, with the awkward values: a destroyed version,
// a revoked API key, a revoked token with metadata, times "never", bytes
// with NULs, a revision above 1.
inline void PopulateEveryKind(Storage& s) {
  ASSERT_TRUE(s.InitMeta(Meta("root-1")).ok());
  KeyRecord b = Key("b");
  b.latest_version = 2;
  b.primary_version = 2;
  ASSERT_TRUE(s.CreateKey(b, {Version("b", 1), Version("b", 2)}).ok());
  ASSERT_TRUE(s.SetVersionState("b", 1, VersionState::kEnabled,
                                VersionState::kDisabled,
                                absl::FromUnixSeconds(3000))
                  .ok());
  ASSERT_TRUE(s.SetVersionState("b", 1, VersionState::kDisabled,
                                VersionState::kDestroyed,
                                absl::FromUnixSeconds(3001))
                  .ok());
  KeyRecord a = Key("a");
  a.type = KeyType::kAes256Gcm;
  a.purpose = KeyPurpose::kEncryptDecrypt;
  VersionRecord a1 = Version("a", 1);
  a1.public_key.clear();
  a1.wrapped_material = std::string("\0\1\2wrapped", 10);
  a1.kid = "imported-kid";
  a1.imported = true;
  ASSERT_TRUE(s.CreateKey(a, {a1}).ok());
  KeyRecord a_update = *s.GetKey("a");
  a_update.description = "updated once";
  ASSERT_TRUE(s.UpdateKey(a_update, a_update.revision).ok());
  ASSERT_TRUE(s.CreatePolicy(Policy("q")).ok());
  ASSERT_TRUE(s.CreatePolicy(Policy("p")).ok());
  ASSERT_TRUE(s.CreateApiKey(ApiKey("ci")).ok());
  ASSERT_TRUE(s.CreateApiKey(ApiKey("old")).ok());
  ASSERT_TRUE(s.RevokeApiKey("old", absl::FromUnixSeconds(2500)).ok());
  TokenRecord t2 = Token("t2", 10);
  t2.metadata = {{"txn", "42"}, {"phone", "+1555"}};
  t2.sealed_token = std::string("\0sealed", 7);
  ASSERT_TRUE(s.CreateTokenRecord(t2).ok());
  ASSERT_TRUE(s.CreateTokenRecord(Token("t1", 20)).ok());
  ASSERT_TRUE(
      s.RevokeTokenRecord("t2", absl::FromUnixSeconds(30), "lost", "me").ok());
}

}  // namespace keyward::keystore::testing

#endif  // KEYWARD_KEYSTORE_TESTING_STORAGE_CONFORMANCE_H_
