// SqliteStorage: the product's Storage, one SQLite file (schema in
// keystore/FORMAT.md). WAL journal, synchronous=FULL (a change that returned
// OK survives power loss), a busy timeout, prepared statements only, one
// transaction per multi-row change, versioned migrations (PRAGMA
// user_version). The file is created 0600; an existing file readable or
// writable by group or others is refused.
#ifndef KEYWARD_KEYSTORE_SQLITE_STORAGE_H_
#define KEYWARD_KEYSTORE_SQLITE_STORAGE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "keystore/commit_hook.h"
#include "keystore/storage.h"

struct sqlite3;

namespace keyward::keystore {

namespace internal {
class SqliteStatement;
}  // namespace internal

class SqliteStorage final : public Storage {
 public:
  enum class Mode { kOpenExisting, kCreateNew };

  // Open opens (kOpenExisting: NOT_FOUND if the file is missing) or creates
  // (kCreateNew: ALREADY_EXISTS if the file exists) the keystore at `path`
  // and brings its schema up to date. FAILED_PRECONDITION for a file with
  // group/other permission bits, naming the chmod that fixes it, or a schema
  // newer than this build knows.
  static absl::StatusOr<std::unique_ptr<SqliteStorage>> Open(
      const std::string& path, Mode mode);
  ~SqliteStorage() override;

  // Every Storage method (storage.h has their contracts).
  KEYWARD_STORAGE_OVERRIDES

  // IntegrityCheck runs PRAGMA integrity_check: OK, or DATA_LOSS with what
  // SQLite reported.
  absl::Status IntegrityCheck();

 private:
  using Statement = internal::SqliteStatement;

  explicit SqliteStorage(sqlite3* db) : db_(db) {}
  static absl::StatusOr<KeyRecord> ReadKeyRow(const Statement& q);
  static VersionRecord ReadVersionRow(const Statement& q);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Change runs `body` under mu_ in a write transaction (BEGIN IMMEDIATE,
  // this thread's lease fence checked), then commits with the CommitInfo
  // `body` left, running the commit hook first (storage.h's rule). An error
  // from any step rolls the transaction back and is returned.
  absl::Status Change(const std::function<absl::Status(CommitInfo*)>& body);
  // DeleteBatch runs `sql`, a DELETE of at most ?2 rows older than ?1, in
  // Change, and returns how many rows it deleted (PruneChanges,
  // PurgeTokenRecords).
  absl::StatusOr<int> DeleteBatch(const char* sql, absl::Time before, int limit,
                                  absl::string_view what);
  // SetApiKeyTime: RevokeApiKey's and TouchApiKey's one-row UPDATE, `sql`
  // with the time as ?1 and the id as ?2, in Change; NOT_FOUND for no such
  // key; in the change feed if `to_feed`.
  absl::Status SetApiKeyTime(const char* sql, const std::string& id,
                             absl::Time now, absl::string_view what,
                             bool to_feed);
  // ChangedOneRow: OK if the statement just run changed exactly one row,
  // otherwise NOT_FOUND with `missing` as its message.
  absl::Status ChangedOneRow(const std::string& missing)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Row writers, inside a transaction the caller holds.
  absl::Status InsertMeta(const KeystoreMeta& meta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertKey(const KeyRecord& key, int64_t revision,
                         const std::vector<VersionRecord>& versions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLabels(const KeyRecord& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertVersion(const VersionRecord& version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertPolicy(const PolicyRecord& policy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertApiKey(const ApiKeyRecord& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertToken(const TokenRecord& record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Row readers, on the connection as it is (inside a read transaction for
  // one snapshot).
  absl::StatusOr<KeystoreMeta> ReadMetaLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadKey(const std::string& id, KeyRecord* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadLabels(KeyRecord* key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReadKeyRevision: key `id`'s revision; NOT_FOUND if there is no such key
  // (after a conditional write on it matched nothing).
  absl::StatusOr<int64_t> ReadKeyRevision(const std::string& id,
                                          absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadVersions(const std::string& key_id,
                            std::vector<VersionRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadKeyWithVersions(const std::string& id, KeyWithVersions* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadAllKeys(std::vector<KeyWithVersions>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<PolicyRecord>> ListPoliciesLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeysLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadAllTokens(std::vector<TokenRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadTokenRows(Statement& q, std::vector<TokenRecord>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReadChangeHead: the change feed's head (its last seq; 0 if none).
  absl::StatusOr<int64_t> ReadChangeHead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AppendChange writes the feed's next row inside the write transaction
  // the caller holds (SQLite has one writer at a time: gap-free).
  absl::Status AppendChange(ChangeKind kind, const std::string& subject)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_SQLITE_STORAGE_H_
