#include "keystore/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/key_types.h"
#include "absl/strings/str_format.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "keystore/commit_hook.h"

namespace keyward::keystore {
namespace {

// Schema migrations, applied in order; PRAGMA user_version is the number
// applied. Never edit one that has shipped: add the next.
constexpr const char* kMigrations[] = {
    // 1: the key hierarchy, keys, labels and versions.
    R"sql(
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  kdf_salt BLOB NOT NULL,
  scrypt_n INTEGER NOT NULL,
  scrypt_r INTEGER NOT NULL,
  scrypt_p INTEGER NOT NULL,
  kek_check BLOB NOT NULL,
  wrapped_root_key BLOB NOT NULL
);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  purpose INTEGER NOT NULL,
  description TEXT NOT NULL,
  exportable INTEGER NOT NULL,
  public_only INTEGER NOT NULL,
  primary_version INTEGER NOT NULL,
  latest_version INTEGER NOT NULL,
  min_decrypt_version INTEGER NOT NULL,
  min_encrypt_version INTEGER NOT NULL,
  rotation_period_s INTEGER NOT NULL,
  jwt_max_ttl_s INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL,
  rotated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE key_labels (
  key_id TEXT NOT NULL REFERENCES keys(id),
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (key_id, name)
) WITHOUT ROWID;
CREATE TABLE key_versions (
  key_id TEXT NOT NULL REFERENCES keys(id),
  version INTEGER NOT NULL,
  state INTEGER NOT NULL,
  created_at_us INTEGER NOT NULL,
  destroyed_at_us INTEGER NOT NULL,
  wrapped_material BLOB NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (key_id, version)
) WITHOUT ROWID;
)sql",
    // 2: access policies.
    R"sql(
CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  principal TEXT NOT NULL,
  resource TEXT NOT NULL,
  operations TEXT NOT NULL,
  description TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 3: API keys (secrets stored only as SHA-256 hashes).
    R"sql(
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  secret_sha256 BLOB NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  expire_at_us INTEGER NOT NULL,
  revoked_at_us INTEGER NOT NULL,
  last_login_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 4: records of issued JWTs, for look-up and revocation.
    R"sql(
CREATE TABLE token_records (
  jti TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  external_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  claims_json TEXT NOT NULL,
  sealed_token BLOB NOT NULL,
  issued_by TEXT NOT NULL,
  issued_at_us INTEGER NOT NULL,
  expire_at_us INTEGER NOT NULL,
  purge_at_us INTEGER NOT NULL,
  revoked_at_us INTEGER NOT NULL,
  revoke_reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX token_records_by_time ON token_records (issued_at_us, jti);
CREATE INDEX token_records_by_external_id
  ON token_records (external_id, issued_at_us);
CREATE INDEX token_records_by_purge ON token_records (purge_at_us);
CREATE TABLE token_metadata (
  jti TEXT NOT NULL REFERENCES token_records(jti) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (jti, name)
) WITHOUT ROWID;
)sql",
    // 5: a JWE key's one algorithm; where a version came from and its own
    // JOSE kid (imported keys keep the kid their tokens carry).
    R"sql(
ALTER TABLE keys ADD COLUMN jwe_algorithm TEXT NOT NULL DEFAULT '';
ALTER TABLE key_versions ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE key_versions ADD COLUMN kid TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX key_versions_by_kid ON key_versions (kid) WHERE kid != '';
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);


// Times are microseconds since the epoch; INT64_MAX stands for "never".
int64_t ToMicros(absl::Time t) {
  return t == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(t);
}
absl::Time FromMicros(int64_t us) {
  return us == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixMicros(us);
}

