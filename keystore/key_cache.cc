#include "keystore/key_cache.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/hierarchy.h"

namespace keyward::keystore {

LoadedVersion::LoadedVersion(VersionRecord record, KeyType type,
                             std::shared_ptr<const crypto::Aead> root)
    : record_(std::move(record)), type_(type), root_(std::move(root)) {}

LoadedVersion::~LoadedVersion() = default;

template <typename T, typename Make>
absl::StatusOr<const T*> LoadedVersion::Get(Lazy<T>& slot, Make make) {
  absl::call_once(slot.once, [&] { slot.value = make(); });
  if (!slot.value.ok()) return slot.value.status();
  return slot.value->get();
}

absl::StatusOr<const crypto::SecretData*> LoadedVersion::Material() const {
  return Get(material_, [&]() -> absl::StatusOr<std::unique_ptr<crypto::SecretData>> {
    const std::string where =
        absl::StrCat("version ", record_.version, " of key '", record_.key_id, "'");
    if (record_.state == VersionState::kDestroyed) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, " was destroyed; its material is gone"));
    }
    if (record_.wrapped_material.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, " holds only a public key; it can verify and encrypt only"));
    }
    auto plain = root_->Decrypt(
        record_.wrapped_material,
        MaterialAad(record_.key_id, record_.version, type_));
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat(
          "the stored material of ", where,
          " fails its integrity check (damaged or moved between rows); "
          "restore the keystore from a backup"));
    }
    // Cached material lives in pages kept out of core dumps and swap.
    auto material =
        std::make_unique<crypto::SecretData>(crypto::SecretData::Pinned(*plain));
    std::fill(plain->begin(), plain->end(), '\0');
    return material;
  });
}

absl::StatusOr<const crypto::Signer*> LoadedVersion::Signer(
    crypto::SignatureAlgorithm algorithm) const {
  return Get(signers_[static_cast<int>(algorithm)],
             [&]() -> absl::StatusOr<std::unique_ptr<crypto::Signer>> {
               auto material = Material();
               if (!material.ok()) return material.status();
               return crypto::NewSigner(algorithm, **material);
             });
}

absl::StatusOr<const crypto::Verifier*> LoadedVersion::Verifier(
    crypto::SignatureAlgorithm algorithm) const {
  return Get(verifiers_[static_cast<int>(algorithm)],
             [&]() -> absl::StatusOr<std::unique_ptr<crypto::Verifier>> {
               return crypto::NewVerifier(algorithm, record_.public_key);
             });
}

absl::StatusOr<const crypto::Aead*> LoadedVersion::Aead() const {
  return Get(aead_, [&]() -> absl::StatusOr<std::unique_ptr<crypto::Aead>> {
    auto material = Material();
    if (!material.ok()) return material.status();
    switch (type_) {
      case KeyType::kXSalsa20Poly1305:
        return crypto::SecretBox::Create(**material);
      case KeyType::kXChaCha20Poly1305:
        return crypto::XChaCha20Poly1305::Create(**material);
      default:
        return crypto::AesGcm::Create(**material);
    }
  });
}

absl::StatusOr<const crypto::Mac*> LoadedVersion::Mac() const {
  return Get(mac_, [&]() -> absl::StatusOr<std::unique_ptr<crypto::Mac>> {
    auto material = Material();
    if (!material.ok()) return material.status();
    crypto::HashType hash = type_ == KeyType::kHmacSha384 ? crypto::HashType::kSha384
                            : type_ == KeyType::kHmacSha512
                                ? crypto::HashType::kSha512
                                : crypto::HashType::kSha256;
    return crypto::Hmac::Create(hash, **material);
  });
}

absl::StatusOr<const crypto::AsymmetricEncrypter*> LoadedVersion::Encrypter()
    const {
  return Get(encrypter_,
             [&]() -> absl::StatusOr<std::unique_ptr<crypto::AsymmetricEncrypter>> {
               if (type_ == KeyType::kX25519) {  // NaCl sealed boxes
                 return crypto::NewSealedBoxEncrypter(record_.public_key);
               }
               return crypto::NewAsymmetricEncrypter(record_.public_key);
             });
}

