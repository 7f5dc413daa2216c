#include "keystore/keystore.h"

#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/backup.h"
#include "keystore/crypto/key_components.h"
#include "keystore/crypto/keys.h"
#include "keystore/format.h"
#include "keystore/postgres_storage.h"
#include "keystore/sqlite_storage.h"

namespace keyward::keystore {
namespace {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

constexpr size_t kMaxKeyIdLength = 63;
constexpr absl::Duration kMinRotationPeriod = absl::Hours(1);

bool IsAsymmetric(KeyType type) {
  switch (type) {
    case KeyType::kAes256Gcm:
    case KeyType::kHmacSha256:
    case KeyType::kHmacSha384:
    case KeyType::kHmacSha512:
      return false;
    default:
      return true;
  }
}

bool IsRsa(KeyType type) {
  return type == KeyType::kRsa2048 || type == KeyType::kRsa3072 ||
         type == KeyType::kRsa4096;
}

KeyPurpose DefaultPurpose(KeyType type) {
  switch (type) {
    case KeyType::kAes256Gcm:
      return KeyPurpose::kEncryptDecrypt;
    case KeyType::kHmacSha256:
    case KeyType::kHmacSha384:
    case KeyType::kHmacSha512:
      return KeyPurpose::kMac;
    case KeyType::kEcdhP256:
      return KeyPurpose::kKeyAgreement;
    default:
      return KeyPurpose::kSignVerify;
  }
}

absl::string_view PurposeName(KeyPurpose purpose) {
  switch (purpose) {
    case KeyPurpose::kEncryptDecrypt:
      return "encrypt/decrypt";
    case KeyPurpose::kSignVerify:
      return "sign/verify";
    case KeyPurpose::kMac:
      return "MAC";
    case KeyPurpose::kKeyAgreement:
      return "JWE";
    case KeyPurpose::kJwt:
      return "JWT";
  }
  return "unknown";
}

SignatureAlgorithm DefaultAlgorithm(KeyType type) {
  std::vector<SignatureAlgorithm> algs = SignatureAlgorithmsFor(type);
  return algs.empty() ? SignatureAlgorithm::kEd25519 : algs.front();
}

bool AlgorithmFits(KeyType type, SignatureAlgorithm alg) {
  for (SignatureAlgorithm a : SignatureAlgorithmsFor(type)) {
    if (a == alg) return true;
  }
  return false;
}

std::string Where(absl::string_view id, int32_t version) {
  return absl::StrCat("version ", version, " of key '", id, "'");
}

// A primitive that cannot be made from stored material means the stored
// material is bad; input errors from the factories must not pass for "your
// signature is invalid".
absl::Status PrimitiveError(const absl::Status& status, absl::string_view id,
                            int32_t version) {
  if (!absl::IsInvalidArgument(status)) return status;
  return absl::DataLossError(absl::StrCat("the stored material of ",
                                          Where(id, version),
                                          " cannot be used: ", status.message()));
}

// ValidatePurpose: each type has its default purpose; RSA keys may instead
// encrypt; signing and HMAC keys may instead be JWT keys.
absl::Status ValidatePurpose(KeyType type, KeyPurpose purpose) {
  const bool jwt_capable =
      type != KeyType::kAes256Gcm && type != KeyType::kEcdhP256;
  const bool jwe_capable = IsRsa(type) || type == KeyType::kAes256Gcm ||
                           type == KeyType::kEcdhP256;
  if (purpose == DefaultPurpose(type) ||
      (IsRsa(type) && purpose == KeyPurpose::kEncryptDecrypt) ||
      (jwt_capable && purpose == KeyPurpose::kJwt) ||
      (jwe_capable && purpose == KeyPurpose::kKeyAgreement)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "a ", crypto::KeyTypeName(type), " key cannot be for ",
      PurposeName(purpose), "; RSA keys may choose encrypt/decrypt, signing "
      "and HMAC keys may be JWT keys, and RSA, AES and ECDH keys JWE keys"));
}

absl::Status CheckPurpose(const KeyRecord& key, KeyPurpose wanted,
                          absl::string_view operation) {
  if (key.purpose == wanted) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "key '", key.id, "' is a ", crypto::KeyTypeName(key.type), " key for ",
      PurposeName(key.purpose), "; it cannot ", operation));
}

}  // namespace

absl::Status ValidateKid(absl::string_view kid) {
  bool ok = !kid.empty() && kid.size() <= 256;
  for (char c : kid) ok = ok && c >= 0x20 && c <= 0x7e;
  // "...:v<digits>" is the default form, reserved for Keyward's own kids.
  size_t colon = kid.rfind(":v");
  if (ok && colon != absl::string_view::npos && colon + 2 < kid.size()) {
    absl::string_view digits = kid.substr(colon + 2);
    ok = !std::all_of(digits.begin(), digits.end(),
                      [](char c) { return absl::ascii_isdigit(c); });
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "kid '", absl::CHexEscape(kid.substr(0, 80)),
      "' is not valid: use 1 to 256 printable ASCII characters, not ending in "
      "\":v\" and digits (Keyward's own form)"));
}

absl::Status ValidateKeyId(absl::string_view id) {
  bool ok = !id.empty() && id.size() <= kMaxKeyIdLength &&
            (absl::ascii_islower(id[0]) || absl::ascii_isdigit(id[0]));
  for (char c : id) {
    ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
                c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "key name '", absl::CHexEscape(id.substr(0, 80)),
      "' is not valid: use 1 to 63 of a-z 0-9 . _ -, starting with a letter "
      "or digit"));
}

