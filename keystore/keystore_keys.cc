// Keystore: keys and their versions (create, import, update, rotate, state).
#include "keystore/keystore.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/key_components.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/nacl.h"
#include "keystore/key_types.h"
#include "keystore/internal/storage_errors.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

namespace {

absl::Status KidInUse(const std::string& kid) {
  return absl::AlreadyExistsError(absl::StrCat(
      "kid '", kid, "' is in use by another key version; kids are unique in "
      "the keystore"));
}

// ImportedType is the type of an imported key parsed as `parsed`: an EC
// P-256 key may serve ECDSA or ECDH, and the caller's `requested` type
// decides.
KeyType ImportedType(KeyType parsed, KeyType requested) {
  return parsed == KeyType::kEcdsaP256 && requested == KeyType::kEcdhP256
             ? KeyType::kEcdhP256
             : parsed;
}

// CheckJwtSettings: a key's token lifetimes and issuer are within
// CreateKeyParams' limits, the default lifetime within the maximum.
absl::Status CheckJwtSettings(const KeyRecord& key) {
  if (key.jwt_max_ttl < absl::ZeroDuration() ||
      key.jwt_max_ttl > kLongestJwtTtl ||
      key.jwt_default_ttl < absl::ZeroDuration() ||
      key.jwt_default_ttl > kLongestJwtTtl) {
    return absl::InvalidArgumentError(
        "jwt.max_ttl and jwt.default_ttl are 0 (the default) to 366 days");
  }
  const absl::Duration max_ttl = key.jwt_max_ttl > absl::ZeroDuration()
                                     ? key.jwt_max_ttl
                                     : kDefaultJwtMaxTtl;
  if (key.jwt_default_ttl > max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jwt.default_ttl ", absl::FormatDuration(key.jwt_default_ttl),
        " is over the key's jwt.max_ttl of ", absl::FormatDuration(max_ttl),
        "; lower it or raise jwt.max_ttl"));
  }
  if (key.jwt_issuer.size() > kMaxJwtIssuerBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jwt.issuer is ", key.jwt_issuer.size(), " bytes; at most ",
        kMaxJwtIssuerBytes));
  }
  return absl::OkStatus();
}

absl::Status CheckRotationPeriod(absl::Duration period) {
  if (period != absl::ZeroDuration() && period < kMinRotationPeriod) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation period ", absl::FormatDuration(period),
                     " is too short: use 0 (never) or at least 1h"));
  }
  return absl::OkStatus();
}

// SetTemplate gives a new key the settings of `params` that CreateKey and
// ImportKey share, checked.
absl::Status SetTemplate(const CreateKeyParams& params, KeyRecord* key) {
  absl::Status s = ValidatePurpose(key->type, key->purpose);
  if (!s.ok()) return s;
  s = CheckRotationPeriod(params.rotation_period);
  if (!s.ok()) return s;
  auto algorithms = ChooseSignatureAlgorithms(key->type, key->purpose,
                                              params.signature_algorithms);
  if (!algorithms.ok()) return algorithms.status();
  key->signature_algorithms = std::move(*algorithms);
  key->description = params.description;
  key->labels = params.labels;
  key->rotation_period = params.rotation_period;
  key->jwt_max_ttl = params.jwt_max_ttl;
  key->jwt_default_ttl = params.jwt_default_ttl;
  key->jwt_issuer = params.jwt_issuer;
  key->jwe_algorithm = params.jwe_algorithm;
  return CheckJwtSettings(*key);
}

}  // namespace

