#include "keystore/sqlite_storage.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/commit_hook.h"
#include "keystore/key_types.h"
#include "keystore/testing/storage_conformance.h"

namespace keyward::keystore {
namespace {

using ::testing::HasSubstr;

using testing::Key;
using testing::Version;

std::string TempPath() { return testing::TempPath("storage") + ".db"; }

// RunSql runs each of `statements` on the SQLite file at `path` directly
// (taking a file back to what an older schema wrote).
void RunSql(const std::string& path,
            const std::vector<const char*>& statements) {
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* sql : statements) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  sqlite3_close(db);
}

// Pragma: the value of PRAGMA `name` in the SQLite file at `path`, read
// directly ("" if it cannot be read).
std::string Pragma(const std::string& path, const std::string& name) {
  sqlite3* db;
  std::string value;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* q = nullptr;
    const std::string sql = "PRAGMA " + name;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return value;
}

// What schemas 7 and 8 added, dropped: a file as schema 6 wrote it.
const std::vector<const char*> kBackToSchemaSix = {
    "ALTER TABLE keys DROP COLUMN signature_algorithms",
    "ALTER TABLE keys DROP COLUMN jwt_default_ttl_s",
    "ALTER TABLE keys DROP COLUMN jwt_issuer",
    "ALTER TABLE keys DROP COLUMN legacy_short_secret",
    "DROP TABLE changes",
    "DROP TABLE change_head",
    "DROP TABLE leases",
    "PRAGMA user_version=6"};

std::unique_ptr<SqliteStorage> Create(const std::string& path) {
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kCreateNew);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(SqliteStorageTest, SchemaPragmasAndMode) {
  std::string path = TempPath();
  auto storage = Create(path);
  ASSERT_NE(storage, nullptr);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  storage.reset();
  EXPECT_EQ(Pragma(path, "journal_mode"), "wal");
  EXPECT_EQ(Pragma(path, "user_version"), "8");  // the schema version
}

TEST(SqliteStorageTest, NewerSchemaIsRefused) {
  std::string path = TempPath();
  Create(path).reset();
  RunSql(path, {"PRAGMA user_version=99"});
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("newer"));
}

// A keystore made by a schema-3 build (before token records, JWE algs,
// kids, key revisions, key settings and the change feed) opens in this one: the file is migrated in place, nothing is lost.
TEST(SqliteStorageTest, SchemaThreeFileMigrates) {
  std::string path = TempPath();
  {
    auto storage = Create(path);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->CreateKey(Key("old"), {Version("old", 1)}).ok());
  }
  // Take the file back to what schema 3 wrote.
  RunSql(path, kBackToSchemaSix);
  RunSql(path,
         {"DROP TABLE token_metadata", "DROP TABLE token_records",
          "DROP INDEX key_versions_by_kid",
          "ALTER TABLE key_versions DROP COLUMN kid",
          "ALTER TABLE key_versions DROP COLUMN imported",
          "ALTER TABLE keys DROP COLUMN jwe_algorithm",
          "ALTER TABLE keys DROP COLUMN revision", "PRAGMA user_version=3"});

  auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto key = (*storage)->GetKey("old");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->labels.at("team"), "payments");
  EXPECT_EQ(key->jwe_algorithm, "");
  EXPECT_EQ(key->revision, 1);  // schema 6: every existing key starts at 1
  // Schema 7: the Ed25519 sign key signs as it did.
  EXPECT_EQ(key->signature_algorithms,
            std::vector<crypto::SignatureAlgorithm>{
                crypto::SignatureAlgorithm::kEd25519});
  auto version = (*storage)->GetVersion("old", 1);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->wrapped_material, "wrapped-1");
  EXPECT_FALSE(version->imported);
  EXPECT_EQ(version->kid, "");
  // The new tables work.
  TokenRecord record;
  record.jti = "after-migration";
  record.key_id = "old";
  record.expire_at = absl::FromUnixSeconds(2000);
  record.purge_at = absl::FromUnixSeconds(3000);
  EXPECT_TRUE((*storage)->CreateTokenRecord(record).ok());
  EXPECT_TRUE((*storage)->GetTokenRecord("after-migration").ok());
  // Schema 8: the feed starts empty and records the next change.
  EXPECT_EQ((*storage)->ChangeHead().value_or(-1), 0);
  ASSERT_TRUE((*storage)->CreateKey(Key("new"), {Version("new", 1)}).ok());
  EXPECT_EQ((*storage)->ChangeHead().value_or(-1), 1);
  EXPECT_TRUE((*storage)->IntegrityCheck().ok());
  storage->reset();
  EXPECT_EQ(Pragma(path, "user_version"), "8");  // the schema version
}