absl::StatusOr<const crypto::AsymmetricDecrypter*> LoadedVersion::Decrypter()
    const {
  return Get(decrypter_,
             [&]() -> absl::StatusOr<std::unique_ptr<crypto::AsymmetricDecrypter>> {
               auto material = Material();
               if (!material.ok()) return material.status();
               if (type_ == KeyType::kX25519) {
                 return crypto::NewSealedBoxDecrypter(**material);
               }
               return crypto::NewAsymmetricDecrypter(**material);
             });
}

absl::StatusOr<const crypto::NaclBox*> LoadedVersion::Box() const {
  return Get(box_, [&]() -> absl::StatusOr<std::unique_ptr<crypto::NaclBox>> {
    auto material = Material();
    if (!material.ok()) return material.status();
    return crypto::NaclBox::Create(**material);
  });
}

namespace {
constexpr size_t kMaxShards = 16;
}  // namespace

KeyCache::KeyCache(size_t capacity)
    : per_shard_capacity_(std::max<size_t>(
          1, capacity / std::max<size_t>(1, std::min(capacity, kMaxShards)))) {
  size_t shards = std::max<size_t>(1, std::min(capacity, kMaxShards));
  for (size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

KeyCache::Shard& KeyCache::ShardFor(const std::string& id) const {
  return *shards_[std::hash<std::string>()(id) % shards_.size()];
}

std::shared_ptr<const KeyEntry> KeyCache::Find(const std::string& id) const {
  Shard& shard = ShardFor(id);
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.slots.find(id);
  if (it == shard.slots.end()) return nullptr;
  if (!it->second.referenced.load(std::memory_order_relaxed)) {
    it->second.referenced.store(true, std::memory_order_relaxed);
  }
  return it->second.entry;
}

void KeyCache::Insert(std::shared_ptr<const KeyEntry> entry) {
  const std::string id = entry->record.id;
  Shard& shard = ShardFor(id);
  std::shared_ptr<const KeyEntry> evicted;  // released after the lock
  absl::MutexLock lock(&shard.mu);
  auto it = shard.slots.find(id);
  if (it != shard.slots.end()) {
    evicted = std::move(it->second.entry);
    it->second.entry = std::move(entry);
    return;
  }
  // CLOCK: sweep, clearing reference bits, until an unreferenced slot is
  // found; two sweeps always find one.
  while (shard.slots.size() >= per_shard_capacity_) {
    for (auto victim = shard.slots.begin(); victim != shard.slots.end();
         ++victim) {
      if (!victim->second.referenced.exchange(false)) {
        evicted = std::move(victim->second.entry);
        shard.slots.erase(victim);
        break;
      }
    }
  }
  shard.slots[id].entry = std::move(entry);
}

void KeyCache::Erase(const std::string& id) {
  Shard& shard = ShardFor(id);
  std::shared_ptr<const KeyEntry> evicted;
  absl::MutexLock lock(&shard.mu);
  auto it = shard.slots.find(id);
  if (it == shard.slots.end()) return;
  evicted = std::move(it->second.entry);
  shard.slots.erase(it);
}

void KeyCache::EraseOlderThan(const std::string& id, int64_t seq) {
  Shard& shard = ShardFor(id);
  std::shared_ptr<const KeyEntry> evicted;
  absl::MutexLock lock(&shard.mu);
  auto it = shard.slots.find(id);
  if (it == shard.slots.end() || it->second.entry->feed_head >= seq) return;
  evicted = std::move(it->second.entry);
  shard.slots.erase(it);
}

void KeyCache::Clear() {
  for (auto& shard : shards_) {
    absl::node_hash_map<std::string, Slot> gone;
    absl::MutexLock lock(&shard->mu);
    gone.swap(shard->slots);
  }
}

size_t KeyCache::size() const {
  size_t n = 0;
  for (auto& shard : shards_) {
    absl::ReaderMutexLock lock(&shard->mu);
    n += shard->slots.size();
  }
  return n;
}

}  // namespace keyward::keystore