absl::Status StatusFromSqlite(int rc, absl::string_view what,
                              const char* detail) {
  std::string message = absl::StrCat("keystore database: ", what, ": ",
                                     detail ? detail : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(
          absl::StrCat(message, " (another process holds the keystore?)"));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(
          absl::StrCat(message, "; restore the keystore from a backup"));
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

// Statement owns one prepared statement. Columns and parameters are
// 1-based for Bind and 0-based for columns, as in SQLite.
class SqliteStorage::Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, int64_t v) {
    Check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Statement& Bind(int i, absl::string_view text) {
    Check(sqlite3_bind_text(stmt_, i, text.data(), text.size(),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindBlob(int i, absl::string_view blob) {
    // A zero-length blob must still be a blob, not NULL.
    Check(sqlite3_bind_blob(stmt_, i, blob.empty() ? "" : blob.data(),
                            blob.size(), SQLITE_TRANSIENT));
    return *this;
  }

  // Step returns true for a row, false when done; errors go to status().
  bool Step() {
    if (rc_ != SQLITE_OK) return false;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) rc_ = rc;
    return false;
  }
  // Run steps a statement that returns no rows.
  absl::Status Run(absl::string_view what) {
    Step();
    return status(what);
  }
  absl::Status status(absl::string_view what) const {
    if (rc_ == SQLITE_OK) return absl::OkStatus();
    return StatusFromSqlite(rc_, what, sqlite3_errmsg(db_));
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  void Check(int rc) {
    if (rc_ == SQLITE_OK && rc != SQLITE_OK) rc_ = rc;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Transaction: BEGIN IMMEDIATE now, ROLLBACK unless Commit() succeeded.
// Commit runs the thread's commit hook (commit_hook.h) first: a change and
// the daemon's audit record of it are made together or not at all.
class SqliteStorage::Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    status_ = Statement(db, "BEGIN IMMEDIATE").Run("begin transaction");
  }
  ~Transaction() {
    if (status_.ok() && !committed_) {
      Statement(db_, "ROLLBACK").Run("rollback").IgnoreError();
    }
  }
  const absl::Status& status() const { return status_; }
  // CommitWithoutHook commits housekeeping that is no call's change.
  absl::Status CommitWithoutHook() {
    absl::Status s = Statement(db_, "COMMIT").Run("commit");
    committed_ = s.ok();
    return s;
  }
  absl::Status Commit(const CommitInfo& info = {}) {
    absl::Status s = RunCommitHook(info);
    if (!s.ok()) return s;
    s = Statement(db_, "COMMIT").Run("commit");
    committed_ = s.ok();
    NoteCommitOutcome(committed_);
    return s;
  }

 private:
  sqlite3* db_;
  absl::Status status_;
  bool committed_ = false;
};

absl::StatusOr<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(
    const std::string& path, Mode mode) {
  if (mode == Mode::kCreateNew) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) {
        return absl::AlreadyExistsError(absl::StrCat(
            "a keystore already exists at '", path,
            "'; open it, or move it away to make a new one"));
      }
      return absl::UnavailableError(absl::StrCat(
          "cannot create the keystore '", path, "': ", strerror(errno)));
    }
    close(fd);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "no keystore at '", path, "'; create one with `keywardd init`"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot read '", path, "': ", strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the keystore '%s' is accessible to group or others (mode %04o); "
        "run `chmod 600 %s` and try again",
        path, st.st_mode & 07777, path));
  }

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = StatusFromSqlite(rc, "open", db ? sqlite3_errmsg(db) : nullptr);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(db));
  sqlite3_busy_timeout(db, 5000);
  absl::MutexLock lock(&storage->mu_);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON", "PRAGMA secure_delete=ON"}) {
    absl::Status s = storage->Exec(pragma);
    if (!s.ok()) return s;
  }
  absl::Status migrated = storage->Migrate();
  if (!migrated.ok()) return migrated;
  return storage;
}

SqliteStorage::~SqliteStorage() { sqlite3_close(db_); }

absl::Status SqliteStorage::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  absl::Status s = rc == SQLITE_OK ? absl::OkStatus()
                                   : StatusFromSqlite(rc, "setup", err);
  sqlite3_free(err);
  return s;
}

