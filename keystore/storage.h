// Storage: where the keystore's records live, and the contract every backend
// keeps. The product uses SqliteStorage (sqlite_storage.h); PostgresStorage
// (postgres_storage.h) is the second backend; tests wrap either to inject
// faults (leveldb's Env idea). keystore/storage_conformance_test.cc checks
// every rule below against every backend: a new backend is done when it
// passes that suite.
//
// Thread safety: every method may be called from any thread, concurrently.
// Several Storage objects (threads, processes, replicas) may share one
// database; the rules below hold across them.
//
// Transactions and the commit hook: every method that changes rows does so in
// one transaction, which commits all of its rows or none; no reader (in this
// process or another) ever sees part of a change. Inside that transaction,
// after its last statement and before COMMIT, it runs the calling thread's
// commit hook, RunCommitHook(info) (commit_hook.h; the daemon's audit record
// of the call), and rolls back if the hook fails, returning the hook's
// status unchanged. After every COMMIT attempt that followed a successful
// RunCommitHook it calls NoteCommitOutcome(committed). A change refused
// before COMMIT (NOT_FOUND, ALREADY_EXISTS, ABORTED, ...) does not run the
// hook. `info.version` is the key version made or changed, 0 otherwise.
//
// Durability: a change that returned OK is durable (SQLite: WAL with
// synchronous=FULL; PostgreSQL: a synchronous COMMIT) and visible to every
// later read through any Storage on the same database.
//
// Errors, the same in every backend:
//   NOT_FOUND            a missing row named by the call (key, version,
//                        policy, API key, token record, the meta row).
//   ALREADY_EXISTS       a unique name in use: key id, policy id, API key id
//                        (ever used), jti, a version's kid, the meta row.
//   ABORTED              a conditional write lost (AddVersion, ReplaceMeta,
//                        UpdateKey's revision, SetVersionState's expected
//                        state), or the database refused the transaction
//                        as a serialization failure or deadlock. Nothing
//                        was changed; the caller may re-read and retry.
//   UNAVAILABLE          the database cannot be reached (connection lost or
//                        refused), is busy past the timeout, or cannot be
//                        written (disk full, read-only). Nothing was changed,
//                        except that a failure at COMMIT itself may leave the
//                        change made or not (the hook's NoteCommitOutcome
//                        says it was not acknowledged). Later calls work
//                        again once the database is back, without reopening.
//   DATA_LOSS            a stored row cannot be decoded (unknown key type),
//                        or the database reports corruption.
//   INVALID_ARGUMENT     a value the database cannot hold (PostgreSQL: text
//                        that is not UTF-8 or holds a NUL byte; keep ids,
//                        names, labels and kids to UTF-8 without NUL), or a
//                        ReplaceAll record set that is not a keystore.
//   INTERNAL             anything else the database reports (a bug).
// Messages name what was missing or in conflict and never hold a secret
// (wrapped material, a password, a token).
//
// Values: times are kept to the microsecond (sub-microsecond parts are
// truncated); absl::InfiniteFuture() means "never" and round-trips exactly
// (records.h). Durations (rotation period, JWT TTLs) are kept to the
// second. Blobs (wrapped material, public keys, hashes, sealed tokens) are
// bytes and round-trip exactly, empty included. Ordering by a text id is by
// its bytes (memcmp), whatever the database's locale.
#ifndef KEYWARD_KEYSTORE_STORAGE_H_
#define KEYWARD_KEYSTORE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "keystore/records.h"

namespace keyward::keystore {

// The change feed (see Storage, "The change feed"): what kind of record a
// change touched. Values are stored: never renumber.
enum class ChangeKind : int {
  kKey = 1,      // a key or one of its versions (subject: the key id)
  kPolicy = 2,   // a policy created or deleted (subject: the policy id)
  kApiKey = 3,   // an API key created or revoked (subject: its id)
  kToken = 4,    // a token record revoked (subject: the jti)
  kStore = 5,    // the whole store replaced (ReplaceAll; subject empty)
};

// ChangeRecord is one row of the change feed.
struct ChangeRecord {
  int64_t seq = 0;  // 1, 2, 3, ... in commit order, no gaps
  ChangeKind kind = ChangeKind::kKey;
  std::string subject;
  absl::Time at = absl::UnixEpoch();  // when it was written (the writer's clock)
};

// LeaseRecord is one row of `leases`: who holds the lease `name`, in which
// epoch, until when (the database's clock).
struct LeaseRecord {
  std::string name;
  std::string holder;
  int64_t epoch = 0;  // 1, 2, ...: bumped each time the lease is taken
  absl::Time expires = absl::UnixEpoch();
};

class Storage {
 public:
  virtual ~Storage() = default;

