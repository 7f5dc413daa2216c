// PostgresStorage: Storage (storage.h) on a PostgreSQL database, so that
// several keywardd replicas can share one keystore. The rows are the same
// envelope-encrypted records as SqliteStorage's, in the same tables
// (keystore/FORMAT.md, "PostgreSQL schema"). keywardd uses it when its config
// sets storage.postgres (Keystore's StorageSpec); several replicas on one
// database follow its change feed (storage.h; NOTIFY keyward_changes wakes
// WaitForChange).
//
// - Connections: libpq, a pool of `pool_size` connections (a thread borrows
//   one per call, waiting if all are busy). A lost connection is dropped and
//   replaced on a later call (with a short backoff after a failed connect):
//   a PostgreSQL restart fails the calls in flight with UNAVAILABLE and
//   nothing after it; the storage never needs reopening.
// - Schema: created or migrated at Open in one transaction that holds
//   pg_advisory_xact_lock(kSchemaLock), so several daemons may start at once
//   on an empty database. A `keyward_schema` row holds the version; a
//   database newer than this build is refused (FAILED_PRECONDITION).
// - Transactions: every change is BEGIN ... RunCommitHook ... COMMIT on one
//   connection (READ COMMITTED; conditional writes are single conditional
//   UPDATEs, which PostgreSQL re-checks against the latest row after waiting
//   for its lock, so a lost race is ABORTED, never a lost update). Reads are
//   single statements (one snapshot each), or REPEATABLE READ READ ONLY
//   transactions where several statements must share one snapshot
//   (GetKeyWithVersions, ExportRecords). Values are always parameters.
// - Errors: the SQLSTATE mapping of internal/pq.h (unique violation ->
//   ALREADY_EXISTS, serialization failure or deadlock -> ABORTED, lost
//   connection -> UNAVAILABLE, ...). No message holds the password.
// - Whole-store copies: ExportRecords/ReplaceAll (the logical records that
//   backups and `keywardd migrate` carry).
// - Build flavors: libpq links OpenSSL 3, so PostgresStorage exists in the
//   default flavor only; in the BoringSSL flavor Open returns
//   FAILED_PRECONDITION and Available() is false.
//
// Thread-safe.
#ifndef KEYWARD_KEYSTORE_POSTGRES_STORAGE_H_
#define KEYWARD_KEYSTORE_POSTGRES_STORAGE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/commit_hook.h"
#include "keystore/storage.h"

namespace keyward::keystore {

namespace internal {
class PqListener;
class PqPool;
class PqSession;
}  // namespace internal

// PostgresOptions: where the database is and how to log in.
struct PostgresOptions {
  // A libpq connection string ("host=/run/postgresql dbname=keyward
  // user=keyward", or a postgresql:// URI), without a password: one in it
  // is refused (INVALID_ARGUMENT).
  std::string dsn;
  // A file holding the password (one line; a trailing newline is dropped),
  // read once at Open; it must not be accessible to group or others
  // (FAILED_PRECONDITION otherwise). Empty: no password (peer or trust
  // authentication, or libpq's own ~/.pgpass).
  std::string password_file;
  // Connections in the pool, 1 to 64.
  int pool_size = 4;
  // How long one connection attempt may take (at least 1 s; libpq rounds 1
  // up to 2).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Deadlines every connection sets for its session (zero: the server's
  // setting), so that no call waits forever: a statement running past
  // statement_timeout, or waiting for another transaction's lock past
  // lock_timeout, fails with UNAVAILABLE (storage.h: "busy past the
  // timeout"), nothing changed; the server ends a session idle inside a
  // transaction past idle_in_transaction_session_timeout (its holder
  // paused), releasing its locks.
  absl::Duration statement_timeout = absl::ZeroDuration();
  absl::Duration lock_timeout = absl::ZeroDuration();
  absl::Duration idle_in_transaction_session_timeout = absl::ZeroDuration();
};

// Not `final`: in the BoringSSL flavor only Open and Available are defined
// (postgres_storage_unavailable.cc), and a final class would have its
// destructor called directly, by name, wherever a unique_ptr to it dies.
class PostgresStorage : public Storage {
 public:
  // Available is false in a build without libpq (the BoringSSL flavor).
  static bool Available();

  // Open connects (UNAVAILABLE if the server cannot be reached or refuses
  // the login; INVALID_ARGUMENT for a bad dsn or pool size;
  // FAILED_PRECONDITION for a password file with group/other access or a
  // schema newer than this build, or in a build without PostgreSQL), then
  // creates or migrates the schema.
  static absl::StatusOr<std::unique_ptr<PostgresStorage>> Open(
      const PostgresOptions& options);
  ~PostgresStorage() override;

  // Every Storage method (storage.h has their contracts).
  KEYWARD_STORAGE_OVERRIDES
  void WaitForChange(absl::Duration timeout) override;

  // The schema version this build writes (the same numbering as SQLite's).
  static constexpr int kSchemaVersion = 8;
  // The advisory lock key that serializes schema set-up across processes.
  static constexpr int64_t kSchemaLock = 0x6b65797761726431;  // "keyward1"

 private:
  explicit PostgresStorage(std::unique_ptr<internal::PqPool> pool);
  absl::Status Migrate();
  // Change runs `body` in a transaction on one connection, then the commit
  // hook with `info` as body left it, then COMMIT (storage.h's rule).
  absl::Status Change(
      const std::function<absl::Status(internal::PqSession&, CommitInfo*)>&
          body);
  // Read runs `body` on one connection, outside any explicit transaction.
  absl::Status Read(const std::function<absl::Status(internal::PqSession&)>& body);
  // DeleteBatch runs `sql`, a DELETE of at most $2 rows older than $1, in
  // Change, and returns how many rows it deleted (PruneChanges,
  // PurgeTokenRecords).
  absl::StatusOr<int> DeleteBatch(const char* sql, absl::Time before, int limit,
                                  absl::string_view what);
  // ReadList runs `select`, which appends what it reads to its vector, as
  // Read does (the vector emptied before each try), and returns the vector.
  template <typename T>
  absl::StatusOr<std::vector<T>> ReadList(
      const std::function<absl::Status(internal::PqSession&, std::vector<T>*)>&
          select) {
    std::vector<T> out;
    absl::Status s = Read([&](internal::PqSession& q) {
      out.clear();
      return select(q, &out);
    });
    if (!s.ok()) return s;
    return out;
  }
  // Snapshot runs `body` in a REPEATABLE READ, READ ONLY transaction: all
  // of its statements read one snapshot.
  absl::Status Snapshot(
      const std::function<absl::Status(internal::PqSession&)>& body);

  const std::unique_ptr<internal::PqPool> pool_;
  // WaitForChange's LISTEN connection (postgres_storage_feed.cc), opened on
  // first use and reopened after a failure; null while there is none.
  std::unique_ptr<internal::PqListener> listener_;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_POSTGRES_STORAGE_H_