absl::Status SqliteStorage::Migrate() {
  Statement get(db_, "PRAGMA user_version");
  int64_t version = get.Step() ? get.Int(0) : 0;
  if (!get.status("read schema version").ok()) return get.status("read schema version");
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the keystore's schema (version ", version,
        ") is newer than this keywardd understands (", kSchemaVersion,
        "); run a newer keywardd"));
  }
  for (int64_t next = version; next < kSchemaVersion; ++next) {
    Transaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    absl::Status s = Exec(kMigrations[next]);
    if (!s.ok()) return s;
    s = Exec(absl::StrCat("PRAGMA user_version=", next + 1).c_str());
    if (!s.ok()) return s;
    // A schema migration is no call's change (it also runs on a backup
    // being staged for restore, which must not take that call's record).
    s = txn.CommitWithoutHook();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::Error(absl::string_view what) {
  return StatusFromSqlite(sqlite3_errcode(db_), what, sqlite3_errmsg(db_));
}

absl::StatusOr<KeystoreMeta> SqliteStorage::ReadMeta() {
  absl::MutexLock lock(&mu_);
  Statement q(db_,
              "SELECT kdf_salt, scrypt_n, scrypt_r, scrypt_p, kek_check, "
              "wrapped_root_key FROM meta WHERE id = 1");
  if (!q.Step()) {
    absl::Status s = q.status("read the key hierarchy");
    if (!s.ok()) return s;
    return absl::NotFoundError(
        "the keystore has no key hierarchy; create it with `keywardd init`");
  }
  KeystoreMeta meta;
  meta.kdf_salt = q.Text(0);
  meta.scrypt_n = q.Int(1);
  meta.scrypt_r = q.Int(2);
  meta.scrypt_p = q.Int(3);
  meta.kek_check = q.Text(4);
  meta.wrapped_root_key = q.Text(5);
  return meta;
}

absl::Status SqliteStorage::InitMeta(const KeystoreMeta& meta) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  Statement q(db_,
              "INSERT INTO meta (id, kdf_salt, scrypt_n, scrypt_r, scrypt_p, "
              "kek_check, wrapped_root_key) VALUES (1, ?, ?, ?, ?, ?, ?)");
  q.BindBlob(1, meta.kdf_salt)
      .Bind(2, static_cast<int64_t>(meta.scrypt_n))
      .Bind(3, static_cast<int64_t>(meta.scrypt_r))
      .Bind(4, static_cast<int64_t>(meta.scrypt_p))
      .BindBlob(5, meta.kek_check)
      .BindBlob(6, meta.wrapped_root_key);
  absl::Status s = q.Run("write the key hierarchy");
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::Status SqliteStorage::ReplaceMeta(const std::string& expected_wrapped_root,
                                       const KeystoreMeta& next) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  Statement q(db_,
              "UPDATE meta SET kdf_salt = ?, scrypt_n = ?, scrypt_r = ?, "
              "scrypt_p = ?, kek_check = ?, wrapped_root_key = ? "
              "WHERE id = 1 AND wrapped_root_key = ?");
  q.BindBlob(1, next.kdf_salt)
      .Bind(2, static_cast<int64_t>(next.scrypt_n))
      .Bind(3, static_cast<int64_t>(next.scrypt_r))
      .Bind(4, static_cast<int64_t>(next.scrypt_p))
      .BindBlob(5, next.kek_check)
      .BindBlob(6, next.wrapped_root_key)
      .BindBlob(7, expected_wrapped_root);
  absl::Status s = q.Run("re-wrap the root key");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::AbortedError(
        "the passphrase was changed concurrently; try again");
  }
  return txn.Commit();
}

absl::Status SqliteStorage::WriteLabels(const KeyRecord& key) {
  absl::Status s = Statement(db_, "DELETE FROM key_labels WHERE key_id = ?")
                       .Bind(1, key.id)
                       .Run("write labels");
  if (!s.ok()) return s;
  for (const auto& [name, value] : key.labels) {
    s = Statement(db_,
                  "INSERT INTO key_labels (key_id, name, value) VALUES (?, ?, ?)")
            .Bind(1, key.id)
            .Bind(2, name)
            .Bind(3, value)
            .Run("write labels");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::InsertVersion(const VersionRecord& v) {
  return Statement(db_,
                   "INSERT INTO key_versions (key_id, version, state, "
                   "created_at_us, destroyed_at_us, wrapped_material, "
                   "public_key, imported, kid) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, v.key_id)
      .Bind(2, v.version)
      .Bind(3, static_cast<int64_t>(v.state))
      .Bind(4, ToMicros(v.created_at))
      .Bind(5, ToMicros(v.destroyed_at))
      .BindBlob(6, v.wrapped_material)
      .BindBlob(7, v.public_key)
      .Bind(8, v.imported ? 1 : 0)
      .Bind(9, v.kid)
      .Run("write a key version");
}

absl::Status SqliteStorage::CreateKey(const KeyRecord& key,
                                      const std::vector<VersionRecord>& versions) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  Statement q(db_,
              "INSERT INTO keys (id, type, purpose, description, exportable, "
              "public_only, primary_version, latest_version, "
              "min_decrypt_version, min_encrypt_version, rotation_period_s, "
              "jwt_max_ttl_s, created_at_us, rotated_at_us, jwe_algorithm) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  q.Bind(1, key.id)
      .Bind(2, crypto::KeyTypeName(key.type))
      .Bind(3, static_cast<int64_t>(key.purpose))
      .Bind(4, key.description)
      .Bind(5, key.exportable ? 1 : 0)
      .Bind(6, key.public_only ? 1 : 0)
      .Bind(7, key.primary_version)
      .Bind(8, key.latest_version)
      .Bind(9, key.min_decrypt_version)
      .Bind(10, key.min_encrypt_version)
      .Bind(11, absl::ToInt64Seconds(key.rotation_period))
      .Bind(12, absl::ToInt64Seconds(key.jwt_max_ttl))
      .Bind(13, ToMicros(key.created_at))
      .Bind(14, ToMicros(key.rotated_at))
      .Bind(15, key.jwe_algorithm);
  absl::Status s = q.Run("create a key");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a key named '", key.id, "' already exists; choose another name"));
  }
  if (!s.ok()) return s;
  s = WriteLabels(key);
  if (!s.ok()) return s;
  for (const VersionRecord& v : versions) {
    s = InsertVersion(v);
    if (!s.ok()) return s;
  }
  return txn.Commit({versions.empty() ? 0 : versions.back().version});
}

absl::Status SqliteStorage::AddVersion(const VersionRecord& version,
                                       bool make_primary) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  Statement q(db_,
              "UPDATE keys SET latest_version = ?1, "
              "primary_version = CASE WHEN ?2 THEN ?1 ELSE primary_version END, "
              "rotated_at_us = CASE WHEN ?2 THEN ?3 ELSE rotated_at_us END "
              "WHERE id = ?4 AND latest_version = ?1 - 1");
  q.Bind(1, version.version)
      .Bind(2, make_primary ? 1 : 0)
      .Bind(3, ToMicros(version.created_at))
      .Bind(4, version.key_id);
  absl::Status s = q.Run("add a key version");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    Statement exists(db_, "SELECT 1 FROM keys WHERE id = ?");
    exists.Bind(1, version.key_id);
    if (!exists.Step()) {
      s = exists.status("add a key version");
      if (!s.ok()) return s;
      return absl::NotFoundError(
          absl::StrCat("no key named '", version.key_id, "'"));
    }
    return absl::AbortedError(absl::StrCat(
        "key '", version.key_id, "' changed while version ", version.version,
        " was being added; try again"));
  }
  s = InsertVersion(version);
  if (!s.ok()) return s;
  return txn.Commit({version.version});
}