// A schema-6 keystore migrates to 7 keeping every key's behaviour: each key
// of every type and purpose gets exactly its type's default algorithms
// (what it signed with before), no JWT default TTL or issuer, no mark.
TEST(SqliteStorageTest, SchemaSixKeysGetTheirTypeDefaultAlgorithms) {
  std::string path = TempPath();
  std::vector<KeyRecord> made;
  {
    auto storage = Create(path);
    ASSERT_NE(storage, nullptr);
    for (const KeyTypeInfo& info : AllKeyTypes()) {
      for (KeyPurpose purpose :
           {KeyPurpose::kEncryptDecrypt, KeyPurpose::kSignVerify,
            KeyPurpose::kMac, KeyPurpose::kKeyAgreement, KeyPurpose::kJwt}) {
        if (!AllowsPurpose(info.type, purpose)) continue;
        KeyRecord k = Key(absl::StrCat("k", made.size()));
        k.type = info.type;
        k.purpose = purpose;
        ASSERT_TRUE(storage->CreateKey(k, {Version(k.id, 1)}).ok());
        made.push_back(k);
      }
    }
  }
  RunSql(path, kBackToSchemaSix);
  auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  ASSERT_TRUE(storage.ok()) << storage.status();
  for (const KeyRecord& k : made) {
    SCOPED_TRACE(absl::StrCat(crypto::KeyTypeName(k.type), " purpose ",
                              static_cast<int>(k.purpose)));
    auto key = (*storage)->GetKey(k.id);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(key->signature_algorithms,
              DefaultSignatureAlgorithms(k.type, k.purpose));
    EXPECT_EQ(key->jwt_default_ttl, absl::ZeroDuration());
    EXPECT_EQ(key->jwt_issuer, "");
    EXPECT_FALSE(key->legacy_short_secret);
  }
}

TEST(SqliteStorageTest, NotADatabaseIsDataLoss) {
  std::string path = TempPath();
  FILE* f = fopen(path.c_str(), "w");
  fputs("this is not a database at all, not even close to one.....", f);
  fclose(f);
  chmod(path.c_str(), 0600);
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
}

// The backend-independent rules (codes, ordering, atomicity under the
// commit hook, concurrent writers) are checked for SQLite by
// storage_conformance_test.cc; what follows is SQLite's own.

TEST(SqliteStorageTest, IntegrityHoldsAfterChangesAndRefusedChanges) {
  auto storage = Create(TempPath());
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->CreateKey(Key("a"), {Version("a", 1)}).ok());
  {
    ScopedCommitHook hook(
        [](const CommitInfo&) { return absl::UnavailableError("down"); });
    EXPECT_EQ(storage->AddVersion(Version("a", 2), true).code(),
              absl::StatusCode::kUnavailable);
  }
  ASSERT_TRUE(storage
                  ->SetVersionState("a", 1, VersionState::kEnabled,
                                    VersionState::kDestroyed,
                                    absl::FromUnixSeconds(5000))
                  .ok());
  EXPECT_TRUE(storage->IntegrityCheck().ok());
}

}  // namespace
}  // namespace keyward::keystore