std::vector<SignatureAlgorithm> SignatureAlgorithmsFor(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return {SignatureAlgorithm::kEd25519};
    case KeyType::kEcdsaP256:
      return {SignatureAlgorithm::kEcdsaP256Sha256Der,
              SignatureAlgorithm::kEcdsaP256Sha256P1363};
    case KeyType::kEcdsaP384:
      return {SignatureAlgorithm::kEcdsaP384Sha384Der,
              SignatureAlgorithm::kEcdsaP384Sha384P1363};
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
    case KeyType::kRsa4096:
      return {SignatureAlgorithm::kRsaPssSha256, SignatureAlgorithm::kRsaPkcs1Sha256,
              SignatureAlgorithm::kRsaPkcs1Sha384, SignatureAlgorithm::kRsaPkcs1Sha512};
    default:
      return {};
  }
}

std::string PrivateKeyPem(const SecretData& pkcs8_der) {
  std::string b64 = absl::Base64Escape(pkcs8_der.InsecureView());
  std::string pem;
  // Reserved once, so that no partial copy is left unwiped by a regrowth.
  pem.reserve(b64.size() + b64.size() / 64 + 64);
  pem = "-----BEGIN PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&pem, absl::string_view(b64).substr(i, 64), "\n");
  }
  pem += "-----END PRIVATE KEY-----\n";
  std::fill(b64.begin(), b64.end(), '\0');
  return pem;
}

std::string SignResult::Enveloped() const {
  return EncodeEnvelope(version, signature);
}

Keystore::Keystore(std::unique_ptr<Storage> storage, KeystoreOptions options,
                   std::shared_ptr<const crypto::Aead> root)
    : storage_(std::move(storage)),
      options_(std::move(options)),
      root_(std::move(root)),
      sealed_(root_ == nullptr),
      cache_(std::max<size_t>(1, options_.cache_size)) {}

absl::StatusOr<std::shared_ptr<const crypto::Aead>> Keystore::Root() const {
  absl::MutexLock lock(&root_mu_);
  if (root_ == nullptr) {
    return absl::UnavailableError(
        "keywardd is sealed: it holds no keys until it is unsealed with the "
        "passphrase (`keyward unseal`)");
  }
  return root_;
}

absl::StatusOr<std::unique_ptr<Keystore>> Keystore::OpenSealed(
    const std::string& path, KeystoreOptions options) {
  auto storage = SqliteStorage::Open(path, SqliteStorage::Mode::kOpenExisting);
  if (!storage.ok()) return storage.status();
  auto meta = (*storage)->ReadMeta();
  if (!meta.ok()) return meta.status();
  std::unique_ptr<Keystore> keystore(
      new Keystore(std::move(*storage), std::move(options), nullptr));
  absl::Status s = keystore->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

void Keystore::Seal() {
  std::shared_ptr<const crypto::Aead> root;  // released after the lock
  {
    absl::MutexLock lock(&root_mu_);
    sealed_.store(true, std::memory_order_release);
    root = std::move(root_);
    root_ = nullptr;
  }
  cache_.Clear();
}

absl::Status Keystore::Unseal(const SecretData& passphrase) {
  absl::MutexLock admin(&admin_mu_);
  auto meta = storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  auto root = UnlockRoot(*meta, passphrase);
  if (!root.ok()) return root.status();
  auto aead = crypto::AesGcm::Create(*root);
  if (!aead.ok()) return aead.status();
  absl::MutexLock lock(&root_mu_);
  root_ = std::move(*aead);
  sealed_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

Keystore::~Keystore() { cache_.Clear(); }

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

absl::StatusOr<std::unique_ptr<Storage>> Keystore::OpenPostgres(
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
  (*keystore)->postgres_ = true;
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
  (*keystore)->postgres_ = true;
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
  keystore->postgres_ = true;
  absl::Status s = keystore->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

absl::Status Keystore::BackupsSupported() const {
  if (!postgres_) return absl::OkStatus();
  return absl::UnimplementedError(
      "backups of a PostgreSQL keystore are not supported yet: CreateBackup "
      "and restore work on a SQLite keystore only");
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
  absl::Status s = keystore->LoadIndexes();
  if (!s.ok()) return s;
  return keystore;
}

absl::StatusOr<VersionRecord> Keystore::NewVersion(const KeyRecord& key,
                                                   int32_t version,
                                                   const SecretData& material,
                                                   std::string public_key) {
  VersionRecord v;
  v.key_id = key.id;
  v.version = version;
  v.state = VersionState::kEnabled;
  v.created_at = options_.now();
  v.public_key = std::move(public_key);
  if (!material.empty()) {
    auto root = Root();
    if (!root.ok()) return root.status();
    auto wrapped = (*root)->Encrypt(material.InsecureView(),
                                  MaterialAad(key.id, version, key.type));
    if (!wrapped.ok()) return wrapped.status();
    v.wrapped_material = std::move(*wrapped);
  }
  return v;
}

absl::StatusOr<KeyRecord> Keystore::CreateKey(const CreateKeyParams& params) {
  absl::Status s = ValidateKeyId(params.id);
  if (!s.ok()) return s;
  KeyRecord key;
  key.id = params.id;
  key.type = params.type;
  key.purpose = params.purpose.value_or(DefaultPurpose(params.type));
  s = ValidatePurpose(key.type, key.purpose);
  if (!s.ok()) return s;
  if (params.rotation_period != absl::ZeroDuration() &&
      params.rotation_period < kMinRotationPeriod) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation period ", absl::FormatDuration(params.rotation_period),
                     " is too short: use 0 (never) or at least 1h"));
  }
  key.description = params.description;
  key.labels = params.labels;
  key.exportable = params.exportable;
  key.primary_version = 1;
  key.latest_version = 1;
  key.rotation_period = params.rotation_period;
  key.jwt_max_ttl = params.jwt_max_ttl;
  key.jwe_algorithm = params.jwe_algorithm;
  key.created_at = options_.now();
  key.rotated_at = key.created_at;

  auto material = crypto::GenerateKeyMaterial(key.type);
  if (!material.ok()) return material.status();
  std::string public_key;
  if (IsAsymmetric(key.type)) {
    auto spki = crypto::PublicKeyFromPrivate(key.type, *material);
    if (!spki.ok()) return spki.status();
    public_key = std::move(*spki);
  }
  auto version = NewVersion(key, 1, *material, std::move(public_key));
  if (!version.ok()) return version.status();
  absl::MutexLock lock(&admin_mu_);
  s = storage_->CreateKey(key, {*version});
  if (!s.ok()) return s;
  return key;
}