absl::Status SqliteStorage::ReadLabels(KeyRecord* key) {
  Statement q(db_, "SELECT name, value FROM key_labels WHERE key_id = ?");
  q.Bind(1, key->id);
  while (q.Step()) key->labels[q.Text(0)] = q.Text(1);
  return q.status("read labels");
}

namespace {
constexpr const char* kKeyColumns =
    "id, type, purpose, description, exportable, public_only, "
    "primary_version, latest_version, min_decrypt_version, "
    "min_encrypt_version, rotation_period_s, jwt_max_ttl_s, created_at_us, "
    "rotated_at_us, jwe_algorithm";
}  // namespace

absl::StatusOr<KeyRecord> SqliteStorage::ReadKeyRow(const Statement& q) {
  KeyRecord key;
  key.id = q.Text(0);
  if (std::optional<KeyType> parsed = KeyTypeFromName(q.Text(1))) {
    key.type = *parsed;
  } else {
    return absl::DataLossError(absl::StrCat(
        "key '", key.id, "' has an unknown type '", q.Text(1),
        "' in the keystore; run a newer keywardd or restore a backup"));
  }
  key.purpose = static_cast<KeyPurpose>(q.Int(2));
  key.description = q.Text(3);
  key.exportable = q.Int(4) != 0;
  key.public_only = q.Int(5) != 0;
  key.primary_version = q.Int(6);
  key.latest_version = q.Int(7);
  key.min_decrypt_version = q.Int(8);
  key.min_encrypt_version = q.Int(9);
  key.rotation_period = absl::Seconds(q.Int(10));
  key.jwt_max_ttl = absl::Seconds(q.Int(11));
  key.created_at = FromMicros(q.Int(12));
  key.rotated_at = FromMicros(q.Int(13));
  key.jwe_algorithm = q.Text(14);
  return key;
}

absl::StatusOr<KeyRecord> SqliteStorage::GetKey(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kKeyColumns,
                                " FROM keys WHERE id = ?").c_str());
  q.Bind(1, id);
  if (!q.Step()) {
    absl::Status s = q.status("read a key");
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("no key named '", id, "'"));
  }
  auto key = ReadKeyRow(q);
  if (!key.ok()) return key.status();
  absl::Status s = ReadLabels(&*key);
  if (!s.ok()) return s;
  return key;
}

absl::StatusOr<std::vector<KeyRecord>> SqliteStorage::ListKeys(
    const std::string& after, int limit) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kKeyColumns,
                                " FROM keys WHERE id > ? ORDER BY id LIMIT ?")
                       .c_str());
  q.Bind(1, after).Bind(2, limit);
  std::vector<KeyRecord> keys;
  while (q.Step()) {
    auto key = ReadKeyRow(q);
    if (!key.ok()) return key.status();
    keys.push_back(std::move(*key));
  }
  absl::Status s = q.status("list keys");
  if (!s.ok()) return s;
  for (KeyRecord& key : keys) {
    s = ReadLabels(&key);
    if (!s.ok()) return s;
  }
  return keys;
}

absl::Status SqliteStorage::UpdateKey(const KeyRecord& key) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  Statement q(db_,
              "UPDATE keys SET description = ?, primary_version = ?, "
              "min_decrypt_version = ?, min_encrypt_version = ?, "
              "rotation_period_s = ?, jwt_max_ttl_s = ? WHERE id = ?");
  q.Bind(1, key.description)
      .Bind(2, key.primary_version)
      .Bind(3, key.min_decrypt_version)
      .Bind(4, key.min_encrypt_version)
      .Bind(5, absl::ToInt64Seconds(key.rotation_period))
      .Bind(6, absl::ToInt64Seconds(key.jwt_max_ttl))
      .Bind(7, key.id);
  absl::Status s = q.Run("update a key");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no key named '", key.id, "'"));
  }
  s = WriteLabels(key);
  if (!s.ok()) return s;
  return txn.Commit();
}