absl::StatusOr<KeyRecord> Keystore::CreateKey(const CreateKeyParams& params) {
  absl::Status s = ValidateKeyId(params.id);
  if (!s.ok()) return s;
  KeyRecord key;
  key.id = params.id;
  key.type = params.type;
  key.purpose = params.purpose.value_or(KeyTypeInfoOf(params.type).default_purpose);
  s = SetTemplate(params, &key);
  if (!s.ok()) return s;
  key.exportable = params.exportable;
  key.primary_version = 1;
  key.latest_version = 1;
  key.created_at = impl_->options_.now();
  key.rotated_at = key.created_at;

  auto material = crypto::GenerateKeyMaterial(key.type);
  if (!material.ok()) return material.status();
  std::string public_key;
  if (KeyTypeInfoOf(key.type).asymmetric) {
    auto spki = crypto::PublicKeyFromPrivate(key.type, *material);
    if (!spki.ok()) return spki.status();
    public_key = std::move(*spki);
  }
  auto version = impl_->NewVersion(key, 1, *material, std::move(public_key));
  if (!version.ok()) return version.status();
  absl::MutexLock lock(&impl_->admin_mu_);
  s = impl_->storage_->CreateKey(key, {*version});
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
  bool short_secret = false;
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
        s = crypto::CheckEncryptedKeyCost(pem, impl_->options_.import_kdf_limits);
        if (!s.ok()) return s;
        if (params.before_costly_work) {
          s = params.before_costly_work();
          if (!s.ok()) return s;
        }
      }
      auto parsed = crypto::ParsePrivateKeyPem(
          pem, params.passphrase ? &*params.passphrase : nullptr,
          impl_->options_.import_kdf_limits);
      if (!parsed.ok()) return parsed.status();
      type = ImportedType(parsed->type, create.type);
      material = std::move(parsed->pkcs8_der);
      auto spki = crypto::PublicKeyFromPrivate(type, material);
      if (!spki.ok()) return spki.status();
      public_key = std::move(*spki);
      break;
    }
    case ImportFormat::kPublicKey: {
      auto parsed = crypto::ParsePublicKey(params.material.InsecureView());
      if (!parsed.ok()) return parsed.status();
      type = ImportedType(parsed->type, create.type);
      public_key = std::move(parsed->spki_der);
      public_only = true;
      break;
    }
    case ImportFormat::kRawSecret: {
      size_t n = params.material.size();
      const KeyTypeInfo& info = KeyTypeInfoOf(type);
      short_secret = n < info.min_import_secret;
      const size_t least = params.allow_short_secret && info.min_legacy_secret > 0
                               ? info.min_legacy_secret
                               : info.min_import_secret;
      bool fits = info.max_import_secret != 0 && n >= least &&
                  n <= info.max_import_secret;
      if (!fits && short_secret && info.min_legacy_secret > 0 && n > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a ", n, "-byte secret is shorter than the ",
            info.min_import_secret, " bytes RFC 7518 s3.2 requires of a ",
            crypto::KeyTypeName(type), " key; to import a legacy issuer's "
            "short secret anyway, ask for it explicitly "
            "(ImportKeyRequest.allow_short_secret, `keyward key import "
            "--allow-short-secret`): the key is then marked"));
      }
      if (!fits) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a raw secret of ", n, " bytes cannot be a ",
            crypto::KeyTypeName(type),
            " key: AES256_GCM, XSALSA20_POLY1305, XCHACHA20_POLY1305 and "
            "X25519 take exactly 32 bytes, HMAC keys their hash's length "
            "(32, 48, 64) to 1024"));
      }
      if (info.asymmetric) {
        // Only X25519 takes a raw private key (NaCl's form): kept as PKCS#8.
        auto pkcs8 = crypto::X25519PrivateKeyFromRaw(params.material);
        if (!pkcs8.ok()) return pkcs8.status();
        material = *std::move(pkcs8);
        auto spki = crypto::PublicKeyFromPrivate(type, material);
        if (!spki.ok()) return spki.status();
        public_key = std::move(*spki);
        break;
      }
      material = SecretData(params.material.InsecureView());
      break;
    }
  }
  // OpenSSL 3 parses RSA keys that no one should trust (e = 1 makes every
  // signature verify); refuse them whichever library parsed the key.
  if (KeyTypeInfoOf(type).rsa) {
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
    // A quick refusal with a clear message; the storage's unique index on
    // kids is what holds against a concurrent import (KidInUse below).
    if (impl_->storage_->FindVersionByKid(params.kid).ok()) {
      return KidInUse(params.kid);
    }
  }
  absl::MutexLock lock(&impl_->admin_mu_);
  if (params.new_version) {
    auto key = impl_->storage_->GetKey(create.id);
    if (!key.ok()) return key.status();
    if (key->type != type || key->public_only != public_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", key->id, "' is ", key->public_only ? "a public-only " : "a ",
          crypto::KeyTypeName(key->type), " key; the import is ",
          public_only ? "a public-only " : "a ", crypto::KeyTypeName(type),
          " key"));
    }
    if (short_secret && !key->legacy_short_secret) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", key->id, "' was not imported with a legacy short secret, "
          "so it takes no short secret as a new version; import the short "
          "secret as a new key (allow_short_secret), or a full-length one"));
    }
    if (!params.expect_algorithms.empty() &&
        params.expect_algorithms != key->signature_algorithms) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the imported key is for ",
          SignatureAlgorithmsText(params.expect_algorithms), " but key '",
          key->id, "' signs with ",
          key->signature_algorithms.empty()
              ? std::string("its type's algorithm")
              : SignatureAlgorithmsText(key->signature_algorithms)));
    }
    auto version =
        impl_->NewVersion(*key, key->latest_version + 1, material, std::move(public_key));
    if (!version.ok()) return version.status();
    version->imported = true;
    version->kid = params.kid;
    s = impl_->storage_->AddVersion(*version, /*make_primary=*/true);
    if (absl::IsAlreadyExists(s) && !params.kid.empty()) {
      return KidInUse(params.kid);
    }
    if (!s.ok()) return s;
    impl_->RememberKid(*version);
    impl_->cache_.Erase(key->id);
    return impl_->storage_->GetKey(key->id);
  }

  KeyRecord key;
  key.id = create.id;
  key.type = type;
  key.purpose = create.purpose.value_or(KeyTypeInfoOf(type).default_purpose);
  s = SetTemplate(create, &key);
  if (!s.ok()) return s;
  if (public_only && key.rotation_period != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "a public key cannot rotate automatically (Keyward cannot make its "
        "next private key); leave rotation_period unset and import the next "
        "public key as a new version");
  }
  key.exportable = create.exportable && !public_only;
  key.public_only = public_only;
  key.legacy_short_secret = short_secret;
  key.primary_version = 1;
  key.latest_version = 1;
  key.created_at = impl_->options_.now();
  key.rotated_at = key.created_at;
  auto version = impl_->NewVersion(key, 1, material, std::move(public_key));
  if (!version.ok()) return version.status();
  version->imported = true;
  version->kid = params.kid;
  s = impl_->storage_->CreateKey(key, {*version});
  if (absl::IsAlreadyExists(s) && !params.kid.empty() &&
      absl::IsNotFound(impl_->storage_->GetKey(key.id).status())) {
    return KidInUse(params.kid);
  }
  if (!s.ok()) return s;
  impl_->RememberKid(*version);
  return key;
}