absl::StatusOr<KeyRecord> Keystore::ImportKey(ImportKeyParams params) {
  const CreateKeyParams& create = params.create;
  absl::Status s = ValidateKeyId(create.id);
  if (!s.ok()) return s;

  // Parse the material into (type, private material or none, public key).
  KeyType type = create.type;
  SecretData material;
  std::string public_key;
  bool public_only = false;
  switch (params.format) {
    case ImportFormat::kPrivateKeyPem:
    case ImportFormat::kPrivateKeyDer: {
      // DER goes through the same parser, wrapped as a PEM block (kept in
      // SecretData: it is the private key).
      SecretData wrapped;
      if (params.format == ImportFormat::kPrivateKeyDer) {
        std::string text = PrivateKeyPem(params.material);
        wrapped = SecretData(text);
        OPENSSL_cleanse(text.data(), text.size());
      }
      const absl::string_view pem = params.format == ImportFormat::kPrivateKeyDer
                                        ? wrapped.InsecureView()
                                        : params.material.InsecureView();
      if (params.passphrase) {
        // The KDF is one libcrypto call that cannot be interrupted: bound
        // its cost, then ask whether the caller still wants the answer.
        s = crypto::CheckEncryptedKeyCost(pem, options_.import_kdf_limits);
        if (!s.ok()) return s;
        if (params.before_costly_work) {
          s = params.before_costly_work();
          if (!s.ok()) return s;
        }
      }
      auto parsed = crypto::ParsePrivateKeyPem(
          pem, params.passphrase ? &*params.passphrase : nullptr,
          options_.import_kdf_limits);
      if (!parsed.ok()) return parsed.status();
      // An EC P-256 key may serve ECDSA or ECDH: the caller's type decides.
      type = parsed->type == KeyType::kEcdsaP256 &&
                     create.type == KeyType::kEcdhP256
                 ? KeyType::kEcdhP256
                 : parsed->type;
      material = std::move(parsed->pkcs8_der);
      auto spki = crypto::PublicKeyFromPrivate(type, material);
      if (!spki.ok()) return spki.status();
      public_key = std::move(*spki);
      break;
    }
    case ImportFormat::kPublicKey: {
      auto parsed = crypto::ParsePublicKey(params.material.InsecureView());
      if (!parsed.ok()) return parsed.status();
      type = parsed->type == KeyType::kEcdsaP256 &&
                     create.type == KeyType::kEcdhP256
                 ? KeyType::kEcdhP256
                 : parsed->type;
      public_key = std::move(parsed->spki_der);
      public_only = true;
      break;
    }
    case ImportFormat::kRawSecret: {
      size_t n = params.material.size();
      bool fits = type == KeyType::kAes256Gcm
                      ? n == 32
                      : (type == KeyType::kHmacSha256 ||
                         type == KeyType::kHmacSha384 ||
                         type == KeyType::kHmacSha512) &&
                            n >= 16 && n <= 1024;
      if (!fits) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a raw secret of ", n, " bytes cannot be a ",
            crypto::KeyTypeName(type),
            " key: AES256_GCM takes exactly 32 bytes, HMAC keys 16 to 1024"));
      }
      material = SecretData(params.material.InsecureView());
      break;
    }
  }
  // OpenSSL 3 parses RSA keys that no one should trust (e = 1 makes every
  // signature verify); refuse them whichever library parsed the key.
  if (IsRsa(type)) {
    absl::Status sane = crypto::CheckRsaPublicKey(public_key);
    if (!sane.ok()) return sane;
  }
  if (params.format != ImportFormat::kRawSecret && !params.type_from_material &&
      create.type != type &&
      !(create.type == KeyType::kEcdsaP256 && type == KeyType::kEcdhP256)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the imported key is ", crypto::KeyTypeName(type), ", not ",
        crypto::KeyTypeName(create.type), " as asked"));
  }

  if (!params.kid.empty()) {
    absl::Status valid = ValidateKid(params.kid);
    if (!valid.ok()) return valid;
    if (storage_->FindVersionByKid(params.kid).ok()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "kid '", params.kid, "' is in use by another key version; kids are "
          "unique in the keystore"));
    }
  }
  absl::MutexLock lock(&admin_mu_);
  if (params.new_version) {
    auto key = storage_->GetKey(create.id);
    if (!key.ok()) return key.status();
    if (key->type != type || key->public_only != public_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", key->id, "' is ", key->public_only ? "a public-only " : "a ",
          crypto::KeyTypeName(key->type), " key; the import is ",
          public_only ? "a public-only " : "a ", crypto::KeyTypeName(type),
          " key"));
    }
    auto version =
        NewVersion(*key, key->latest_version + 1, material, std::move(public_key));
    if (!version.ok()) return version.status();
    version->imported = true;
    version->kid = params.kid;
    s = storage_->AddVersion(*version, /*make_primary=*/true);
    if (!s.ok()) return s;
    RememberKid(*version);
    cache_.Erase(key->id);
    return storage_->GetKey(key->id);
  }

  KeyRecord key;
  key.id = create.id;
  key.type = type;
  key.purpose = create.purpose.value_or(DefaultPurpose(type));
  s = ValidatePurpose(key.type, key.purpose);
  if (!s.ok()) return s;
  key.description = create.description;
  key.labels = create.labels;
  key.exportable = create.exportable && !public_only;
  key.public_only = public_only;
  key.primary_version = 1;
  key.latest_version = 1;
  key.rotation_period = absl::ZeroDuration();  // imported: rotate by import
  key.jwt_max_ttl = create.jwt_max_ttl;
  key.jwe_algorithm = create.jwe_algorithm;
  key.created_at = options_.now();
  key.rotated_at = key.created_at;
  auto version = NewVersion(key, 1, material, std::move(public_key));
  if (!version.ok()) return version.status();
  version->imported = true;
  version->kid = params.kid;
  s = storage_->CreateKey(key, {*version});
  if (!s.ok()) return s;
  RememberKid(*version);
  return key;
}