namespace {
constexpr const char* kVersionColumns =
    "key_id, version, state, created_at_us, destroyed_at_us, "
    "wrapped_material, public_key, imported, kid";
}  // namespace

VersionRecord SqliteStorage::ReadVersionRow(const Statement& q) {
  VersionRecord v;
  v.key_id = q.Text(0);
  v.version = static_cast<int32_t>(q.Int(1));
  v.state = static_cast<VersionState>(q.Int(2));
  v.created_at = FromMicros(q.Int(3));
  v.destroyed_at = FromMicros(q.Int(4));
  v.wrapped_material = q.Text(5);
  v.public_key = q.Text(6);
  v.imported = q.Int(7) != 0;
  v.kid = q.Text(8);
  return v;
}

absl::StatusOr<VersionRecord> SqliteStorage::GetVersion(
    const std::string& key_id, int32_t version) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kVersionColumns,
                                " FROM key_versions WHERE key_id = ? AND "
                                "version = ?")
                       .c_str());
  q.Bind(1, key_id).Bind(2, version);
  if (!q.Step()) {
    absl::Status s = q.status("read a key version");
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("key '", key_id,
                                            "' has no version ", version));
  }
  return ReadVersionRow(q);
}

absl::StatusOr<VersionRecord> SqliteStorage::FindVersionByKid(
    const std::string& kid) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kVersionColumns,
                                " FROM key_versions WHERE kid = ? AND kid != ''")
                       .c_str());
  q.Bind(1, kid);
  if (!q.Step()) {
    absl::Status s = q.status("find a kid");
    if (!s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("no key version has kid '",
                                            absl::CHexEscape(kid), "'"));
  }
  return ReadVersionRow(q);
}

absl::StatusOr<std::vector<VersionRecord>> SqliteStorage::ListVersionKids() {
  absl::MutexLock lock(&mu_);
  Statement q(db_, "SELECT key_id, version, kid FROM key_versions "
                   "WHERE kid != '' ORDER BY key_id, version");
  std::vector<VersionRecord> out;
  while (q.Step()) {
    VersionRecord v;
    v.key_id = q.Text(0);
    v.version = static_cast<int32_t>(q.Int(1));
    v.kid = q.Text(2);
    out.push_back(std::move(v));
  }
  absl::Status s = q.status("list the versions' kids");
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<VersionRecord>> SqliteStorage::ListVersions(
    const std::string& key_id) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kVersionColumns,
                                " FROM key_versions WHERE key_id = ? "
                                "ORDER BY version")
                       .c_str());
  q.Bind(1, key_id);
  std::vector<VersionRecord> versions;
  while (q.Step()) {
    versions.push_back(ReadVersionRow(q));
  }
  absl::Status s = q.status("list key versions");
  if (!s.ok()) return s;
  return versions;
}

absl::Status SqliteStorage::SetVersionState(const std::string& key_id,
                                            int32_t version, VersionState state,
                                            absl::Time now) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  const bool destroy = state == VersionState::kDestroyed;
  Statement q(db_,
              "UPDATE key_versions SET state = ?1, "
              "wrapped_material = CASE WHEN ?2 THEN x'' ELSE wrapped_material END, "
              "destroyed_at_us = CASE WHEN ?2 THEN ?3 ELSE destroyed_at_us END "
              "WHERE key_id = ?4 AND version = ?5");
  q.Bind(1, static_cast<int64_t>(state))
      .Bind(2, destroy ? 1 : 0)
      .Bind(3, ToMicros(now))
      .Bind(4, key_id)
      .Bind(5, version);
  absl::Status s = q.Run("change a version's state");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("key '", key_id,
                                            "' has no version ", version));
  }
  return txn.Commit({version});
}

absl::StatusOr<int64_t> SqliteStorage::CountKeys() {
  absl::MutexLock lock(&mu_);
  Statement q(db_, "SELECT count(*) FROM keys");
  int64_t n = q.Step() ? q.Int(0) : 0;
  absl::Status s = q.status("count keys");
  if (!s.ok()) return s;
  return n;
}

absl::Status SqliteStorage::IntegrityCheck() {
  absl::MutexLock lock(&mu_);
  Statement q(db_, "PRAGMA integrity_check");
  std::string result;
  while (q.Step()) absl::StrAppend(&result, result.empty() ? "" : "; ", q.Text(0));
  absl::Status s = q.status("integrity check");
  if (!s.ok()) return s;
  if (result != "ok") {
    return absl::DataLossError(
        absl::StrCat("keystore integrity check failed: ", result));
  }
  return absl::OkStatus();
}

