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
  EXPECT_EQ(sqlite3_column_int(q, 0), 5);
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

// A keystore made by a schema-3 build (before token records, JWE algs and
// kids) opens in this one: the file is migrated in place, nothing is lost.
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
        "ALTER TABLE keys DROP COLUMN jwe_algorithm", "PRAGMA user_version=3"}) {
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
  EXPECT_EQ(sqlite3_column_int(q, 0), 5);
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

TEST(SqliteStorageTest, KeysVersionsLabelsRoundTrip) {
  auto storage = Create(TempPath());
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->CreateKey(Key("a"), {Version("a", 1)}).ok());
  EXPECT_EQ(storage->CreateKey(Key("a"), {Version("a", 1)}).code(),
            absl::StatusCode::kAlreadyExists);
  auto key = storage->GetKey("a");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->labels.at("team"), "payments");
  EXPECT_EQ(key->rotation_period, absl::Hours(24));
  EXPECT_EQ(key->created_at, absl::FromUnixSeconds(1000));
  auto v = storage->GetVersion("a", 1);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->wrapped_material, "wrapped-1");
  EXPECT_EQ(v->public_key, "spki-1");
  EXPECT_EQ(storage->GetKey("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage->GetVersion("a", 2).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SqliteStorageTest, AddVersionIsConditionalAndAtomic) {
  auto storage = Create(TempPath());
  ASSERT_TRUE(storage->CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage->AddVersion(Version("a", 2), true).ok());
  auto key = storage->GetKey("a");
  EXPECT_EQ(key->primary_version, 2);
  EXPECT_EQ(key->latest_version, 2);
  EXPECT_EQ(key->rotated_at, absl::FromUnixSeconds(1002));
  // Skipping a number, or adding one twice, loses the race: ABORTED, and
  // nothing was written.
  EXPECT_EQ(storage->AddVersion(Version("a", 4), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage->AddVersion(Version("a", 2), true).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(storage->ListVersions("a")->size(), 2u);
  EXPECT_EQ(storage->GetKey("a")->latest_version, 2);
}

TEST(SqliteStorageTest, DestroyWipesMaterial) {
  auto storage = Create(TempPath());
  ASSERT_TRUE(storage->CreateKey(Key("a"), {Version("a", 1)}).ok());
  ASSERT_TRUE(storage
                  ->SetVersionState("a", 1, VersionState::kDestroyed,
                                    absl::FromUnixSeconds(5000))
                  .ok());
  auto v = storage->GetVersion("a", 1);
  EXPECT_EQ(v->state, VersionState::kDestroyed);
  EXPECT_TRUE(v->wrapped_material.empty());
  EXPECT_EQ(v->public_key, "spki-1");
  EXPECT_EQ(v->destroyed_at, absl::FromUnixSeconds(5000));
  EXPECT_TRUE(storage->IntegrityCheck().ok());
}

TEST(SqliteStorageTest, ReplaceMetaIsCompareAndSwap) {
  auto storage = Create(TempPath());
  KeystoreMeta meta;
  meta.kdf_salt = "salt";
  meta.scrypt_n = 1 << 15;
  meta.scrypt_r = 8;
  meta.scrypt_p = 1;
  meta.kek_check = "check";
  meta.wrapped_root_key = "root-1";
  ASSERT_TRUE(storage->InitMeta(meta).ok());
  KeystoreMeta next = meta;
  next.wrapped_root_key = "root-2";
  EXPECT_EQ(storage->ReplaceMeta("stale", next).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(storage->ReplaceMeta("root-1", next).ok());
  EXPECT_EQ(storage->ReadMeta()->wrapped_root_key, "root-2");
}

TEST(SqliteStorageTest, UpdateKeyRewritesLabels) {
  auto storage = Create(TempPath());
  ASSERT_TRUE(storage->CreateKey(Key("a"), {Version("a", 1)}).ok());
  KeyRecord k = *storage->GetKey("a");
  k.labels = {{"only", "this"}};
  k.description = "updated";
  ASSERT_TRUE(storage->UpdateKey(k).ok());
  auto got = storage->GetKey("a");
  EXPECT_EQ(got->labels.size(), 1u);
  EXPECT_EQ(got->description, "updated");
  k.id = "missing";
  EXPECT_EQ(storage->UpdateKey(k).code(), absl::StatusCode::kNotFound);
}


// The commit hook (commit_hook.h) is the daemon's audit record: every change
// runs it inside its transaction, before COMMIT, and a failing hook leaves
// nothing changed.
class CommitHookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = TempPath();
    storage_ = Create(path_);
    ASSERT_NE(storage_, nullptr);
    ASSERT_TRUE(storage_->CreateKey(Key("a"), {Version("a", 1)}).ok());
    PolicyRecord p;
    p.id = "p";
    p.principal = "unix:uid:1";
    p.resource = "*";
    p.operations = {"SIGN"};
    ASSERT_TRUE(storage_->CreatePolicy(p).ok());
  }

  // Count rows of `table` through a second connection: what is committed.
  int64_t CommittedRows(const std::string& table) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY,
                              nullptr),
              SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &q,
                       nullptr);
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
  }

  std::string path_;
  std::unique_ptr<SqliteStorage> storage_;
};