absl::StatusOr<int32_t> Keystore::PrimaryVersion(const std::string& id) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  return (*entry)->record.primary_version;
}

absl::StatusOr<KeyRecord> Keystore::GetKey(const std::string& id) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  return (*entry)->record;
}

absl::StatusOr<std::vector<KeyRecord>> Keystore::ListKeys(
    const std::string& after, int limit) {
  return impl_->storage_->ListKeys(after, std::clamp(limit, 1, 1000));
}

namespace {

// SetMinVersion sets `*field` (the key's `name`) to `v` if the update names
// one: INVALID_ARGUMENT unless it is from 1 to the key's primary version.
absl::Status SetMinVersion(const std::optional<int32_t>& v, const char* name,
                           const KeyRecord& key, int32_t* field) {
  if (!v) return absl::OkStatus();
  if (*v < 1 || *v > key.primary_version) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " ", *v, " must be from 1 to the primary version ",
                     key.primary_version, " of key '", key.id, "'"));
  }
  *field = *v;
  return absl::OkStatus();
}

// ApplyUpdate sets the fields `update` names on `key`, checked against it.
absl::Status ApplyUpdate(const KeyUpdate& update, KeyRecord* key) {
  const std::string& id = key->id;
  if (update.description) key->description = *update.description;
  if (update.labels) key->labels = *update.labels;
  absl::Status min =
      SetMinVersion(update.min_decrypt_version, "min_decrypt_version", *key,
                    &key->min_decrypt_version);
  if (!min.ok()) return min;
  min = SetMinVersion(update.min_encrypt_version, "min_encrypt_version", *key,
                      &key->min_encrypt_version);
  if (!min.ok()) return min;
  if (update.rotation_period) {
    absl::Duration p = *update.rotation_period;
    absl::Status s = CheckRotationPeriod(p);
    if (!s.ok()) return s;
    if (p != absl::ZeroDuration() && key->public_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", id, "' holds only imported public keys and cannot rotate"));
    }
    key->rotation_period = p;
  }
  if (update.jwt_max_ttl) key->jwt_max_ttl = *update.jwt_max_ttl;
  if (update.jwt_default_ttl) key->jwt_default_ttl = *update.jwt_default_ttl;
  if (update.jwt_issuer) key->jwt_issuer = *update.jwt_issuer;
  return CheckJwtSettings(*key);
}