absl::Status SqliteStorage::CreatePolicy(const PolicyRecord& p) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_,
                "INSERT INTO policies (id, principal, resource, operations, "
                "description, created_by, created_at_us) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)")
          .Bind(1, p.id)
          .Bind(2, p.principal)
          .Bind(3, p.resource)
          .Bind(4, absl::StrJoin(p.operations, ","))
          .Bind(5, p.description)
          .Bind(6, p.created_by)
          .Bind(7, ToMicros(p.created_at))
          .Run("create a policy");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a policy named '", p.id, "' already exists; choose another name"));
  }
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::Status SqliteStorage::DeletePolicy(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s = Statement(db_, "DELETE FROM policies WHERE id = ?")
                       .Bind(1, id)
                       .Run("delete a policy");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no policy named '", id, "'"));
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<PolicyRecord>> SqliteStorage::ListPolicies() {
  absl::MutexLock lock(&mu_);
  Statement q(db_,
              "SELECT id, principal, resource, operations, description, "
              "created_by, created_at_us FROM policies ORDER BY id");
  std::vector<PolicyRecord> policies;
  while (q.Step()) {
    PolicyRecord p;
    p.id = q.Text(0);
    p.principal = q.Text(1);
    p.resource = q.Text(2);
    p.operations = absl::StrSplit(q.Text(3), ',', absl::SkipEmpty());
    p.description = q.Text(4);
    p.created_by = q.Text(5);
    p.created_at = FromMicros(q.Int(6));
    policies.push_back(std::move(p));
  }
  absl::Status s = q.status("list policies");
  if (!s.ok()) return s;
  return policies;
}

namespace {
constexpr const char* kApiKeyColumns =
    "id, description, secret_sha256, created_by, created_at_us, "
    "expire_at_us, revoked_at_us, last_login_at_us";
}  // namespace

absl::Status SqliteStorage::CreateApiKey(const ApiKeyRecord& k) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_, absl::StrCat("INSERT INTO api_keys (", kApiKeyColumns,
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                         .c_str())
          .Bind(1, k.id)
          .Bind(2, k.description)
          .BindBlob(3, k.secret_sha256)
          .Bind(4, k.created_by)
          .Bind(5, ToMicros(k.created_at))
          .Bind(6, ToMicros(k.expire_at))
          .Bind(7, ToMicros(k.revoked_at))
          .Bind(8, ToMicros(k.last_login_at))
          .Run("create an API key");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "an API key named '", k.id, "' exists or existed; ids are not reused"));
  }
  if (!s.ok()) return s;
  return txn.Commit();
}

absl::StatusOr<std::vector<ApiKeyRecord>> SqliteStorage::ListApiKeys() {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kApiKeyColumns,
                                " FROM api_keys ORDER BY id").c_str());
  std::vector<ApiKeyRecord> keys;
  while (q.Step()) {
    ApiKeyRecord k;
    k.id = q.Text(0);
    k.description = q.Text(1);
    k.secret_sha256 = q.Text(2);
    k.created_by = q.Text(3);
    k.created_at = FromMicros(q.Int(4));
    k.expire_at = FromMicros(q.Int(5));
    k.revoked_at = FromMicros(q.Int(6));
    k.last_login_at = FromMicros(q.Int(7));
    keys.push_back(std::move(k));
  }
  absl::Status s = q.status("list API keys");
  if (!s.ok()) return s;
  return keys;
}

absl::StatusOr<ApiKeyRecord> SqliteStorage::GetApiKey(const std::string& id) {
  auto all = ListApiKeys();
  if (!all.ok()) return all.status();
  for (ApiKeyRecord& k : *all) {
    if (k.id == id) return std::move(k);
  }
  return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
}

absl::Status SqliteStorage::RevokeApiKey(const std::string& id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_,
                "UPDATE api_keys SET revoked_at_us = min(revoked_at_us, ?) "
                "WHERE id = ?")
          .Bind(1, ToMicros(now))
          .Bind(2, id)
          .Run("revoke an API key");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
  }
  return txn.Commit();
}

absl::Status SqliteStorage::TouchApiKey(const std::string& id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_, "UPDATE api_keys SET last_login_at_us = ? WHERE id = ?")
          .Bind(1, ToMicros(now))
          .Bind(2, id)
          .Run("record a login");
  if (!s.ok()) return s;
  if (sqlite3_changes(db_) != 1) {
    return absl::NotFoundError(absl::StrCat("no API key named '", id, "'"));
  }
  return txn.Commit();
}

namespace {
constexpr const char* kTokenColumns =
    "jti, key_id, version, external_id, subject, claims_json, sealed_token, "
    "issued_by, issued_at_us, expire_at_us, purge_at_us, revoked_at_us, "
    "revoke_reason, revoked_by";
}  // namespace

