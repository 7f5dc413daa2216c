// Keystore::Impl: the keystore's private state and the helpers its parts
// share. Internal to keystore/: callers use keystore.h only.
//
// The Keystore's methods are spread over files by concern:
//   keystore_open.cc    Init/Open/OpenSealed, Seal/Unseal
//   keystore_keys.cc    keys and versions (create, import, update, rotate)
//   keystore_admin.cc   the passphrase, policies, API keys
//   keystore_data.cc    the data plane (sign, verify, encrypt, ..., JWS, JWE)
//   keystore_tokens.cc  token records and the revocation index
//   keystore_backup.cc  backup and restore
//   keystore_impl.cc    this class: the root key, the key cache, indexes
#ifndef KEYWARD_KEYSTORE_KEYSTORE_IMPL_H_
#define KEYWARD_KEYSTORE_KEYSTORE_IMPL_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/key_cache.h"
#include "keystore/keystore.h"
#include "keystore/records.h"
#include "keystore/storage.h"

namespace keyward::keystore {

// The shortest rotation period a key may have (0 is "never").
inline constexpr absl::Duration kMinRotationPeriod = absl::Hours(1);

// Where names a key version in messages: "version 3 of key 'k'".
std::string Where(absl::string_view id, int32_t version);

// PrimitiveError: a primitive that cannot be made from stored material means
// the stored material is bad (DATA_LOSS naming the version); other codes
// pass through. Input errors from the factories must not pass for "your
// signature is invalid".
absl::Status PrimitiveError(const absl::Status& status, absl::string_view id,
                            int32_t version);

// CheckPurpose: OK if `key` has purpose `wanted`, else FAILED_PRECONDITION
// saying the key cannot do `operation`.
absl::Status CheckPurpose(const KeyRecord& key, KeyPurpose wanted,
                          absl::string_view operation);

class Keystore::Impl {
 public:
  Impl(std::unique_ptr<Storage> storage, KeystoreOptions options,
       std::shared_ptr<const crypto::Aead> root);

  bool sealed() const { return sealed_.load(std::memory_order_acquire); }
  // The root key, or UNAVAILABLE while sealed.
  absl::StatusOr<std::shared_ptr<const crypto::Aead>> Root() const;

  // The cached entry of key `id`, loaded from storage on a miss.
  absl::StatusOr<std::shared_ptr<const KeyEntry>> Entry(const std::string& id);
  // The usable version `version` (0: the primary) of `entry`, for `use`.
  absl::StatusOr<const LoadedVersion*> Usable(const KeyEntry& entry,
                                              int32_t version,
                                              absl::string_view use);
  // NewVersion makes version `version` of `key` from `material`, wrapped
  // under the root key (not stored).
  absl::StatusOr<VersionRecord> NewVersion(const KeyRecord& key,
                                           int32_t version,
                                           const crypto::SecretData& material,
                                           std::string public_key);
  // SetState changes a version's state under the transition rules
  // (keystore.h: DisableVersion and the others), as a storage write
  // conditional on the state the rules were checked against.
  absl::Status SetState(const std::string& id, int32_t version,
                        VersionState state);
  // LoadIndexes fills revoked_ and kids_ from storage (at open, restore,
  // a feed reload), after reading the feed's head: the position then
  // becomes that head (every change before it is in what was loaded).
  absl::Status LoadIndexes();
  // RememberKid adds `version`'s own kid, if it has one, to kids_ (after
  // the version is stored).
  void RememberKid(const VersionRecord& version);

  const std::unique_ptr<Storage> storage_;
  const KeystoreOptions options_;
  // Set by the StorageSpec factories when the storage is PostgreSQL.
  bool postgres_ = false;
  // The root key as an AEAD; wraps and unwraps version material. Null while
  // sealed.
  mutable absl::Mutex root_mu_;
  std::shared_ptr<const crypto::Aead> root_ ABSL_GUARDED_BY(root_mu_);
  std::atomic<bool> sealed_{false};
  KeyCache cache_;
  // Serializes this process's admin changes with its cache loads, so that
  // a load never puts a stale entry back after a change invalidated it.
  // Data plane calls on a cached key never take it. It is not what keeps
  // changes correct: every read-check-write is a conditional storage write
  // (UpdateKey's revision, SetVersionState's expected state, AddVersion's
  // latest version, the kid index), which holds across processes.
  absl::Mutex admin_mu_;
  // The jtis of revoked token records, so that VerifyJwt reads no row.
  mutable absl::Mutex revoked_mu_;
  absl::flat_hash_set<std::string> revoked_ ABSL_GUARDED_BY(revoked_mu_);
  std::atomic<bool> any_revoked_{false};
  // The versions' own kids (imported keys): kid -> (key id, version), so
  // that resolving a token's kid reads no row. Kids are never removed (a
  // destroyed version keeps its kid); only a restore replaces them all.
  mutable absl::Mutex kids_mu_;
  absl::flat_hash_map<std::string, std::pair<std::string, int32_t>> kids_
      ABSL_GUARDED_BY(kids_mu_);
  // The change feed (keystore_feed.cc): CatchUp runs under feed_mu_; the
  // position and the caught-up time (Unix microseconds) are read without it.
  absl::Mutex feed_mu_;
  std::atomic<int64_t> feed_position_{0};
  std::atomic<int64_t> caught_up_at_us_{0};
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_KEYSTORE_IMPL_H_