absl::StatusOr<int32_t> Keystore::PrimaryVersion(const std::string& id) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  return (*entry)->record.primary_version;
}

absl::StatusOr<KeyRecord> Keystore::GetKey(const std::string& id) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  return (*entry)->record;
}

absl::StatusOr<std::vector<KeyRecord>> Keystore::ListKeys(
    const std::string& after, int limit) {
  return storage_->ListKeys(after, std::clamp(limit, 1, 1000));
}

absl::StatusOr<KeyRecord> Keystore::UpdateKey(const std::string& id,
                                              const KeyUpdate& update) {
  absl::MutexLock lock(&admin_mu_);
  auto key = storage_->GetKey(id);
  if (!key.ok()) return key.status();
  if (update.description) key->description = *update.description;
  if (update.labels) key->labels = *update.labels;
  if (update.min_decrypt_version) {
    int32_t v = *update.min_decrypt_version;
    if (v < 1 || v > key->primary_version) {
      return absl::InvalidArgumentError(absl::StrCat(
          "min_decrypt_version ", v, " must be from 1 to the primary version ",
          key->primary_version, " of key '", id, "'"));
    }
    key->min_decrypt_version = v;
  }
  if (update.rotation_period) {
    absl::Duration p = *update.rotation_period;
    if (p != absl::ZeroDuration() && p < kMinRotationPeriod) {
      return absl::InvalidArgumentError(
          absl::StrCat("rotation period ", absl::FormatDuration(p),
                       " is too short: use 0 (never) or at least 1h"));
    }
    if (p != absl::ZeroDuration() && key->public_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", id, "' holds only imported public keys and cannot rotate"));
    }
    key->rotation_period = p;
  }
  if (update.jwt_max_ttl) {
    if (*update.jwt_max_ttl < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("jwt_max_ttl must not be negative");
    }
    key->jwt_max_ttl = *update.jwt_max_ttl;
  }
  absl::Status s = storage_->UpdateKey(*key);
  if (!s.ok()) return s;
  cache_.Erase(id);
  return key;
}

absl::StatusOr<VersionRecord> Keystore::RotateKey(const std::string& id) {
  absl::MutexLock lock(&admin_mu_);
  auto key = storage_->GetKey(id);
  if (!key.ok()) return key.status();
  if (key->public_only) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' holds an imported public key; Keyward cannot make "
        "new material for it. Import the next public key as a new version"));
  }
  auto material = crypto::GenerateKeyMaterial(key->type);
  if (!material.ok()) return material.status();
  std::string public_key;
  if (IsAsymmetric(key->type)) {
    auto spki = crypto::PublicKeyFromPrivate(key->type, *material);
    if (!spki.ok()) return spki.status();
    public_key = std::move(*spki);
  }
  auto version =
      NewVersion(*key, key->latest_version + 1, *material, std::move(public_key));
  if (!version.ok()) return version.status();
  absl::Status s = storage_->AddVersion(*version, /*make_primary=*/true);
  if (!s.ok()) return s;
  cache_.Erase(id);
  version->wrapped_material.clear();
  return version;
}

absl::StatusOr<std::vector<VersionRecord>> Keystore::ListVersions(
    const std::string& id) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  std::vector<VersionRecord> versions;
  for (const auto& [n, loaded] : (*entry)->versions) {
    versions.push_back(loaded->record());
    versions.back().wrapped_material.clear();
  }
  return versions;
}

absl::StatusOr<VersionRecord> Keystore::GetVersion(const std::string& id,
                                                   int32_t version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  auto it = (*entry)->versions.find(version);
  if (it == (*entry)->versions.end()) {
    return absl::NotFoundError(absl::StrCat("key '", id, "' has no version ",
                                            version));
  }
  VersionRecord v = it->second->record();
  v.wrapped_material.clear();
  return v;
}

absl::Status Keystore::SetState(const std::string& id, int32_t version,
                                VersionState state) {
  absl::MutexLock lock(&admin_mu_);
  auto key = storage_->GetKey(id);
  if (!key.ok()) return key.status();
  auto current = storage_->GetVersion(id, version);
  if (!current.ok()) return current.status();
  if (current->state == state) return absl::OkStatus();
  if (current->state == VersionState::kDestroyed) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(id, version), " was destroyed; it cannot change state again"));
  }
  if (state == VersionState::kDestroyed &&
      current->state != VersionState::kDisabled) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(id, version), " is enabled; disable it first, then destroy it"));
  }
  if (version == key->primary_version && state != VersionState::kEnabled) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(id, version), " is the primary; rotate the key first"));
  }
  absl::Status s = storage_->SetVersionState(id, version, state, options_.now());
  if (!s.ok()) return s;
  cache_.Erase(id);
  return absl::OkStatus();
}

