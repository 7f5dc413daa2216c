// Storage: where the keystore's records live. The product uses SqliteStorage
// (sqlite_storage.h); tests wrap it to inject faults (leveldb's Env idea).
//
// Every method that changes rows does so in one transaction: it commits all
// of its rows or none. Inside that transaction, after its last statement and
// before COMMIT, it runs the calling thread's commit hook (commit_hook.h;
// the daemon's audit record of the call) and rolls back if the hook fails,
// returning the hook's status. A method that returns OK for a change has
// made it durable (SQLite WAL, synchronous=FULL). Implementations are
// thread-safe.
//
// Errors: NOT_FOUND for a missing key or version, ALREADY_EXISTS for a key id
// in use, ABORTED when a conditional update lost a race (the caller may
// retry), UNAVAILABLE when the database is busy or cannot be written,
// DATA_LOSS when a stored row cannot be decoded.
#ifndef KEYWARD_KEYSTORE_STORAGE_H_
#define KEYWARD_KEYSTORE_STORAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "keystore/records.h"

namespace keyward::keystore {

class Storage {
 public:
  virtual ~Storage() = default;

  // ReadMeta returns the hierarchy's row; NOT_FOUND if the keystore has not
  // been initialized.
  virtual absl::StatusOr<KeystoreMeta> ReadMeta() = 0;
  // InitMeta writes the hierarchy's row of a new keystore; ALREADY_EXISTS if
  // one is there.
  virtual absl::Status InitMeta(const KeystoreMeta& meta) = 0;
  // ReplaceMeta swaps the row for `next` only if the stored one still has
  // `expected_wrapped_root` (ABORTED otherwise): a passphrase change.
  virtual absl::Status ReplaceMeta(const std::string& expected_wrapped_root,
                                   const KeystoreMeta& next) = 0;

  // CreateKey inserts `key` and its first version(s) in one transaction.
  virtual absl::Status CreateKey(const KeyRecord& key,
                                 const std::vector<VersionRecord>& versions) = 0;
  // AddVersion inserts `version` (version == key's latest + 1, ABORTED
  // otherwise) and, if `make_primary`, makes it the primary and sets the
  // key's rotated_at to `version.created_at`, in one transaction.
  virtual absl::Status AddVersion(const VersionRecord& version,
                                  bool make_primary) = 0;
  virtual absl::StatusOr<KeyRecord> GetKey(const std::string& id) = 0;
  // ListKeys returns up to `limit` keys with ids > `after`, in id order.
  virtual absl::StatusOr<std::vector<KeyRecord>> ListKeys(
      const std::string& after, int limit) = 0;
  // UpdateKey rewrites the mutable fields of `key` (description, labels,
  // min versions, rotation period, JWT max TTL, primary version).
  virtual absl::Status UpdateKey(const KeyRecord& key) = 0;
  virtual absl::StatusOr<VersionRecord> GetVersion(const std::string& key_id,
                                                   int32_t version) = 0;
  virtual absl::StatusOr<std::vector<VersionRecord>> ListVersions(
      const std::string& key_id) = 0;
  // FindVersionByKid returns the version whose own kid (VersionRecord::kid)
  // is `kid`; NOT_FOUND if none.
  virtual absl::StatusOr<VersionRecord> FindVersionByKid(
      const std::string& kid) = 0;
  // ListVersionKids returns every version that has its own kid, with only
  // key_id, version and kid set.
  virtual absl::StatusOr<std::vector<VersionRecord>> ListVersionKids() = 0;
  // SetVersionState changes a version's state; moving to kDestroyed also
  // empties its wrapped material and sets destroyed_at, in one statement.
  virtual absl::Status SetVersionState(const std::string& key_id,
                                       int32_t version, VersionState state,
                                       absl::Time now) = 0;
  virtual absl::StatusOr<int64_t> CountKeys() = 0;
  // ListKeysDueForRotation returns the ids of keys with a rotation period
  // whose primary is at least that old at `now` (not public-only ones).
  virtual absl::StatusOr<std::vector<std::string>> ListKeysDueForRotation(
      absl::Time now) = 0;

  // Policies. CreatePolicy: ALREADY_EXISTS for an id in use. DeletePolicy:
  // NOT_FOUND if absent. ListPolicies returns all, in id order.
  virtual absl::Status CreatePolicy(const PolicyRecord& policy) = 0;
  virtual absl::Status DeletePolicy(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() = 0;

  // API keys. CreateApiKey: ALREADY_EXISTS for an id ever used. GetApiKey:
  // NOT_FOUND. RevokeApiKey sets revoked_at (NOT_FOUND if absent; a second
  // revoke keeps the first time). TouchApiKey records a login.
  virtual absl::Status CreateApiKey(const ApiKeyRecord& key) = 0;
  virtual absl::StatusOr<ApiKeyRecord> GetApiKey(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() = 0;
  virtual absl::Status RevokeApiKey(const std::string& id, absl::Time now) = 0;
  virtual absl::Status TouchApiKey(const std::string& id, absl::Time now) = 0;

  // Token records. CreateTokenRecord: ALREADY_EXISTS for a jti in use.
  // GetTokenRecord: NOT_FOUND. ListTokenRecords returns up to `limit`
  // records matching `filter` after `cursor`, newest first. RevokeTokenRecord
  // sets revoked_at/reason/by unless already revoked (the first revocation
  // is kept) and returns the record; NOT_FOUND if absent. PurgeTokenRecords
  // deletes up to `limit` records whose purge_at has passed, returning how
  // many it deleted.
  virtual absl::Status CreateTokenRecord(const TokenRecord& record) = 0;
  virtual absl::StatusOr<TokenRecord> GetTokenRecord(const std::string& jti) = 0;
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokenRecords(
      const TokenFilter& filter, const TokenCursor& cursor, int limit) = 0;
  virtual absl::StatusOr<TokenRecord> RevokeTokenRecord(
      const std::string& jti, absl::Time now, const std::string& reason,
      const std::string& revoked_by) = 0;
  virtual absl::StatusOr<int> PurgeTokenRecords(absl::Time now, int limit) = 0;

  // ReplaceWith replaces every row of the store with those of the keystore
  // file at `path` (same schema version: FAILED_PRECONDITION otherwise), in
  // one transaction: readers see the old store or the new one, never a mix.
  virtual absl::Status ReplaceWith(const std::string& path) = 0;

  // SnapshotTo writes a consistent copy of the whole store to the new file
  // `path` (mode 0600). ALREADY_EXISTS if `path` exists.
  virtual absl::Status SnapshotTo(const std::string& path) = 0;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_STORAGE_H_
