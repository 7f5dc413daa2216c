// Keystore::Impl (keystore_impl.h) and the helpers the keystore's parts share.
#include "keystore/keystore_impl.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/format.h"
#include "keystore/key_types.h"

namespace keyward::keystore {

using crypto::SecretData;

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

absl::Status CheckPurpose(const KeyRecord& key, KeyPurpose wanted,
                          absl::string_view operation) {
  if (key.purpose == wanted) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "key '", key.id, "' is a ", crypto::KeyTypeName(key.type), " key for ",
      KeyPurposeName(key.purpose), "; it cannot ", operation));
}


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

Keystore::Impl::Impl(std::unique_ptr<Storage> storage, KeystoreOptions options,
                     std::shared_ptr<const crypto::Aead> root)
    : storage_(std::move(storage)),
      options_(std::move(options)),
      root_(std::move(root)),
      sealed_(root_ == nullptr),
      cache_(std::max<size_t>(1, options_.cache_size)) {}

absl::StatusOr<std::shared_ptr<const crypto::Aead>> Keystore::Impl::Root() const {
  absl::MutexLock lock(&root_mu_);
  if (root_ == nullptr) {
    return absl::UnavailableError(
        "keywardd is sealed: it holds no keys until it is unsealed with the "
        "passphrase (`keyward unseal`)");
  }
  return root_;
}

absl::StatusOr<VersionRecord> Keystore::Impl::NewVersion(const KeyRecord& key,
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

// --- Data plane ------------------------------------------------------------

absl::StatusOr<std::shared_ptr<const KeyEntry>> Keystore::Impl::Entry(
    const std::string& id) {
  if (sealed()) return Root().status();
  if (auto cached = cache_.Find(id)) return cached;
  absl::Status valid = ValidateKeyId(id);
  if (!valid.ok()) return valid;
  absl::ReaderMutexLock lock(&admin_mu_);
  auto root = Root();
  if (!root.ok()) return root.status();
  // The key and its versions in one snapshot: a rotation committed by
  // another replica shows whole or not at all.
  auto loaded = storage_->GetKeyWithVersions(id);
  if (!loaded.ok()) return loaded.status();
  auto entry = std::make_shared<KeyEntry>();
  entry->record = std::move(loaded->key);
  entry->feed_head = loaded->feed_head;
  for (VersionRecord& v : loaded->versions) {
    int32_t n = v.version;
    entry->versions[n] = std::make_unique<LoadedVersion>(
        std::move(v), entry->record.type, *root);
  }
  cache_.Insert(entry);
  return std::shared_ptr<const KeyEntry>(std::move(entry));
}

absl::StatusOr<const LoadedVersion*> Keystore::Impl::Usable(const KeyEntry& entry,
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

void Keystore::Impl::RememberKid(const VersionRecord& version) {
  if (version.kid.empty()) return;
  absl::MutexLock lock(&kids_mu_);
  kids_[version.kid] = {version.key_id, version.version};
}

absl::Status Keystore::Impl::LoadIndexes() {
  const absl::Time started = absl::Now();
  auto head = storage_->ChangeHead();
  if (!head.ok()) return head.status();
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
  {
    absl::MutexLock lock(&revoked_mu_);
    revoked_ = std::move(revoked);
    any_revoked_.store(!revoked_.empty(), std::memory_order_release);
  }
  if (*head > feed_position_.load()) feed_position_.store(*head);
  caught_up_at_us_.store(absl::ToUnixMicros(started));
  return absl::OkStatus();
}
}  // namespace keyward::keystore