absl::Status Keystore::DisableVersion(const std::string& id, int32_t version) {
  return SetState(id, version, VersionState::kDisabled);
}
absl::Status Keystore::EnableVersion(const std::string& id, int32_t version) {
  return SetState(id, version, VersionState::kEnabled);
}
absl::Status Keystore::DestroyVersion(const std::string& id, int32_t version) {
  return SetState(id, version, VersionState::kDestroyed);
}

absl::StatusOr<std::vector<std::string>> Keystore::KeysDueForRotation() {
  return storage_->ListKeysDueForRotation(options_.now());
}

absl::StatusOr<int> Keystore::PurgeExpiredTokens(int limit) {
  int purged = 0;
  while (purged < limit) {
    auto n = storage_->PurgeTokenRecords(options_.now(),
                                         std::min(1000, limit - purged));
    if (!n.ok()) return n.status();
    purged += *n;
    if (*n == 0) break;
  }
  return purged;
}

absl::Status Keystore::ChangePassphrase(const SecretData& old_passphrase,
                                        const SecretData& new_passphrase) {
  absl::MutexLock lock(&admin_mu_);
  auto meta = storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  auto root = UnlockRoot(*meta, old_passphrase);
  if (!root.ok()) return root.status();
  auto next = RewrapRoot(*root, new_passphrase, options_.kdf);
  if (!next.ok()) return next.status();
  return storage_->ReplaceMeta(meta->wrapped_root_key, *next);
}

absl::StatusOr<int64_t> Keystore::CountKeys() { return storage_->CountKeys(); }

absl::StatusOr<std::string> Keystore::CreateBackup(
    const std::string& scratch_path) {
  absl::Status supported = BackupsSupported();
  if (!supported.ok()) return supported;
  auto root = Root();
  if (!root.ok()) return root.status();
  absl::MutexLock lock(&admin_mu_);  // no passphrase change in between
  auto meta = storage_->ReadMeta();
  if (!meta.ok()) return meta.status();
  absl::Status s = storage_->SnapshotTo(scratch_path);
  if (!s.ok()) return s;
  std::string db;
  {
    std::ifstream in(scratch_path, std::ios::binary);
    db.assign(std::istreambuf_iterator<char>(in), {});
  }
  unlink(scratch_path.c_str());
  if (db.empty()) return absl::UnavailableError("the snapshot came out empty");
  return EncodeBackup(*meta, db, **root);
}

absl::Status Keystore::CreatePolicy(const PolicyRecord& policy) {
  absl::Status s = ValidateKeyId(policy.id);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy name '", absl::CHexEscape(policy.id),
        "' is not valid: use 1 to 63 of a-z 0-9 . _ -"));
  }
  absl::MutexLock lock(&admin_mu_);
  return storage_->CreatePolicy(policy);
}

absl::Status Keystore::DeletePolicy(const std::string& id) {
  absl::MutexLock lock(&admin_mu_);
  return storage_->DeletePolicy(id);
}

absl::StatusOr<std::vector<PolicyRecord>> Keystore::ListPolicies() {
  return storage_->ListPolicies();
}

absl::Status Keystore::CreateApiKey(const ApiKeyRecord& key) {
  if (!ValidateKeyId(key.id).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "API key name '", absl::CHexEscape(key.id),
        "' is not valid: use 1 to 63 of a-z 0-9 . _ -"));
  }
  absl::MutexLock lock(&admin_mu_);
  return storage_->CreateApiKey(key);
}

absl::StatusOr<ApiKeyRecord> Keystore::GetApiKey(const std::string& id) {
  return storage_->GetApiKey(id);
}

absl::StatusOr<std::vector<ApiKeyRecord>> Keystore::ListApiKeys() {
  return storage_->ListApiKeys();
}

absl::Status Keystore::RevokeApiKey(const std::string& id) {
  absl::MutexLock lock(&admin_mu_);
  return storage_->RevokeApiKey(id, options_.now());
}

absl::Status Keystore::TouchApiKey(const std::string& id) {
  return storage_->TouchApiKey(id, options_.now());
}

absl::StatusOr<SecretData> Keystore::ExportKeyMaterial(const std::string& id,
                                                       int32_t version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  if (!(*entry)->record.exportable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' was not created exportable; its material never "
        "leaves Keyward"));
  }
  auto loaded = Usable(**entry, version, "export");
  if (!loaded.ok()) return loaded.status();
  auto material = (*loaded)->Material();
  if (!material.ok()) return material.status();
  return SecretData((*material)->InsecureView());
}

// --- Data plane ------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const KeyEntry>> Keystore::Entry(
    const std::string& id) {
  if (sealed()) return Root().status();
  if (auto cached = cache_.Find(id)) return cached;
  absl::Status valid = ValidateKeyId(id);
  if (!valid.ok()) return valid;
  absl::ReaderMutexLock lock(&admin_mu_);
  auto root = Root();
  if (!root.ok()) return root.status();
  auto key = storage_->GetKey(id);
  if (!key.ok()) return key.status();
  auto versions = storage_->ListVersions(id);
  if (!versions.ok()) return versions.status();
  auto entry = std::make_shared<KeyEntry>();
  entry->record = std::move(*key);
  for (VersionRecord& v : *versions) {
    int32_t n = v.version;
    entry->versions[n] = std::make_unique<LoadedVersion>(
        std::move(v), entry->record.type, *root);
  }
  cache_.Insert(entry);
  return std::shared_ptr<const KeyEntry>(std::move(entry));
}