  // --- The key hierarchy (one meta row) -----------------------------------

  // ReadMeta returns the hierarchy's row; NOT_FOUND if the keystore has not
  // been initialized.
  virtual absl::StatusOr<KeystoreMeta> ReadMeta() = 0;
  // InitMeta writes the hierarchy's row of a new keystore; ALREADY_EXISTS if
  // one is there (the stored row is left as it was).
  virtual absl::Status InitMeta(const KeystoreMeta& meta) = 0;
  // ReplaceMeta swaps the row for `next` only if the stored one still has
  // `expected_wrapped_root`: a passphrase change, compare-and-swap. ABORTED
  // if the stored root differs or there is no row; of two concurrent
  // replacements from the same expected root, exactly one succeeds.
  virtual absl::Status ReplaceMeta(const std::string& expected_wrapped_root,
                                   const KeystoreMeta& next) = 0;

  // --- Keys and versions ---------------------------------------------------

  // CreateKey inserts `key` (with its labels) and its first version(s) in
  // one transaction. ALREADY_EXISTS if the id is in use or a version's kid
  // is; nothing is written then. Hook info: the last version's number.
  virtual absl::Status CreateKey(const KeyRecord& key,
                                 const std::vector<VersionRecord>& versions) = 0;
  // AddVersion inserts `version` and sets the key's latest_version to it
  // and, if `make_primary`, its primary_version to it and rotated_at to
  // `version.created_at`, and bumps the key's revision, in one transaction.
  // It is the only call that moves primary_version. Conditional: version.version
  // must be the key's latest_version + 1, else ABORTED (a concurrent
  // rotation won; of two concurrent adds of the same number exactly one
  // succeeds). NOT_FOUND if the key does not exist; ALREADY_EXISTS if the
  // version's kid is in use. Hook info: the new version.
  virtual absl::Status AddVersion(const VersionRecord& version,
                                  bool make_primary) = 0;
  // GetKey returns the key with its labels; NOT_FOUND if absent.
  virtual absl::StatusOr<KeyRecord> GetKey(const std::string& id) = 0;
  // ListKeys returns up to `limit` (> 0) keys, with labels, whose ids are
  // greater than `after` (empty: from the start), in id order: a page, and
  // the last id is the next page's `after`.
  virtual absl::StatusOr<std::vector<KeyRecord>> ListKeys(
      const std::string& after, int limit) = 0;
  // GetKeyWithVersions returns the key (with labels) and all of its
  // versions, ascending, read in one snapshot: no change committed by
  // anyone lands between the key and its versions (a rotation is seen
  // whole or not at all). NOT_FOUND if the key does not exist. Its
  // `feed_head` is ChangeHead() in that snapshot, so a follower can tell a
  // change it reads later from one the result already holds.
  virtual absl::StatusOr<KeyWithVersions> GetKeyWithVersions(
      const std::string& id) = 0;
  // UpdateKey rewrites the mutable fields of the stored key `key.id`:
  // description, labels (replaced as a whole), min_decrypt_version,
  // min_encrypt_version, rotation_period, jwt_max_ttl, jwt_default_ttl,
  // jwt_issuer; and bumps its
  // revision. Other fields of `key` (primary_version and revision included)
  // are ignored: only AddVersion moves the primary. Conditional: the stored
  // revision must be `expected_revision` (the one the caller read), else
  // ABORTED (another change of the key came first; re-read and re-apply);
  // of two concurrent updates from one revision exactly one succeeds.
  // NOT_FOUND if absent.
  virtual absl::Status UpdateKey(const KeyRecord& key,
                                 int64_t expected_revision) = 0;
  // GetVersion returns one version; NOT_FOUND if the key or the version
  // does not exist.
  virtual absl::StatusOr<VersionRecord> GetVersion(const std::string& key_id,
                                                   int32_t version) = 0;
  // ListVersions returns every version of the key in ascending version
  // order; an unknown key has none (an empty list, not NOT_FOUND).
  virtual absl::StatusOr<std::vector<VersionRecord>> ListVersions(
      const std::string& key_id) = 0;
  // FindVersionByKid returns the version whose own kid (VersionRecord::kid)
  // is `kid`; NOT_FOUND if none (always for an empty kid).
  virtual absl::StatusOr<VersionRecord> FindVersionByKid(
      const std::string& kid) = 0;
  // ListVersionKids returns every version that has its own kid, with only
  // key_id, version and kid set, in (key_id, version) order.
  virtual absl::StatusOr<std::vector<VersionRecord>> ListVersionKids() = 0;
  // SetVersionState moves a version from state `expected` to `state`, in
  // one conditional statement: ABORTED (nothing changed) if the stored
  // state is not `expected`, so a check made on a read ("only a disabled
  // version can be destroyed") holds at the write, against any writer.
  // Moving to kDestroyed also empties its wrapped material and sets
  // destroyed_at to `now`, in the same statement (the public key stays);
  // other states leave destroyed_at as it is. Which transitions are allowed
  // is the Keystore's rule, not checked here. NOT_FOUND if the version does
  // not exist. Hook info: the version.
  virtual absl::Status SetVersionState(const std::string& key_id,
                                       int32_t version, VersionState expected,
                                       VersionState state, absl::Time now) = 0;
  // CountKeys returns the number of keys.
  virtual absl::StatusOr<int64_t> CountKeys() = 0;
  // ListKeysDueForRotation returns, in id order, the ids of keys that are
  // not public-only, have a rotation period, and whose rotated_at + period
  // is at or before `now`.
  virtual absl::StatusOr<std::vector<std::string>> ListKeysDueForRotation(
      absl::Time now) = 0;

