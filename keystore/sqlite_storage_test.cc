#include "keystore/sqlite_storage.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/commit_hook.h"

namespace keyward::keystore {
namespace {

using ::testing::HasSubstr;

std::string TempPath() {
  static int n = 0;
  return absl::StrCat(getenv("TEST_TMPDIR"), "/storage", n++, ".db");
}

std::unique_ptr<SqliteStorage> Create(const std::string& path) {
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kCreateNew);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

KeyRecord Key(const std::string& id) {
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

VersionRecord Version(const std::string& id, int v) {
  VersionRecord r;
  r.key_id = id;
  r.version = v;
  r.created_at = absl::FromUnixSeconds(1000 + v);
  r.wrapped_material = absl::StrCat("wrapped-", v);
  r.public_key = absl::StrCat("spki-", v);
  return r;
}

TEST(SqliteStorageTest, SchemaPragmasAndMode) {
  std::string path = TempPath();
  auto storage = Create(path);
  ASSERT_NE(storage, nullptr);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  storage.reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), "wal");
  sqlite3_finalize(q);
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 7);  // the schema version
  sqlite3_finalize(q);
  sqlite3_close(db);
}

TEST(SqliteStorageTest, NewerSchemaIsRefused) {
  std::string path = TempPath();
  Create(path).reset();
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto s = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("newer"));
}

// A keystore made by a schema-3 build (before token records, JWE algs,
// kids and key revisions) opens in this one: the file is migrated in place, nothing is lost.
TEST(SqliteStorageTest, SchemaThreeFileMigrates) {
  std::string path = TempPath();
  {
    auto storage = Create(path);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->CreateKey(Key("old"), {Version("old", 1)}).ok());
  }
  // Take the file back to what schema 3 wrote.
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  for (const char* sql :
       {"DROP TABLE token_metadata", "DROP TABLE token_records",
        "DROP INDEX key_versions_by_kid",
        "ALTER TABLE key_versions DROP COLUMN kid",
        "ALTER TABLE key_versions DROP COLUMN imported",
        "ALTER TABLE keys DROP COLUMN jwe_algorithm",
        "ALTER TABLE keys DROP COLUMN revision", "DROP TABLE changes",
        "DROP TABLE change_head", "PRAGMA user_version=3"}) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK)
        << sql << ": " << (err ? err : "");
  }
  sqlite3_close(db);

  auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto key = (*storage)->GetKey("old");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->labels.at("team"), "payments");
  EXPECT_EQ(key->jwe_algorithm, "");
  EXPECT_EQ(key->revision, 1);  // schema 6: every existing key starts at 1
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
  EXPECT_TRUE((*storage)->IntegrityCheck().ok());
  storage->reset();
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, nullptr);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 7);  // the schema version
  sqlite3_finalize(q);
  sqlite3_close(db);
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
