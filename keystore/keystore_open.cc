// Keystore: opening, creating, sealing and unsealing (keystore.h).
#include "keystore/keystore.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "keystore/postgres_storage.h"
#include "keystore/sqlite_storage.h"
#include "keystore/key_types.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::OpenSealed(
    const std::string& path, KeystoreOptions options) {
  auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  if (!storage.ok()) return storage.status();
  auto meta = (*storage)->ReadMeta();
  if (!meta.ok()) return meta.status();
  std::unique_ptr<Keystore> keystore(
      new Keystore(std::move(*storage), std::move(options), nullptr));
  absl::Status s = keystore->impl_->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

void Keystore::Seal() {
  std::shared_ptr<const crypto::Aead> root;  // released after the lock
  {
    absl::MutexLock lock(&impl_->root_mu_);
    impl_->sealed_.store(true, std::memory_order_release);
    root = std::move(impl_->root_);
    impl_->root_ = nullptr;
  }
  impl_->cache_.Clear();
}

absl::Status Keystore::Unseal(const SecretData& passphrase) {
  absl::MutexLock admin(&impl_->admin_mu_);
  auto meta = impl_->storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  auto root = UnlockRoot(*meta, passphrase);
  if (!root.ok()) return root.status();
  auto aead = crypto::AesGcm::Create(*root);
  if (!aead.ok()) return aead.status();
  absl::MutexLock lock(&impl_->root_mu_);
  impl_->root_ = std::move(*aead);
  impl_->sealed_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

Keystore::Keystore(std::unique_ptr<Storage> storage, KeystoreOptions options,
                   std::shared_ptr<const crypto::Aead> root)
    : impl_(std::make_unique<Impl>(std::move(storage), std::move(options),
                                   std::move(root))) {}

Keystore::~Keystore() { impl_->cache_.Clear(); }

bool Keystore::sealed() const { return impl_->sealed(); }

absl::Time Keystore::Now() const { return impl_->options_.now(); }

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::Init(
    const std::string& path, const SecretData& passphrase,
    KeystoreOptions options) {
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("the passphrase must not be empty");
  }
  absl::Status valid = ValidateKdfParams(options.kdf);
  if (!valid.ok()) return valid;
  auto storage =
      SqliteStorage::Open(path, SqliteStorage::Mode::kCreateNew);
  if (!storage.ok()) return storage.status();
  auto keystore =
      OpenStorage(std::move(*storage), passphrase, std::move(options), true);
  if (!keystore.ok()) {
    // Leave nothing half-made behind.
    for (const char* suffix : {"", "-wal", "-shm"}) {
      unlink(absl::StrCat(path, suffix).c_str());
    }
  }
  return keystore;
}

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::Open(
    const std::string& path, const SecretData& passphrase,
    KeystoreOptions options) {
  auto storage =
      SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  if (!storage.ok()) return storage.status();
  return OpenStorage(std::move(*storage), passphrase, std::move(options),
                     false);
}

namespace {

// OpenPostgres connects to the database of `spec` (sets up its schema) and,
// unless `init`, checks that it holds a keystore (NOT_FOUND naming
// `keywardd init` otherwise).
absl::StatusOr<std::unique_ptr<Storage>> OpenPostgres(
    const PostgresOptions& options, bool init) {
  auto storage = PostgresStorage::Open(options);
  if (!storage.ok()) {
    return absl::Status(
        storage.status().code(),
        absl::StrCat("PostgreSQL storage (dsn \"", options.dsn,
                     "\"): ", storage.status().message()));
  }
  if (!init) {
    auto meta = (*storage)->ReadMeta();
    if (absl::IsNotFound(meta.status())) {
      return absl::NotFoundError(absl::StrCat(
          "no keystore in this database (PostgreSQL dsn \"", options.dsn,
          "\"): run `keywardd init` with the same storage config"));
    }
    if (!meta.ok()) return meta.status();
  }
  return std::unique_ptr<Storage>(std::move(*storage));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::Init(
    const StorageSpec& spec, const SecretData& passphrase,
    KeystoreOptions options) {
  if (!spec.postgres.has_value()) {
    return Init(spec.sqlite_path, passphrase, std::move(options));
  }
  if (passphrase.empty()) {
    return absl::InvalidArgumentError("the passphrase must not be empty");
  }
  absl::Status valid = ValidateKdfParams(options.kdf);
  if (!valid.ok()) return valid;
  auto storage = OpenPostgres(*spec.postgres, /*init=*/true);
  if (!storage.ok()) return storage.status();
  auto keystore =
      OpenStorage(std::move(*storage), passphrase, std::move(options), true);
  if (absl::IsAlreadyExists(keystore.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "the PostgreSQL database (dsn \"", spec.postgres->dsn,
        "\") already holds a keystore; it was left as it was"));
  }
  if (!keystore.ok()) return keystore.status();
  (*keystore)->impl_->postgres_ = true;
  return keystore;
}

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::Open(
    const StorageSpec& spec, const SecretData& passphrase,
    KeystoreOptions options) {
  if (!spec.postgres.has_value()) {
    return Open(spec.sqlite_path, passphrase, std::move(options));
  }
  auto storage = OpenPostgres(*spec.postgres, /*init=*/false);
  if (!storage.ok()) return storage.status();
  auto keystore =
      OpenStorage(std::move(*storage), passphrase, std::move(options), false);
  if (absl::IsUnauthenticated(keystore.status())) {
    return absl::UnauthenticatedError(absl::StrCat(
        keystore.status().message(), " (or the PostgreSQL database, dsn \"",
        spec.postgres->dsn, "\", holds another keystore)"));
  }
  if (!keystore.ok()) return keystore.status();
  (*keystore)->impl_->postgres_ = true;
  return keystore;
}

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::OpenSealed(
    const StorageSpec& spec, KeystoreOptions options) {
  if (!spec.postgres.has_value()) {
    return OpenSealed(spec.sqlite_path, std::move(options));
  }
  auto storage = OpenPostgres(*spec.postgres, /*init=*/false);
  if (!storage.ok()) return storage.status();
  std::unique_ptr<Keystore> keystore(
      new Keystore(std::move(*storage), std::move(options), nullptr));
  keystore->impl_->postgres_ = true;
  absl::Status s = keystore->impl_->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::OpenStorage(
    std::unique_ptr<Storage> storage, const SecretData& passphrase,
    KeystoreOptions options, bool init) {
  SecretData root;
  if (init) {
    auto meta = NewHierarchy(passphrase, options.kdf, &root);
    if (!meta.ok()) return meta.status();
    absl::Status s = storage->InitMeta(*meta);
    if (!s.ok()) return s;
  } else {
    auto meta = storage->ReadMeta();
    if (!meta.ok()) return meta.status();
    auto unlocked = UnlockRoot(*meta, passphrase);
    if (!unlocked.ok()) return unlocked.status();
    root = std::move(*unlocked);
  }
  auto aead = crypto::AesGcm::Create(root);
  if (!aead.ok()) return aead.status();
  std::unique_ptr<Keystore> keystore(
      new Keystore(std::move(storage), std::move(options), std::move(*aead)));
  absl::Status s = keystore->impl_->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

}  // namespace keyward::keystore