TEST_F(CommitHookTest, AFailingHookRollsEveryKindOfChangeBack) {
  const absl::Status down = absl::UnavailableError("audit log down");
  int calls = 0;
  ScopedCommitHook hook([&](const CommitInfo&) {
    ++calls;
    return down;
  });
  PolicyRecord p;
  p.id = "q";
  p.principal = "unix:uid:2";
  p.resource = "*";
  p.operations = {"ADMIN"};
  EXPECT_EQ(storage_->CreatePolicy(p), down);
  EXPECT_EQ(storage_->DeletePolicy("p"), down);
  EXPECT_EQ(storage_->CreateKey(Key("b"), {Version("b", 1)}), down);
  EXPECT_EQ(storage_->AddVersion(Version("a", 2), true), down);
  KeyRecord changed = Key("a");
  changed.description = "changed";
  EXPECT_EQ(storage_->UpdateKey(changed), down);
  EXPECT_EQ(storage_->SetVersionState("a", 1, VersionState::kDisabled,
                                      absl::Now()),
            down);
  ApiKeyRecord api;
  api.id = "ci";
  api.secret_sha256 = std::string(32, 'x');
  EXPECT_EQ(storage_->CreateApiKey(api), down);
  TokenRecord token;
  token.jti = "j";
  token.key_id = "a";
  token.version = 1;
  EXPECT_EQ(storage_->CreateTokenRecord(token), down);
  EXPECT_EQ(calls, 8);
  // Nothing changed.
  EXPECT_EQ(CommittedRows("policies"), 1);
  EXPECT_EQ(CommittedRows("keys"), 1);
  EXPECT_EQ(CommittedRows("key_versions"), 1);
  EXPECT_EQ(CommittedRows("api_keys"), 0);
  EXPECT_EQ(CommittedRows("token_records"), 0);
  auto key = storage_->GetKey("a");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->description, "");
  EXPECT_EQ(key->latest_version, 1);
  EXPECT_EQ(storage_->GetVersion("a", 1)->state, VersionState::kEnabled);
  EXPECT_TRUE(storage_->IntegrityCheck().ok());
}