absl::StatusOr<std::vector<std::string>> SqliteStorage::ListKeysDueForRotation(
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  // Only the few keys with a period are read, not every key.
  Statement q(db_,
              "SELECT id FROM keys WHERE rotation_period_s > 0 AND "
              "public_only = 0 AND rotated_at_us + rotation_period_s * 1000000 "
              "<= ? ORDER BY id");
  q.Bind(1, ToMicros(now));
  std::vector<std::string> ids;
  while (q.Step()) ids.push_back(q.Text(0));
  absl::Status s = q.status("list keys due for rotation");
  if (!s.ok()) return s;
  return ids;
}

absl::Status SqliteStorage::CreateTokenRecord(const TokenRecord& r) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_, absl::StrCat("INSERT INTO token_records (", kTokenColumns,
                                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                  "?, ?, ?)")
                         .c_str())
          .Bind(1, r.jti)
          .Bind(2, r.key_id)
          .Bind(3, r.version)
          .Bind(4, r.external_id)
          .Bind(5, r.subject)
          .Bind(6, r.claims_json)
          .BindBlob(7, r.sealed_token)
          .Bind(8, r.issued_by)
          .Bind(9, ToMicros(r.issued_at))
          .Bind(10, ToMicros(r.expire_at))
          .Bind(11, ToMicros(r.purge_at))
          .Bind(12, ToMicros(r.revoked_at))
          .Bind(13, r.revoke_reason)
          .Bind(14, r.revoked_by)
          .Run("record a token");
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(
        absl::StrCat("a token record with jti '", r.jti, "' exists"));
  }
  if (!s.ok()) return s;
  for (const auto& [name, value] : r.metadata) {
    s = Statement(db_,
                  "INSERT INTO token_metadata (jti, name, value) "
                  "VALUES (?, ?, ?)")
            .Bind(1, r.jti)
            .Bind(2, name)
            .Bind(3, value)
            .Run("record token metadata");
    if (!s.ok()) return s;
  }
  return txn.Commit({r.version});
}

absl::Status SqliteStorage::ReadTokenRows(Statement& q,
                                          std::vector<TokenRecord>* out) {
  while (q.Step()) {
    TokenRecord r;
    r.jti = q.Text(0);
    r.key_id = q.Text(1);
    r.version = static_cast<int32_t>(q.Int(2));
    r.external_id = q.Text(3);
    r.subject = q.Text(4);
    r.claims_json = q.Text(5);
    r.sealed_token = q.Text(6);
    r.issued_by = q.Text(7);
    r.issued_at = FromMicros(q.Int(8));
    r.expire_at = FromMicros(q.Int(9));
    r.purge_at = FromMicros(q.Int(10));
    r.revoked_at = FromMicros(q.Int(11));
    r.revoke_reason = q.Text(12);
    r.revoked_by = q.Text(13);
    out->push_back(std::move(r));
  }
  absl::Status s = q.status("read token records");
  if (!s.ok()) return s;
  for (TokenRecord& r : *out) {
    Statement m(db_, "SELECT name, value FROM token_metadata WHERE jti = ?");
    m.Bind(1, r.jti);
    while (m.Step()) r.metadata[m.Text(0)] = m.Text(1);
    s = m.status("read token metadata");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<TokenRecord> SqliteStorage::GetTokenRecord(
    const std::string& jti) {
  absl::MutexLock lock(&mu_);
  Statement q(db_, absl::StrCat("SELECT ", kTokenColumns,
                                " FROM token_records WHERE jti = ?")
                       .c_str());
  q.Bind(1, jti);
  std::vector<TokenRecord> rows;
  absl::Status s = ReadTokenRows(q, &rows);
  if (!s.ok()) return s;
  if (rows.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no token record for jti '", jti, "'"));
  }
  return std::move(rows.front());
}

absl::StatusOr<std::vector<TokenRecord>> SqliteStorage::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  constexpr int64_t kNever = INT64_MAX;
  std::string sql = absl::StrCat(
      "SELECT ", kTokenColumns,
      " FROM token_records WHERE (issued_at_us < ?1 OR (issued_at_us = ?1 AND "
      "jti < ?2)) AND (?3 = '' OR key_id = ?3) AND (?4 = '' OR external_id = "
      "?4)");
  switch (filter.state) {
    case TokenFilter::State::kAny:
      break;
    case TokenFilter::State::kActive:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us > ?5");
      break;
    case TokenFilter::State::kExpired:
      absl::StrAppend(&sql, " AND revoked_at_us = ", kNever,
                      " AND expire_at_us <= ?5");
      break;
    case TokenFilter::State::kRevoked:
      absl::StrAppend(&sql, " AND revoked_at_us != ", kNever);
      break;
  }
  absl::StrAppend(&sql, " ORDER BY issued_at_us DESC, jti DESC LIMIT ?6");
  absl::MutexLock lock(&mu_);
  Statement q(db_, sql.c_str());
  q.Bind(1, ToMicros(cursor.issued_at))
      .Bind(2, cursor.jti)
      .Bind(3, filter.key_id)
      .Bind(4, filter.external_id)
      .Bind(5, ToMicros(filter.now))
      .Bind(6, static_cast<int64_t>(limit));
  std::vector<TokenRecord> rows;
  absl::Status s = ReadTokenRows(q, &rows);
  if (!s.ok()) return s;
  return rows;
}

absl::StatusOr<TokenRecord> SqliteStorage::RevokeTokenRecord(
    const std::string& jti, absl::Time now, const std::string& reason,
    const std::string& revoked_by) {
  {
    absl::MutexLock lock(&mu_);
    Transaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    absl::Status s =
        Statement(db_,
                  "UPDATE token_records SET revoked_at_us = ?1, "
                  "revoke_reason = ?2, revoked_by = ?3 "
                  "WHERE jti = ?4 AND revoked_at_us = ?5")
            .Bind(1, ToMicros(now))
            .Bind(2, reason)
            .Bind(3, revoked_by)
            .Bind(4, jti)
            .Bind(5, INT64_MAX)
            .Run("revoke a token");
    if (!s.ok()) return s;
    // The record names the signing version, for the call's audit record;
    // no row: NOT_FOUND (and the hook is not run).
    Statement version(db_, "SELECT version FROM token_records WHERE jti = ?");
    version.Bind(1, jti);
    if (!version.Step()) {
      s = version.status("revoke a token");
      if (!s.ok()) return s;
      return absl::NotFoundError(
          absl::StrCat("no token record for jti '", jti, "'"));
    }
    s = txn.Commit({static_cast<int32_t>(version.Int(0))});
    if (!s.ok()) return s;
  }
  return GetTokenRecord(jti);
}

absl::StatusOr<int> SqliteStorage::PurgeTokenRecords(absl::Time now,
                                                     int limit) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  absl::Status s =
      Statement(db_,
                "DELETE FROM token_records WHERE jti IN (SELECT jti FROM "
                "token_records WHERE purge_at_us < ? LIMIT ?)")
          .Bind(1, ToMicros(now))
          .Bind(2, static_cast<int64_t>(limit))
          .Run("purge token records");
  if (!s.ok()) return s;
  const int purged = sqlite3_changes(db_);
  s = txn.Commit();
  if (!s.ok()) return s;
  return purged;
}