// How often UpdateKey re-reads and re-applies after losing a race.
constexpr int kUpdateAttempts = 5;

}  // namespace

absl::StatusOr<KeyRecord> Keystore::UpdateKey(const std::string& id,
                                              const KeyUpdate& update) {
  absl::MutexLock lock(&impl_->admin_mu_);
  // Conditional on the revision read: another replica's change (a rotation
  // included) in between makes the write ABORTED, and the caller's partial
  // update is applied again to the key as it now is.
  for (int attempt = 1;; ++attempt) {
    auto key = impl_->storage_->GetKey(id);
    if (!key.ok()) return key.status();
    const int64_t read = key->revision;
    absl::Status s = ApplyUpdate(update, &*key);
    if (!s.ok()) return s;
    s = impl_->storage_->UpdateKey(*key, read);
    if (absl::IsAborted(s) && attempt < kUpdateAttempts) continue;
    impl_->cache_.Erase(id);
    if (absl::IsAborted(s)) {
      return absl::AbortedError(absl::StrCat(
          "key '", id, "' kept changing while it was updated (", attempt,
          " attempts); try again"));
    }
    if (!s.ok()) return s;
    key->revision = read + 1;
    return key;
  }
}

absl::StatusOr<VersionRecord> Keystore::RotateKey(const std::string& id) {
  return Rotate(id, /*only_if_due=*/false);
}

absl::StatusOr<VersionRecord> Keystore::RotateKeyIfDue(const std::string& id) {
  return Rotate(id, /*only_if_due=*/true);
}

absl::StatusOr<VersionRecord> Keystore::Rotate(const std::string& id,
                                               bool only_if_due) {
  absl::MutexLock lock(&impl_->admin_mu_);
  auto key = impl_->storage_->GetKey(id);
  if (!key.ok()) return key.status();
  // Due: as ListKeysDueForRotation.
  auto not_due = [&]() -> absl::Status {
    if (!only_if_due) return absl::OkStatus();
    if (key->rotation_period > absl::ZeroDuration() &&
        key->rotated_at + key->rotation_period <= impl_->options_.now()) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' is no longer due for rotation (rotated at ",
        absl::FormatTime(key->rotated_at), "); nothing was written"));
  };
  if (absl::Status s = not_due(); !s.ok()) return s;
  if (key->public_only) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' holds an imported public key; Keyward cannot make "
        "new material for it. Import the next public key as a new version"));
  }
  auto material = crypto::GenerateKeyMaterial(key->type);
  if (!material.ok()) return material.status();
  std::string public_key;
  if (KeyTypeInfoOf(key->type).asymmetric) {
    auto spki = crypto::PublicKeyFromPrivate(key->type, *material);
    if (!spki.ok()) return spki.status();
    public_key = std::move(*spki);
  }
  // AddVersion is conditional on the latest version read: if another
  // replica rotated in between (ABORTED), the same material goes in as the
  // next number, re-read (a few times at most).
  for (int attempt = 1;; ++attempt) {
    auto version = impl_->NewVersion(*key, key->latest_version + 1, *material,
                                     public_key);
    if (!version.ok()) return version.status();
    absl::Status s =
        impl_->storage_->AddVersion(*version, /*make_primary=*/true);
    if (absl::IsAborted(s) && attempt < kUpdateAttempts) {
      key = impl_->storage_->GetKey(id);
      if (!key.ok()) return key.status();
      if (absl::Status due = not_due(); !due.ok()) return due;
      continue;
    }
    impl_->cache_.Erase(id);
    if (!s.ok()) return s;
    version->wrapped_material.clear();
    return version;
  }
}