absl::StatusOr<const LoadedVersion*> Keystore::Usable(const KeyEntry& entry,
                                                      int32_t version,
                                                      absl::string_view use) {
  const KeyRecord& key = entry.record;
  const bool read_old = use == "verify" || use == "decrypt";
  if (version == 0) version = key.primary_version;
  auto it = entry.versions.find(version);
  if (it == entry.versions.end()) {
    if (read_old) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the input names version ", version, " but key '", key.id,
          "' has versions 1 to ", key.latest_version));
    }
    return absl::NotFoundError(absl::StrCat("key '", key.id,
                                            "' has no version ", version));
  }
  const LoadedVersion* loaded = it->second.get();
  switch (loaded->record().state) {
    case VersionState::kEnabled:
      break;
    case VersionState::kDisabled:
      return absl::FailedPreconditionError(absl::StrCat(
          Where(key.id, version), " is disabled; enable it to ", use,
          " with it"));
    case VersionState::kDestroyed:
      return absl::FailedPreconditionError(absl::StrCat(
          Where(key.id, version), " was destroyed; nothing can ", use,
          " with it any more"));
  }
  if (read_old && version < key.min_decrypt_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(key.id, version), " is below the key's minimum decryption "
        "version ", key.min_decrypt_version, "; it cannot ", use));
  }
  return loaded;
}

absl::StatusOr<SignResult> Keystore::Sign(
    const std::string& id, absl::string_view data,
    std::optional<SignatureAlgorithm> algorithm, bool is_digest) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kSignVerify, "sign");
  if (!s.ok()) return s;
  SignatureAlgorithm alg = algorithm.value_or(DefaultAlgorithm(key.type));
  if (!AlgorithmFits(key.type, alg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "algorithm ", crypto::SignatureAlgorithmName(alg), " does not fit key '",
        id, "' (", crypto::KeyTypeName(key.type), ")"));
  }
  auto loaded = Usable(**entry, 0, "sign");
  if (!loaded.ok()) return loaded.status();
  auto signer = (*loaded)->Signer(alg);
  if (!signer.ok()) return PrimitiveError(signer.status(), id, key.primary_version);
  auto signature =
      is_digest ? (*signer)->SignDigest(data) : (*signer)->Sign(data);
  if (!signature.ok()) return signature.status();
  return SignResult{key.primary_version, alg, std::move(*signature)};
}

absl::Status Keystore::Verify(const std::string& id, absl::string_view data,
                              absl::string_view signature,
                              std::optional<SignatureAlgorithm> algorithm,
                              std::optional<int32_t> version,
                              int32_t* used_version, bool is_digest) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kSignVerify, "verify");
  if (!s.ok()) return s;
  SignatureAlgorithm alg = algorithm.value_or(DefaultAlgorithm(key.type));
  if (!AlgorithmFits(key.type, alg)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "algorithm ", crypto::SignatureAlgorithmName(alg), " does not fit key '",
        id, "' (", crypto::KeyTypeName(key.type), ")"));
  }
  Envelope envelope{version.value_or(0), signature};
  if (!version) {
    auto parsed = ParseEnvelope(signature, "signature");
    if (!parsed.ok()) return parsed.status();
    envelope = *parsed;
  }
  auto loaded = Usable(**entry, envelope.version, "verify");
  if (!loaded.ok()) return loaded.status();
  auto verifier = (*loaded)->Verifier(alg);
  if (!verifier.ok()) return PrimitiveError(verifier.status(), id, envelope.version);
  s = is_digest ? (*verifier)->VerifyDigest(envelope.payload, data)
                : (*verifier)->Verify(envelope.payload, data);
  if (s.ok() && used_version != nullptr) *used_version = envelope.version;
  return s;
}

absl::StatusOr<std::string> Keystore::Encrypt(const std::string& id,
                                              absl::string_view plaintext,
                                              absl::string_view associated_data) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kEncryptDecrypt, "encrypt");
  if (!s.ok()) return s;
  auto loaded = Usable(**entry, 0, "encrypt");
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<std::string> sealed;
  if (IsRsa(key.type)) {
    auto encrypter = (*loaded)->Encrypter();
    if (!encrypter.ok()) return PrimitiveError(encrypter.status(), id, key.primary_version);
    if (plaintext.size() > (*encrypter)->MaxPlaintextSize()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "plaintext of ", plaintext.size(), " bytes is too long for RSA-OAEP "
          "with key '", id, "' (at most ", (*encrypter)->MaxPlaintextSize(),
          "); encrypt a data key instead"));
    }
    sealed = (*encrypter)->Encrypt(plaintext, associated_data);
  } else {
    auto aead = (*loaded)->Aead();
    if (!aead.ok()) return PrimitiveError(aead.status(), id, key.primary_version);
    sealed = (*aead)->Encrypt(plaintext, associated_data);
  }
  if (!sealed.ok()) return sealed.status();
  return EncodeEnvelope(key.primary_version, *sealed);
}