TEST_F(CommitHookTest, AFailingHookRollsTheOtherChangesBackToo) {
  // Setup without a hook: a hierarchy row, an API key, a token record.
  KeystoreMeta meta;
  meta.kdf_salt = "salt";
  meta.scrypt_n = 1 << 15;
  meta.scrypt_r = 8;
  meta.scrypt_p = 1;
  meta.kek_check = "check";
  meta.wrapped_root_key = "root-1";
  const std::string other_path = TempPath();
  auto other = Create(other_path);
  ASSERT_NE(other, nullptr);
  ApiKeyRecord api;
  api.id = "ci";
  api.secret_sha256 = std::string(32, 'x');
  ASSERT_TRUE(storage_->CreateApiKey(api).ok());
  TokenRecord token;
  token.jti = "j";
  token.key_id = "a";
  token.version = 1;
  token.purge_at = absl::FromUnixSeconds(1);  // due for purging
  ASSERT_TRUE(storage_->CreateTokenRecord(token).ok());
  ASSERT_TRUE(storage_->InitMeta(meta).ok());
  ASSERT_TRUE(other->SnapshotTo(other_path + ".snap").ok());

  const absl::Status down = absl::UnavailableError("audit log down");
  int calls = 0;
  ScopedCommitHook hook([&](const CommitInfo&) {
    ++calls;
    return down;
  });
  EXPECT_EQ(other->InitMeta(meta), down);
  KeystoreMeta next = meta;
  next.wrapped_root_key = "root-2";
  EXPECT_EQ(storage_->ReplaceMeta("root-1", next), down);
  EXPECT_EQ(storage_->RevokeApiKey("ci", absl::Now()), down);
  EXPECT_EQ(storage_->TouchApiKey("ci", absl::Now()), down);
  EXPECT_EQ(storage_->RevokeTokenRecord("j", absl::Now(), "r", "x").status(),
            down);
  EXPECT_EQ(storage_->PurgeTokenRecords(absl::Now(), 10).status(), down);
  EXPECT_EQ(storage_->ReplaceWith(other_path + ".snap"), down);
  EXPECT_EQ(calls, 7);
  // Nothing changed.
  EXPECT_EQ(other->ReadMeta().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(storage_->ReadMeta()->wrapped_root_key, "root-1");
  auto key = storage_->GetApiKey("ci");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->revoked_at, absl::InfiniteFuture());
  EXPECT_EQ(key->last_login_at, absl::UnixEpoch());
  auto record = storage_->GetTokenRecord("j");
  ASSERT_TRUE(record.ok()) << "purged by a refused change";
  EXPECT_FALSE(record->revoked());
  EXPECT_EQ(CommittedRows("keys"), 1);
}

TEST_F(CommitHookTest, TheHookRunsOnceBeforeCommitWithTheVersion) {
  std::vector<int32_t> versions;
  std::vector<int64_t> visible;  // committed versions seen from the hook
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      visible.push_back(CommittedRows("key_versions"));
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage_->AddVersion(Version("a", 2), true).ok());
    EXPECT_TRUE(hook.ran());
    EXPECT_TRUE(hook.committed());
    // A later change of the same call does not run it again.
    ASSERT_TRUE(storage_->AddVersion(Version("a", 3), true).ok());
  }
  EXPECT_EQ(versions, std::vector<int32_t>({2}));
  // Inside the hook the new version was not yet committed.
  EXPECT_EQ(visible, std::vector<int64_t>({1}));
  EXPECT_EQ(CommittedRows("key_versions"), 3);
  {
    ScopedCommitHook hook([&](const CommitInfo& info) {
      versions.push_back(info.version);
      return absl::OkStatus();
    });
    ASSERT_TRUE(storage_->SetVersionState("a", 1, VersionState::kDisabled,
                                          absl::Now())
                    .ok());
  }
  EXPECT_EQ(versions, std::vector<int32_t>({2, 1}));
  // A change that fails before COMMIT does not run it.
  {
    ScopedCommitHook hook([&](const CommitInfo&) {
      ADD_FAILURE() << "hook run for a failed change";
      return absl::OkStatus();
    });
    EXPECT_EQ(storage_->AddVersion(Version("a", 9), true).code(),
              absl::StatusCode::kAborted);
    EXPECT_FALSE(hook.ran());
  }
}

}  // namespace
}  // namespace keyward::keystore