absl::StatusOr<std::vector<VersionRecord>> Keystore::ListVersions(
    const std::string& id) {
  auto entry = impl_->Entry(id);
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
  auto entry = impl_->Entry(id);
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

absl::Status Keystore::Impl::SetState(const std::string& id, int32_t version,
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
  // The primary only moves to a newer version, so a version that is not
  // the primary now never becomes it again: this check holds at the write.
  if (version == key->primary_version && state != VersionState::kEnabled) {
    return absl::FailedPreconditionError(absl::StrCat(
        Where(id, version), " is the primary; rotate the key first"));
  }
  // Conditional on the state checked above ("only a disabled version can
  // be destroyed" holds at the write, against any other writer).
  absl::Status s = storage_->SetVersionState(id, version, current->state,
                                             state, options_.now());
  cache_.Erase(id);
  if (absl::IsAborted(s)) {
    auto now = storage_->GetVersion(id, version);
    if (!now.ok()) return now.status();
    if (now->state == state) return absl::OkStatus();  // made concurrently
    return absl::FailedPreconditionError(absl::StrCat(
        Where(id, version), " changed while this call ran: it is now ",
        internal::VersionStateName(now->state),
        "; check its state and try again"));
  }
  return s;
}

absl::Status Keystore::DisableVersion(const std::string& id, int32_t version) {
  return impl_->SetState(id, version, VersionState::kDisabled);
}
absl::Status Keystore::EnableVersion(const std::string& id, int32_t version) {
  return impl_->SetState(id, version, VersionState::kEnabled);
}
absl::Status Keystore::DestroyVersion(const std::string& id, int32_t version) {
  return impl_->SetState(id, version, VersionState::kDestroyed);
}

absl::StatusOr<std::vector<std::string>> Keystore::KeysDueForRotation() {
  return impl_->storage_->ListKeysDueForRotation(impl_->options_.now());
}

absl::StatusOr<SecretData> Keystore::ExportKeyMaterial(const std::string& id,
                                                       int32_t version) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  if (!(*entry)->record.exportable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' was not created exportable; its material never "
        "leaves Keyward"));
  }
  auto loaded = impl_->Usable(**entry, version, "export");
  if (!loaded.ok()) return loaded.status();
  auto material = (*loaded)->Material();
  if (!material.ok()) return material.status();
  return SecretData((*material)->InsecureView());
}

absl::StatusOr<VersionRecord> Keystore::FindVersionByKid(
    const std::string& kid) {
  std::pair<std::string, int32_t> target;
  {
    absl::ReaderMutexLock lock(&impl_->kids_mu_);
    auto it = impl_->kids_.find(kid);
    if (it != impl_->kids_.end()) target = it->second;
  }
  if (target.first.empty()) {
    // On PostgreSQL another replica may have imported it a moment ago
    // (before this one's feed caught up): the database decides.
    absl::StatusOr<VersionRecord> stored = absl::NotFoundError("");
    if (impl_->postgres_) stored = impl_->storage_->FindVersionByKid(kid);
    if (!stored.ok() && !absl::IsNotFound(stored.status())) {
      return stored.status();
    }
    if (!stored.ok()) {
      return absl::NotFoundError(absl::StrCat(
          "no key version has kid '", absl::CHexEscape(kid.substr(0, 80)), "'"));
    }
    impl_->RememberKid(*stored);
    target = {stored->key_id, stored->version};
  }
  return GetVersion(target.first, target.second);
}

}  // namespace keyward::keystore