absl::StatusOr<SecretData> Keystore::Decrypt(const std::string& id,
                                             absl::string_view ciphertext,
                                             absl::string_view associated_data,
                                             int32_t* used_version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kEncryptDecrypt, "decrypt");
  if (!s.ok()) return s;
  auto envelope = ParseEnvelope(ciphertext, "ciphertext");
  if (!envelope.ok()) return envelope.status();
  auto loaded = Usable(**entry, envelope->version, "decrypt");
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<std::string> opened;
  if (IsRsa(key.type)) {
    auto decrypter = (*loaded)->Decrypter();
    if (!decrypter.ok()) return PrimitiveError(decrypter.status(), id, envelope->version);
    opened = (*decrypter)->Decrypt(envelope->payload, associated_data);
  } else {
    auto aead = (*loaded)->Aead();
    if (!aead.ok()) return PrimitiveError(aead.status(), id, envelope->version);
    opened = (*aead)->Decrypt(envelope->payload, associated_data);
  }
  if (!opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ciphertext is not authentic for ", Where(id, envelope->version),
        " and this associated data (altered, truncated, or made with other "
        "associated data)"));
  }
  SecretData plaintext(*opened);
  std::fill(opened->begin(), opened->end(), '\0');
  if (used_version != nullptr) *used_version = envelope->version;
  return plaintext;
}

absl::StatusOr<std::string> Keystore::ReEncrypt(const std::string& id,
                                                absl::string_view ciphertext,
                                                absl::string_view associated_data) {
  auto plaintext = Decrypt(id, ciphertext, associated_data);
  if (!plaintext.ok()) return plaintext.status();
  return Encrypt(id, plaintext->InsecureView(), associated_data);
}

absl::StatusOr<DataKey> Keystore::GenerateDataKey(
    const std::string& id, size_t size, absl::string_view associated_data) {
  if (size < 16 || size > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data key size ", size, " must be from 16 to 64 bytes (32 for AES-256)"));
  }
  DataKey key;
  key.plaintext = SecretData::Random(size);
  auto sealed = Encrypt(id, key.plaintext.InsecureView(), associated_data);
  if (!sealed.ok()) return sealed.status();
  key.ciphertext = std::move(*sealed);
  return key;
}

absl::StatusOr<SignResult> Keystore::Mac(const std::string& id,
                                         absl::string_view data) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kMac, "compute a MAC");
  if (!s.ok()) return s;
  auto loaded = Usable(**entry, 0, "compute a MAC");
  if (!loaded.ok()) return loaded.status();
  auto mac = (*loaded)->Mac();
  if (!mac.ok()) return PrimitiveError(mac.status(), id, key.primary_version);
  auto tag = (*mac)->ComputeMac(data);
  if (!tag.ok()) return tag.status();
  SignResult result;
  result.version = key.primary_version;
  result.signature = std::move(*tag);
  return result;
}

absl::Status Keystore::VerifyMac(const std::string& id, absl::string_view data,
                                 absl::string_view mac, int32_t* used_version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kMac, "verify a MAC");
  if (!s.ok()) return s;
  auto envelope = ParseEnvelope(mac, "MAC");
  if (!envelope.ok()) return envelope.status();
  auto loaded = Usable(**entry, envelope->version, "verify");
  if (!loaded.ok()) return loaded.status();
  auto primitive = (*loaded)->Mac();
  if (!primitive.ok()) return PrimitiveError(primitive.status(), id, envelope->version);
  s = (*primitive)->VerifyMac(envelope->payload, data);
  if (s.ok() && used_version != nullptr) *used_version = envelope->version;
  return s;
}

std::optional<SignatureAlgorithm> JwsSignatureAlgorithm(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return SignatureAlgorithm::kEd25519;
    case KeyType::kEcdsaP256:
      return SignatureAlgorithm::kEcdsaP256Sha256P1363;
    case KeyType::kEcdsaP384:
      return SignatureAlgorithm::kEcdsaP384Sha384P1363;
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
    case KeyType::kRsa4096:
      return SignatureAlgorithm::kRsaPkcs1Sha256;
    default:
      return std::nullopt;
  }
}

absl::StatusOr<SignResult> Keystore::SignJws(const std::string& id,
                                             int32_t version,
                                             absl::string_view signing_input) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kJwt, "sign a JWT");
  if (!s.ok()) return s;
  auto loaded = Usable(**entry, version, "sign");
  if (!loaded.ok()) return loaded.status();
  const int32_t used = (*loaded)->record().version;
  SignResult result;
  result.version = used;
  if (auto alg = JwsSignatureAlgorithm(key.type)) {
    auto signer = (*loaded)->Signer(*alg);
    if (!signer.ok()) return PrimitiveError(signer.status(), id, used);
    auto sig = (*signer)->Sign(signing_input);
    if (!sig.ok()) return sig.status();
    result.algorithm = *alg;
    result.signature = std::move(*sig);
  } else {
    auto mac = (*loaded)->Mac();
    if (!mac.ok()) return PrimitiveError(mac.status(), id, used);
    auto tag = (*mac)->ComputeMac(signing_input);
    if (!tag.ok()) return tag.status();
    result.signature = std::move(*tag);
  }
  return result;
}

absl::Status Keystore::VerifyJws(const std::string& id, int32_t version,
                                 absl::string_view signing_input,
                                 absl::string_view signature) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kJwt, "verify a JWT");
  if (!s.ok()) return s;
  auto loaded = Usable(**entry, version, "verify");
  if (!loaded.ok()) return loaded.status();
  if (auto alg = JwsSignatureAlgorithm(key.type)) {
    auto verifier = (*loaded)->Verifier(*alg);
    if (!verifier.ok()) return PrimitiveError(verifier.status(), id, version);
    return (*verifier)->Verify(signature, signing_input);
  }
  auto mac = (*loaded)->Mac();
  if (!mac.ok()) return PrimitiveError(mac.status(), id, version);
  return (*mac)->VerifyMac(signature, signing_input);
}

absl::StatusOr<SecretData> Keystore::JweKeyMaterial(const std::string& id,
                                                    int32_t version,
                                                    int32_t* used_version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kKeyAgreement, "do JWE");
  if (!s.ok()) return s;
  auto loaded = Usable(**entry, version, version == 0 ? "encrypt" : "decrypt");
  if (!loaded.ok()) return loaded.status();
  auto material = (*loaded)->Material();
  if (!material.ok()) return material.status();
  if (used_version != nullptr) *used_version = (*loaded)->record().version;
  return SecretData((*material)->InsecureView());
}