absl::Status SqliteStorage::ReplaceWith(const std::string& path) {
  absl::MutexLock lock(&mu_);
  absl::Status s = Statement(db_, "ATTACH DATABASE ? AS restored")
                       .Bind(1, path)
                       .Run("open the restored keystore");
  if (!s.ok()) return s;
  s = [&]() -> absl::Status {
    Statement version(db_, "PRAGMA restored.user_version");
    int64_t v = version.Step() ? version.Int(0) : -1;
    if (v != kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the restored keystore has schema version ", v, ", not ",
          kSchemaVersion, "; open it once with this keywardd to migrate it"));
    }
    // In creation order, which puts every parent table before its children.
    std::vector<std::string> tables;
    Statement list(db_,
                   "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                   "AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
    while (list.Step()) tables.push_back(list.Text(0));
    absl::Status listed = list.status("list tables");
    if (!listed.ok()) return listed;
    Transaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    // Children go first and come back last.
    absl::Status r = absl::OkStatus();
    for (auto t = tables.rbegin(); t != tables.rend(); ++t) {
      if (r.ok()) r = Exec(absl::StrCat("DELETE FROM main.", *t).c_str());
    }
    for (const std::string& t : tables) {
      if (r.ok()) {
        r = Exec(absl::StrCat("INSERT INTO main.", t, " SELECT * FROM restored.",
                              t).c_str());
      }
    }
    if (!r.ok()) return r;
    return txn.Commit();
  }();
  Statement(db_, "DETACH DATABASE restored").Run("close the restored keystore")
      .IgnoreError();
  return s;
}

absl::Status SqliteStorage::SnapshotTo(const std::string& path) {
  // Create the file first so that its mode is 0600 from the start.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat("'", path, "' exists"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot create '", path, "': ", strerror(errno)));
  }
  close(fd);
  unlink(path.c_str());  // VACUUM INTO wants to create it; the name is ours
  mode_t old_umask = umask(0077);
  absl::MutexLock lock(&mu_);
  absl::Status s = Statement(db_, "VACUUM INTO ?").Bind(1, path).Run("snapshot");
  umask(old_umask);
  if (!s.ok()) unlink(path.c_str());
  return s;
}

}  // namespace keyward::keystore
