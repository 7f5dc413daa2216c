// Keystore tests of the SQLite file itself: its mode, damage made behind
// Keyward's back with SQL, and backups (SQLite snapshots). The backend-
// independent tests are in keystore_test.cc.
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/backup.h"
#include "keystore/keystore.h"
#include "keystore/testing/keystore_fixture.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using ::testing::HasSubstr;

// Runs one SQL statement against the keystore file behind Keyward's back.
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

using KeystoreSqliteTest = KeystoreTest;

TEST_P(KeystoreSqliteTest, OpenMissingIsNotFound) {
  auto ks = Keystore::Open(TempPath("missing"), Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ks.status().message(), HasSubstr("keywardd init"));
}

TEST_P(KeystoreSqliteTest, FileIsPrivateAndWiderModesAreRefused) {
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ks_.reset();
  ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
  auto ks = Keystore::Open(path_, Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ks.status().message(), HasSubstr("chmod 600"));
}

TEST_P(KeystoreSqliteTest, DamagedRootKeyIsDataLossNotWrongPassphrase) {
  ks_.reset();
  Sql(path_, "UPDATE meta SET wrapped_root_key = "
             "substr(wrapped_root_key, 1, 20) || x'00' || "
             "substr(wrapped_root_key, 22)");
  auto ks = Keystore::Open(path_, Passphrase());
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kDataLoss);
}