absl::StatusOr<PublicKeyInfo> Keystore::GetPublicKey(const std::string& id,
                                                     int32_t version) {
  auto entry = Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  if (!IsAsymmetric(key.type)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' is a symmetric ", crypto::KeyTypeName(key.type),
        " key; it has no public key"));
  }
  auto loaded = Usable(**entry, version, "export a public key");
  if (!loaded.ok()) return loaded.status();
  return PublicKeyInfo{(*loaded)->record().version, key.type,
                       (*loaded)->record().public_key};
}

absl::StatusOr<VersionRecord> Keystore::FindVersionByKid(
    const std::string& kid) {
  std::pair<std::string, int32_t> target;
  {
    absl::ReaderMutexLock lock(&kids_mu_);
    auto it = kids_.find(kid);
    if (it == kids_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "no key version has kid '", absl::CHexEscape(kid.substr(0, 80)), "'"));
    }
    target = it->second;
  }
  return GetVersion(target.first, target.second);
}

void Keystore::RememberKid(const VersionRecord& version) {
  if (version.kid.empty()) return;
  absl::MutexLock lock(&kids_mu_);
  kids_[version.kid] = {version.key_id, version.version};
}

absl::Status Keystore::Restore(absl::string_view backup,
                               const SecretData& passphrase,
                               const std::string& scratch_path) {
  absl::Status supported = BackupsSupported();
  if (!supported.ok()) return supported;
  absl::Status s = RestoreBackup(backup, passphrase, scratch_path);
  if (s.ok()) {
    // No cache load or admin change runs until the new rows are in and the
    // old root key and cached keys are gone.
    absl::MutexLock admin(&admin_mu_);
    s = storage_->ReplaceWith(scratch_path);
    if (s.ok()) Seal();
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(scratch_path, suffix).c_str());
  }
  if (!s.ok()) return s;
  return LoadIndexes();
}

// --- Token records ---------------------------------------------------------

namespace {
std::string TokenAad(absl::string_view jti) {
  return absl::StrCat("keyward token v1:", jti);
}
}  // namespace

absl::Status Keystore::LoadIndexes() {
  auto kids = storage_->ListVersionKids();
  if (!kids.ok()) return kids.status();
  {
    absl::MutexLock lock(&kids_mu_);
    kids_.clear();
    for (VersionRecord& v : *kids) {
      kids_[v.kid] = {std::move(v.key_id), v.version};
    }
  }
  TokenFilter filter;
  filter.state = TokenFilter::State::kRevoked;
  TokenCursor cursor;
  absl::flat_hash_set<std::string> revoked;
  while (true) {
    auto page = storage_->ListTokenRecords(filter, cursor, 1000);
    if (!page.ok()) return page.status();
    for (const TokenRecord& r : *page) revoked.insert(r.jti);
    if (page->size() < 1000) break;
    cursor = {page->back().issued_at, page->back().jti};
  }
  absl::MutexLock lock(&revoked_mu_);
  revoked_ = std::move(revoked);
  any_revoked_.store(!revoked_.empty(), std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Keystore::RecordToken(TokenRecord record, absl::string_view token) {
  record.sealed_token.clear();
  if (!token.empty()) {
    auto root = Root();
    if (!root.ok()) return root.status();
    auto sealed = (*root)->Encrypt(token, TokenAad(record.jti));
    if (!sealed.ok()) return sealed.status();
    record.sealed_token = std::move(*sealed);
  }
  absl::Status s = storage_->CreateTokenRecord(record);
  if (!s.ok()) return s;
  // Records past their retention go a few at a time, so that no call pays
  // for a large purge. After the record, which is the call's change (and
  // takes its audit record, commit_hook.h); a failed purge is left to the
  // next call or to maintenance.
  storage_->PurgeTokenRecords(options_.now(), 64).IgnoreError();
  return absl::OkStatus();
}

absl::StatusOr<TokenRecord> Keystore::GetTokenRecord(const std::string& jti) {
  return storage_->GetTokenRecord(jti);
}

absl::StatusOr<std::vector<TokenRecord>> Keystore::ListTokenRecords(
    const TokenFilter& filter, const TokenCursor& cursor, int limit) {
  return storage_->ListTokenRecords(filter, cursor, limit);
}

absl::StatusOr<TokenRecord> Keystore::RevokeToken(const std::string& jti,
                                                  const std::string& reason,
                                                  const std::string& revoked_by) {
  auto record =
      storage_->RevokeTokenRecord(jti, options_.now(), reason, revoked_by);
  if (!record.ok()) return record.status();
  absl::MutexLock lock(&revoked_mu_);
  revoked_.insert(jti);
  any_revoked_.store(true, std::memory_order_release);
  return record;
}

absl::StatusOr<std::string> Keystore::OpenToken(const TokenRecord& record) {
  if (record.sealed_token.empty()) return std::string();
  auto root = Root();
  if (!root.ok()) return root.status();
  auto token = (*root)->Decrypt(record.sealed_token, TokenAad(record.jti));
  if (!token.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the stored token of record '", record.jti,
        "' failed its integrity check; restore the keystore from a backup"));
  }
  return token;
}

bool Keystore::IsTokenRevoked(const std::string& jti) const {
  if (!any_revoked_.load(std::memory_order_acquire)) return false;
  absl::MutexLock lock(&revoked_mu_);
  return revoked_.contains(jti);
}

}  // namespace keyward::keystore
