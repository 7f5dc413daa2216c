// SQLite plumbing shared by SqliteStorage's files (sqlite_storage*.cc):
// prepared statements, transactions that run the commit hook, the time
// encoding and the error mapping. Internal to //keystore.
#ifndef KEYWARD_KEYSTORE_INTERNAL_SQLITE_H_
#define KEYWARD_KEYSTORE_INTERNAL_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/commit_hook.h"
#include "keystore/records.h"

namespace keyward::keystore::internal {

// The schema's migrations (internal/sqlite_schema.cc): applied in order;
// PRAGMA user_version is the number applied. Never edit one that has
// shipped: add the next.
extern const char* const kSqliteMigrations[];
extern const int kSqliteSchemaVersion;

// Times are microseconds since the epoch; INT64_MAX stands for "never".
inline int64_t ToMicros(absl::Time t) {
  return t == absl::InfiniteFuture() ? INT64_MAX : absl::ToUnixMicros(t);
}
inline absl::Time FromMicros(int64_t us) {
  return us == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixMicros(us);
}

// StatusFromSqlite maps a SQLite result code to the Storage contract's
// codes (storage.h): busy/locked -> UNAVAILABLE, corruption -> DATA_LOSS,
// a constraint -> ALREADY_EXISTS, anything else -> UNAVAILABLE.
inline absl::Status StatusFromSqlite(int rc, absl::string_view what,
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

// SqliteStatement owns one prepared statement. Columns and parameters are
// 1-based for Bind and 0-based for columns, as in SQLite.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& Bind(int i, int64_t v) {
    Check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  SqliteStatement& Bind(int i, absl::string_view text) {
    Check(sqlite3_bind_text(stmt_, i, text.data(), text.size(),
                            SQLITE_TRANSIENT));
    return *this;
  }
  SqliteStatement& BindBlob(int i, absl::string_view blob) {
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

// QueryInt runs `sql` (no parameters) and returns the first column of its
// first row, or 0 when there is no row.
inline absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql,
                                        absl::string_view what) {
  SqliteStatement q(db, sql);
  const int64_t value = q.Step() ? q.Int(0) : 0;
  absl::Status s = q.status(what);
  if (!s.ok()) return s;
  return value;
}

// ReadRows steps `q` to its end, appending row(q) for each row to `out`,
// and returns the statement's status (`what` names the step).
template <typename T, typename RowFn>
absl::Status ReadRows(SqliteStatement& q, absl::string_view what,
                      std::vector<T>* out, RowFn row) {
  while (q.Step()) out->push_back(row(q));
  return q.status(what);
}

// SqliteTransaction: BEGIN now, ROLLBACK unless Commit() succeeded.
// Commit runs the thread's commit hook (commit_hook.h) first: a change and
// the daemon's audit record of it are made together or not at all.
class SqliteTransaction {
 public:
  // kWrite takes the write lock now (BEGIN IMMEDIATE) and then checks this
  // thread's lease fence (commit_hook.h; the write lock keeps the lease
  // row as checked until COMMIT); kUnfencedWrite does not (taking a lease);
  // kRead is a read transaction (BEGIN): in WAL mode its first read fixes
  // one snapshot that every later read of the transaction sees, whatever
  // other connections commit meanwhile.
  enum class Kind { kWrite, kUnfencedWrite, kRead };
  explicit SqliteTransaction(sqlite3* db, Kind kind = Kind::kWrite) : db_(db) {
    status_ = SqliteStatement(db, kind == Kind::kRead ? "BEGIN"
                                                      : "BEGIN IMMEDIATE")
                  .Run("begin transaction");
    begun_ = status_.ok();
    if (begun_ && kind == Kind::kWrite) status_ = CheckLeaseFence();
  }
  ~SqliteTransaction() {
    if (begun_ && !committed_) {
      SqliteStatement(db_, "ROLLBACK").Run("rollback").IgnoreError();
    }
  }
  const absl::Status& status() const { return status_; }
  // CommitWithoutHook commits housekeeping that is no call's change.
  absl::Status CommitWithoutHook() {
    absl::Status s = SqliteStatement(db_, "COMMIT").Run("commit");
    committed_ = s.ok();
    return s;
  }
  absl::Status Commit(const CommitInfo& info = {}) {
    absl::Status s = RunCommitHook(info);
    if (!s.ok()) return s;
    s = SqliteStatement(db_, "COMMIT").Run("commit");
    committed_ = s.ok();
    NoteCommitOutcome(committed_);
    return s;
  }

 private:
  absl::Status CheckLeaseFence() {
    const LeaseFence* fence = CurrentLeaseFence();
    if (fence == nullptr) return absl::OkStatus();
    SqliteStatement q(db_,
                      "SELECT 1 FROM leases WHERE name = ? AND holder = ? AND "
                      "epoch = ? AND expires_at_us > ?");
    q.Bind(1, fence->name)
        .Bind(2, fence->holder)
        .Bind(3, fence->epoch)
        .Bind(4, absl::ToUnixMicros(absl::Now()));
    const bool held = q.Step();
    absl::Status s = q.status("check the lease fence");
    if (!s.ok()) return s;
    return held ? absl::OkStatus() : LeaseLostError(*fence);
  }

  sqlite3* db_;
  absl::Status status_;
  bool begun_ = false;
  bool committed_ = false;
};

}  // namespace keyward::keystore::internal

#endif  // KEYWARD_KEYSTORE_INTERNAL_SQLITE_H_