TEST_P(KeystoreSqliteTest, ScryptParametersAreStoredAndAtLeast2To15) {
  ks_.reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT scrypt_n, scrypt_r, scrypt_p, "
                               "length(kdf_salt) FROM meta", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_GE(sqlite3_column_int64(stmt, 0), 1 << 15);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), 8);
  EXPECT_EQ(sqlite3_column_int64(stmt, 2), 1);
  EXPECT_EQ(sqlite3_column_int64(stmt, 3), 16);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  KeystoreOptions weak;
  weak.kdf.n = 1 << 10;
  auto ks = Keystore::Init(TempPath("weak"), Passphrase(), weak);
  EXPECT_EQ(ks.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(KeystoreSqliteTest, DestroyedMaterialIsGoneFromTheFile) {
  Create("aes", KeyType::kAes256Gcm);
  ASSERT_TRUE(ks_->RotateKey("aes").ok());
  ASSERT_TRUE(ks_->DisableVersion("aes", 1).ok());
  ASSERT_TRUE(ks_->DestroyVersion("aes", 1).ok());
  ks_.reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  sqlite3_prepare_v2(db, "SELECT length(wrapped_material) FROM key_versions "
                     "WHERE key_id = 'aes' AND version = 1", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_P(KeystoreSqliteTest, TamperedWrappedMaterialIsDataLossNamingKeyAndVersion) {
  Create("victim", KeyType::kEd25519);
  ks_.reset();
  // Flip one bit in each byte position in turn (a sample of every 7th, to keep
  // the test quick, plus the first and last).
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt;
  sqlite3_prepare_v2(db, "SELECT wrapped_material FROM key_versions", -1, &stmt,
                     nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  std::string original(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
                       sqlite3_column_bytes(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  for (size_t bit = 0; bit < original.size() * 8; bit += 13) {
    std::string bad = original;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    Sql(path_, absl::StrCat("UPDATE key_versions SET wrapped_material = x'",
                            absl::BytesToHexString(bad), "'"));
    Reopen();
    auto sig = ks_->Sign("victim", "m");
    EXPECT_EQ(sig.status().code(), absl::StatusCode::kDataLoss) << bit;
    EXPECT_THAT(sig.status().message(), HasSubstr("version 1 of key 'victim'"));
    ks_.reset();
  }
}

TEST_P(KeystoreSqliteTest, SwappedVersionRowsAreDataLoss) {
  Create("a", KeyType::kAes256Gcm);
  Create("b", KeyType::kAes256Gcm);
  ks_.reset();
  Sql(path_,
      "UPDATE key_versions SET wrapped_material = CASE key_id "
      "WHEN 'a' THEN (SELECT wrapped_material FROM key_versions WHERE key_id='b') "
      "ELSE (SELECT wrapped_material FROM key_versions WHERE key_id='a') END");
  Reopen();
  auto ct = ks_->Encrypt("a", "x", "");
  EXPECT_EQ(ct.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ct.status().message(), HasSubstr("version 1 of key 'a'"));
}

TEST_P(KeystoreSqliteTest, RestoreReplacesEverythingInPlaceAndSeals) {
  Create("kept", KeyType::kAes256Gcm);
  auto ct = ks_->Encrypt("kept", "made before the backup", "");
  ASSERT_TRUE(ct.ok());
  ASSERT_TRUE(ks_->RecordToken(Token("before", now_), "").ok());
  auto backup = ks_->CreateBackup(TempPath("snapshot"));
  ASSERT_TRUE(backup.ok()) << backup.status();

  // After the backup: a new key, a rotation, a revocation, a new passphrase.
  Create("later", KeyType::kEd25519);
  ASSERT_TRUE(ks_->RotateKey("kept").ok());
  ASSERT_TRUE(ks_->RevokeToken("before", "r", "x").ok());
  const SecretData new_pass("a passphrase set after the backup");
  ASSERT_TRUE(ks_->ChangePassphrase(Passphrase(), new_pass).ok());

  // Refused restores change nothing and leave the keystore unsealed.
  const std::string scratch = TempPath("restore");
  EXPECT_EQ(ks_->Restore(*backup, new_pass, scratch).code(),
            absl::StatusCode::kUnauthenticated);
  std::string tampered = *backup;
  tampered[tampered.size() - 5] ^= 1;
  EXPECT_EQ(ks_->Restore(tampered, Passphrase(), scratch).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ks_->Restore("not a backup", Passphrase(), scratch).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ks_->sealed());
  EXPECT_TRUE(ks_->GetKey("later").ok());
  EXPECT_EQ(access(scratch.c_str(), F_OK), -1);

  absl::Status restored = ks_->Restore(*backup, Passphrase(), scratch);
  ASSERT_TRUE(restored.ok()) << restored;
  EXPECT_TRUE(ks_->sealed());
  EXPECT_EQ(access(scratch.c_str(), F_OK), -1) << "the staged copy is gone";
  EXPECT_EQ(ks_->Unseal(new_pass).code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(ks_->Unseal(Passphrase()).ok());
  EXPECT_EQ(ks_->GetKey("later").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ks_->GetKey("kept")->primary_version, 1);
  EXPECT_EQ(ks_->Decrypt("kept", *ct, "")->InsecureView(),
            "made before the backup");
  EXPECT_FALSE(ks_->IsTokenRevoked("before"));
  EXPECT_TRUE(ks_->GetTokenRecord("before").ok());
  // The file on disk is the restored one: it reopens with the old passphrase.
  Reopen();
  EXPECT_EQ(ks_->GetKey("later").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(KeystoreSqliteTest, BackupHeaderParsesWithoutThePassphrase) {
  auto backup = ks_->CreateBackup(TempPath("header"));
  ASSERT_TRUE(backup.ok()) << backup.status();
  auto header = ParseBackupHeader(*backup);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_GE(header->meta.scrypt_n, uint64_t{1} << 15);
  EXPECT_EQ(header->meta.kdf_salt.size(), 16u);
  EXPECT_LT(header->size, backup->size());
  // Every cut inside the header is DATA_LOSS; a wrong magic is not a backup.
  for (size_t n = 10; n < header->size; ++n) {
    EXPECT_EQ(ParseBackupHeader(backup->substr(0, n)).status().code(),
              absl::StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(ParseBackupHeader("KWBACKUP3\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Out-of-range scrypt parameters are refused before any scrypt runs.
  ASSERT_EQ(header->meta.scrypt_n, uint64_t{1} << 15);
  std::string bad = *backup;
  const size_t at = bad.find("32768");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 5, "65537");  // same length, not a power of two
  EXPECT_EQ(ParseBackupHeader(bad).status().code(),
            absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, KeystoreSqliteTest,
                         ::testing::Values(Backend::kSqlite), BackendName);

}  // namespace
}  // namespace keyward::keystore
