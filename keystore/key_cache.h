// The decrypted-key cache: for each recently used key, its record and, per
// version, primitives (signers, AEADs, ...) made once from the unwrapped
// material and kept ready. Bounded by a count of keys; an evicted entry's
// material is wiped when its last user lets go of it.
#ifndef KEYWARD_KEYSTORE_KEY_CACHE_H_
#define KEYWARD_KEYSTORE_KEY_CACHE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/nacl.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/records.h"

namespace keyward::keystore {

// LoadedVersion is one key version with its primitives, each made on first
// use and then reused (no re-parsing per call). The material is unwrapped
// with the root key on the first call that needs it; a failed unwrap is
// DATA_LOSS naming the key and version, every time. Thread-safe.
class LoadedVersion {
 public:
  // `root` unwraps `record.wrapped_material`; shared so that sealing the
  // keystore never pulls it from under a call in flight.
  LoadedVersion(VersionRecord record, KeyType type,
                std::shared_ptr<const crypto::Aead> root);
  ~LoadedVersion();

  const VersionRecord& record() const { return record_; }

  absl::StatusOr<const crypto::Signer*> Signer(
      crypto::SignatureAlgorithm algorithm) const;
  absl::StatusOr<const crypto::Verifier*> Verifier(
      crypto::SignatureAlgorithm algorithm) const;
  absl::StatusOr<const crypto::Aead*> Aead() const;
  absl::StatusOr<const crypto::Mac*> Mac() const;
  absl::StatusOr<const crypto::AsymmetricEncrypter*> Encrypter() const;
  absl::StatusOr<const crypto::AsymmetricDecrypter*> Decrypter() const;
  // Box: X25519 keys' NaCl crypto_box.
  absl::StatusOr<const crypto::NaclBox*> Box() const;
  // Material returns the unwrapped material (for export).
  absl::StatusOr<const crypto::SecretData*> Material() const;

 private:
  // A value made once, on first use, by `make`; later calls return it (or
  // the same error).
  template <typename T>
  struct Lazy {
    absl::once_flag once;
    absl::StatusOr<std::unique_ptr<T>> value{absl::UnknownError("unset")};
  };
  template <typename T, typename Make>
  static absl::StatusOr<const T*> Get(Lazy<T>& slot, Make make);

  static constexpr int kAlgorithms = 9;  // SignatureAlgorithm's values

  const VersionRecord record_;
  const KeyType type_;
  const std::shared_ptr<const crypto::Aead> root_;
  mutable Lazy<crypto::SecretData> material_;
  mutable std::array<Lazy<crypto::Signer>, kAlgorithms> signers_;
  mutable std::array<Lazy<crypto::Verifier>, kAlgorithms> verifiers_;
  mutable Lazy<crypto::Aead> aead_;
  mutable Lazy<crypto::Mac> mac_;
  mutable Lazy<crypto::AsymmetricEncrypter> encrypter_;
  mutable Lazy<crypto::AsymmetricDecrypter> decrypter_;
  mutable Lazy<crypto::NaclBox> box_;
};

// KeyEntry is a key's record and its versions, as loaded from storage.
// Immutable once built (but for LoadedVersion's lazy primitives).
struct KeyEntry {
  KeyRecord record;
  std::map<int32_t, std::unique_ptr<LoadedVersion>> versions;
  // The change feed's head when it was read (KeyWithVersions::feed_head):
  // changes up to it are in the entry.
  int64_t feed_head = 0;
};

// KeyCache maps key ids to entries. At most `capacity` entries are held;
// inserting past it evicts one not used recently (CLOCK). Lookups lock one
// of several shards for reading only. Thread-safe.
class KeyCache {
 public:
  explicit KeyCache(size_t capacity);

  // Find returns the entry of `id`, or null.
  std::shared_ptr<const KeyEntry> Find(const std::string& id) const;
  // Insert adds or replaces the entry of its key.
  void Insert(std::shared_ptr<const KeyEntry> entry);
  void Erase(const std::string& id);
  // EraseOlderThan erases the entry of `id` unless it was read at or after
  // the change `seq` (entry->feed_head >= seq): a replica's own change,
  // followed back from the feed, keeps the entry it has just loaded.
  void EraseOlderThan(const std::string& id, int64_t seq);
  void Clear();
  size_t size() const;

 private:
  struct Slot {
    std::shared_ptr<const KeyEntry> entry;
    mutable std::atomic<bool> referenced{true};
  };
  struct Shard {
    mutable absl::Mutex mu;
    absl::node_hash_map<std::string, Slot> slots ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(const std::string& id) const;

  const size_t per_shard_capacity_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_KEY_CACHE_H_
