// SqliteStorage: opening, the schema, transactions and the key hierarchy.
// Keys and versions are in sqlite_storage_keys.cc; policies, API keys and
// token records in sqlite_storage_access.cc; the change feed and leases in
// sqlite_storage_feed.cc and sqlite_storage_lease.cc; whole-store copies in
// sqlite_storage_copy.cc; plumbing in internal/sqlite.h.
#include "keystore/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "keystore/internal/sqlite.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/key_types.h"

namespace keyward::keystore {

using internal::FromMicros;
using internal::SqliteStatement;
using internal::SqliteTransaction;
using internal::StatusFromSqlite;
using internal::ToMicros;

namespace {
const int& kSchemaVersion = internal::kSqliteSchemaVersion;
}  // namespace

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
  auto read =
      internal::QueryInt(db_, "PRAGMA user_version", "read schema version");
  if (!read.ok()) return read.status();
  const int64_t version = *read;
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the keystore's schema (version ", version,
        ") is newer than this keywardd understands (", kSchemaVersion,
        "); run a newer keywardd"));
  }
  for (int64_t next = version; next < kSchemaVersion; ++next) {
    SqliteTransaction txn(db_);
    if (!txn.status().ok()) return txn.status();
    absl::Status s = Exec(internal::kSqliteMigrations[next]);
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

absl::Status SqliteStorage::Change(
    const std::function<absl::Status(CommitInfo*)>& body) {
  absl::MutexLock lock(&mu_);
  SqliteTransaction txn(db_);
  if (!txn.status().ok()) return txn.status();
  CommitInfo info;
  absl::Status s = body(&info);
  if (!s.ok()) return s;  // txn rolls back
  return txn.Commit(info);
}

absl::Status SqliteStorage::ChangedOneRow(const std::string& missing) {
  if (sqlite3_changes(db_) == 1) return absl::OkStatus();
  return absl::NotFoundError(missing);
}

absl::StatusOr<KeystoreMeta> SqliteStorage::ReadMeta() {
  absl::MutexLock lock(&mu_);
  return ReadMetaLocked();
}

absl::StatusOr<KeystoreMeta> SqliteStorage::ReadMetaLocked() {
  SqliteStatement q(db_,
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

namespace {
// BindMeta binds the key hierarchy's columns as parameters 1 to 6, in
// kdf_salt, scrypt_n, scrypt_r, scrypt_p, kek_check, wrapped_root_key order.
SqliteStatement& BindMeta(SqliteStatement& q, const KeystoreMeta& meta) {
  return q.BindBlob(1, meta.kdf_salt)
      .Bind(2, static_cast<int64_t>(meta.scrypt_n))
      .Bind(3, static_cast<int64_t>(meta.scrypt_r))
      .Bind(4, static_cast<int64_t>(meta.scrypt_p))
      .BindBlob(5, meta.kek_check)
      .BindBlob(6, meta.wrapped_root_key);
}
}  // namespace

absl::Status SqliteStorage::InitMeta(const KeystoreMeta& meta) {
  return Change([&](CommitInfo*) { return InsertMeta(meta); });
}

absl::Status SqliteStorage::InsertMeta(const KeystoreMeta& meta) {
  SqliteStatement q(db_,
                    "INSERT INTO meta (id, kdf_salt, scrypt_n, scrypt_r, "
                    "scrypt_p, kek_check, wrapped_root_key) "
                    "VALUES (1, ?, ?, ?, ?, ?, ?)");
  return BindMeta(q, meta).Run("write the key hierarchy");
}

absl::Status SqliteStorage::ReplaceMeta(
    const std::string& expected_wrapped_root, const KeystoreMeta& next) {
  return Change([&](CommitInfo*) -> absl::Status {
    SqliteStatement q(db_,
                      "UPDATE meta SET kdf_salt = ?, scrypt_n = ?, "
                      "scrypt_r = ?, scrypt_p = ?, kek_check = ?, "
                      "wrapped_root_key = ? "
                      "WHERE id = 1 AND wrapped_root_key = ?");
    absl::Status s = BindMeta(q, next)
                         .BindBlob(7, expected_wrapped_root)
                         .Run("re-wrap the root key");
    if (!s.ok()) return s;
    if (sqlite3_changes(db_) != 1) {
      return absl::AbortedError(
          "the passphrase was changed concurrently; try again");
    }
    return absl::OkStatus();
  });
}

}  // namespace keyward::keystore