  // --- Policies -------------------------------------------------------------

  // CreatePolicy: ALREADY_EXISTS for an id in use. Operations are kept in
  // order and must not contain ','. DeletePolicy: NOT_FOUND if absent.
  // ListPolicies returns all, in id order.
  virtual absl::Status CreatePolicy(const PolicyRecord& policy) = 0;
  virtual absl::Status DeletePolicy(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() = 0;

  // --- API keys (never deleted, so an id is never reused) -------------------

  // CreateApiKey: ALREADY_EXISTS for an id ever used, revoked ones included.
  // GetApiKey: NOT_FOUND. ListApiKeys: all, in id order. RevokeApiKey sets
  // revoked_at to `now` (NOT_FOUND if absent; a second revoke keeps the
  // earlier time). TouchApiKey sets last_login_at to `now` (NOT_FOUND if
  // absent).
  virtual absl::Status CreateApiKey(const ApiKeyRecord& key) = 0;
  virtual absl::StatusOr<ApiKeyRecord> GetApiKey(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() = 0;
  virtual absl::Status RevokeApiKey(const std::string& id, absl::Time now) = 0;
  virtual absl::Status TouchApiKey(const std::string& id, absl::Time now) = 0;

  // --- Token records --------------------------------------------------------

  // CreateTokenRecord inserts the record and its metadata; ALREADY_EXISTS
  // for a jti in use.
  virtual absl::Status CreateTokenRecord(const TokenRecord& record) = 0;
  // GetTokenRecord returns the record with its metadata; NOT_FOUND.
  virtual absl::StatusOr<TokenRecord> GetTokenRecord(const std::string& jti) = 0;
  // ListTokenRecords returns up to `limit` (> 0) records, with metadata,
  // newest first (issued_at descending, then jti descending), strictly after
  // `cursor` in that order, that match `filter`: key_id and external_id when
  // not empty; state kActive = not revoked and expire_at > filter.now,
  // kExpired = not revoked and expire_at <= filter.now, kRevoked = revoked.
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokenRecords(
      const TokenFilter& filter, const TokenCursor& cursor, int limit) = 0;
  // RevokeTokenRecord sets revoked_at = `now`, the reason and revoked_by,
  // unless the record is already revoked (the first revocation is kept, and
  // the call still succeeds), and returns the record as stored. NOT_FOUND if
  // absent (the hook does not run).
  virtual absl::StatusOr<TokenRecord> RevokeTokenRecord(
      const std::string& jti, absl::Time now, const std::string& reason,
      const std::string& revoked_by) = 0;
  // PurgeTokenRecords deletes up to `limit` records (with their metadata)
  // whose purge_at is before `now`, and returns how many it deleted.
  virtual absl::StatusOr<int> PurgeTokenRecords(absl::Time now, int limit) = 0;

  // --- Whole-store copies (logical records) ---------------------------------

  // ExportRecords calls `sink` with every record of the store, read in one
  // snapshot (no change committed meanwhile shows in part), in this order:
  // the KeystoreMeta (if the store has one), each key with its labels and
  // versions (KeyWithVersions) in key id order, the policies in id order,
  // the API keys in id order, the token records (with metadata) in jti
  // order (byte order, as every ordering here). Every backend gives equal
  // records for equal stores, so two stores compare record by record. A
  // non-OK status from `sink` stops the export and is returned. `sink` must
  // not call this Storage (the snapshot holds its connection).
  using StoreRecord = std::variant<KeystoreMeta, KeyWithVersions,
                                   PolicyRecord, ApiKeyRecord, TokenRecord>;
  virtual absl::Status ExportRecords(
      const std::function<absl::Status(const StoreRecord&)>& sink) = 0;

  // ReplaceAll replaces every row of the store with `records` (what
  // ExportRecords gives, in any order), in one transaction that runs the
  // commit hook: readers see the old store or the new one, never a mix.
  // Every field is kept as given (key revisions, destroyed versions, revoked
  // API keys and tokens included). INVALID_ARGUMENT unless `records` hold
  // exactly one KeystoreMeta and each version belongs to the key it comes
  // with; ALREADY_EXISTS for two records with one id (or kid); nothing is
  // changed then. Hook info: 0.
  virtual absl::Status ReplaceAll(const std::vector<StoreRecord>& records) = 0;

  // --- The change feed (replicas) -------------------------------------------
  //
  // Every change that other processes on the same database must honour
  // writes one ChangeRecord in its own transaction (so the record commits if
  // and only if the change does): CreateKey, AddVersion, UpdateKey and
  // SetVersionState (kKey, the key id), CreatePolicy and DeletePolicy
  // (kPolicy), CreateApiKey and RevokeApiKey (kApiKey; not TouchApiKey),
  // RevokeTokenRecord when it revokes (kToken, the jti; not a second
  // revoke), ReplaceAll (kStore). A refused change writes none. Token
  // creation, purges, ReplaceMeta and InitMeta write none.
  //
  // Sequence numbers are gap-free and in commit order: a change's seq is
  // taken under a lock held to its COMMIT, so a reader that sees seq n sees
  // every change < n too. The feed survives ReplaceAll (it is no record of
  // the store) and is never part of ExportRecords.

  // ChangeHead returns the seq of the last committed change (0 if none).
  virtual absl::StatusOr<int64_t> ChangeHead() = 0;
  // ReadChanges returns up to `limit` (> 0) changes with seq > `after`, in
  // seq order. If the first one returned is not `after` + 1 while `after` <
  // ChangeHead(), changes were pruned: the reader missed some and must
  // reload what it holds.
  virtual absl::StatusOr<std::vector<ChangeRecord>> ReadChanges(int64_t after,
                                                                int limit) = 0;
  // PruneChanges deletes up to `limit` changes written before `before`,
  // oldest first, never the head (so ChangeHead stays), and returns how
  // many it deleted.
  virtual absl::StatusOr<int> PruneChanges(absl::Time before, int limit) = 0;
  // WaitForChange returns when a change may have been committed by anyone
  // since the previous call returned, or after `timeout`, whichever comes
  // first; it is a wake-up hint only (a change can be missed: read the head
  // to be sure). PostgreSQL: LISTEN/NOTIFY on a connection of its own. The
  // default (and SQLite, one process) sleeps for `timeout`. One caller at a
  // time.
  virtual void WaitForChange(absl::Duration timeout) {
    absl::SleepFor(timeout);
  }

  // --- Leases (work done once among replicas) --------------------------------
  //
  // A lease names work that one replica at a time does (the daemon's
  // maintenance). Time is the database's clock (PostgreSQL's
  // clock_timestamp(); SQLite's is this process's, one process's database).
  //
  // AcquireLease takes or renews the lease `name` for `holder` for `ttl` (>
  // 0) and returns the row as it is afterwards; the caller holds the lease
  // iff the returned holder is `holder`. No row, or an expired one (expires
  // <= now): taken, epoch + 1 (1 for a new row). Held by `holder` and not
  // expired: renewed (expires = now + ttl), same epoch. Held by another and
  // not expired: unchanged (never stolen). So a holder that lets its lease
  // expire gets a new epoch even if nobody took it meanwhile. Never fenced
  // (ScopedLeaseFence). INVALID_ARGUMENT for an empty name or holder.
  virtual absl::StatusOr<LeaseRecord> AcquireLease(const std::string& name,
                                                   const std::string& holder,
                                                   absl::Duration ttl) = 0;
  // Fencing: while a ScopedLeaseFence (commit_hook.h) is installed on the
  // calling thread, every transaction that changes rows first checks, under
  // a lock on the lease row held to COMMIT, that the fence's lease is still
  // held by its holder in its epoch and not expired; if not, the change is
  // FAILED_PRECONDITION ("lease ... lost") with nothing written.
};

// KEYWARD_STORAGE_OVERRIDES declares every Storage method as an override, for
// a backend's class declaration (SqliteStorage, PostgresStorage): a method
// added to Storage is added here once. The contracts are Storage's, above.
#define KEYWARD_STORAGE_OVERRIDES                                                   \
  absl::StatusOr<KeystoreMeta> ReadMeta() override;                                 \
  absl::Status InitMeta(const KeystoreMeta& meta) override;                         \
  absl::Status ReplaceMeta(const std::string& expected_wrapped_root,                \
                           const KeystoreMeta& next) override;                      \
  absl::Status CreateKey(const KeyRecord& key,                                      \
                         const std::vector<VersionRecord>& versions) override;      \
  absl::Status AddVersion(const VersionRecord& version,                             \
                          bool make_primary) override;                              \
  absl::StatusOr<KeyRecord> GetKey(const std::string& id) override;                 \
  absl::StatusOr<std::vector<KeyRecord>> ListKeys(const std::string& after,         \
                                                  int limit) override;              \
  absl::StatusOr<KeyWithVersions> GetKeyWithVersions(                               \
      const std::string& id) override;                                              \
  absl::Status UpdateKey(const KeyRecord& key,                                      \
                         int64_t expected_revision) override;                       \
  absl::StatusOr<VersionRecord> GetVersion(const std::string& key_id,               \
                                           int32_t version) override;               \
  absl::StatusOr<std::vector<VersionRecord>> ListVersions(                          \
      const std::string& key_id) override;                                          \
  absl::StatusOr<VersionRecord> FindVersionByKid(const std::string& kid) override;  \
  absl::StatusOr<std::vector<VersionRecord>> ListVersionKids() override;            \
  absl::Status SetVersionState(const std::string& key_id, int32_t version,          \
                               VersionState expected, VersionState state,           \
                               absl::Time now) override;                            \
  absl::StatusOr<int64_t> CountKeys() override;                                     \
  absl::StatusOr<std::vector<std::string>> ListKeysDueForRotation(                  \
      absl::Time now) override;                                                     \
  absl::Status CreatePolicy(const PolicyRecord& policy) override;                   \
  absl::Status DeletePolicy(const std::string& id) override;                        \
  absl::StatusOr<std::vector<PolicyRecord>> ListPolicies() override;                \
  absl::Status CreateApiKey(const ApiKeyRecord& key) override;                      \
  absl::StatusOr<ApiKeyRecord> GetApiKey(const std::string& id) override;           \
  absl::StatusOr<std::vector<ApiKeyRecord>> ListApiKeys() override;                 \
  absl::Status RevokeApiKey(const std::string& id, absl::Time now) override;        \
  absl::Status TouchApiKey(const std::string& id, absl::Time now) override;         \
  absl::Status CreateTokenRecord(const TokenRecord& record) override;               \
  absl::StatusOr<TokenRecord> GetTokenRecord(const std::string& jti) override;      \
  absl::StatusOr<std::vector<TokenRecord>> ListTokenRecords(                        \
      const TokenFilter& filter, const TokenCursor& cursor,                         \
      int limit) override;                                                          \
  absl::StatusOr<TokenRecord> RevokeTokenRecord(                                    \
      const std::string& jti, absl::Time now, const std::string& reason,            \
      const std::string& revoked_by) override;                                      \
  absl::StatusOr<int> PurgeTokenRecords(absl::Time now, int limit) override;        \
  absl::Status ExportRecords(                                                       \
      const std::function<absl::Status(const StoreRecord&)>& sink) override;        \
  absl::Status ReplaceAll(const std::vector<StoreRecord>& records) override;        \
  absl::StatusOr<int64_t> ChangeHead() override;                                    \
  absl::StatusOr<std::vector<ChangeRecord>> ReadChanges(int64_t after,              \
                                                        int limit) override;        \
  absl::StatusOr<int> PruneChanges(absl::Time before, int limit) override;     \
  absl::StatusOr<LeaseRecord> AcquireLease(const std::string& name,           \
                                           const std::string& holder,         \
                                           absl::Duration ttl) override;

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_STORAGE_H_
