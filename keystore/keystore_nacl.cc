// Keystore: NaCl crypto_box between an X25519 key and a peer's public key.
// (Sealed boxes are Encrypt/Decrypt with an X25519 key: keystore_data.cc.)
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "keystore/crypto/nacl.h"
#include "keystore/key_types.h"
#include "keystore/keystore.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {
namespace {

// CheckBoxKey: an X25519 key for encrypt/decrypt, else FAILED_PRECONDITION.
absl::Status CheckBoxKey(const KeyRecord& key, absl::string_view operation) {
  if (key.type != KeyType::kX25519) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", key.id, "' is ", crypto::KeyTypeName(key.type),
        "; NaCl boxes need an X25519 key"));
  }
  return CheckPurpose(key, KeyPurpose::kEncryptDecrypt, operation);
}

}  // namespace

absl::StatusOr<BoxResult> Keystore::Box(const std::string& id,
                                        absl::string_view peer_public_key,
                                        absl::string_view plaintext) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckBoxKey(key, "box");
  if (!s.ok()) return s;
  s = crypto::CheckPeerPublicKey(peer_public_key);
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, 0, "encrypt");
  if (!loaded.ok()) return loaded.status();
  auto box = (*loaded)->Box();
  if (!box.ok()) return PrimitiveError(box.status(), id, key.primary_version);
  auto sealed = (*box)->Seal(peer_public_key, plaintext);
  if (!sealed.ok()) return sealed.status();
  return BoxResult{key.primary_version, *std::move(sealed),
                   (*box)->PublicKey()};
}

absl::StatusOr<crypto::SecretData> Keystore::BoxOpen(
    const std::string& id, int32_t version, absl::string_view peer_public_key,
    absl::string_view nonce, absl::string_view ciphertext,
    int32_t* used_version) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckBoxKey(key, "open a box");
  if (!s.ok()) return s;
  if (!nonce.empty() && nonce.size() != crypto::kNaclNonceSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a box nonce is 24 bytes, not ", nonce.size()));
  }
  s = crypto::CheckPeerPublicKey(peer_public_key);
  if (!s.ok()) return s;
  if (version == 0) version = key.primary_version;
  auto loaded = impl_->Usable(**entry, version, "decrypt");
  if (!loaded.ok()) return loaded.status();
  auto box = (*loaded)->Box();
  if (!box.ok()) return PrimitiveError(box.status(), id, version);
  auto opened = (*box)->Open(peer_public_key, nonce, ciphertext);
  if (!opened.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the box is not authentic for ", Where(id, version),
        " and this sender key (altered, truncated, sealed by another sender "
        "or to another key)"));
  }
  crypto::SecretData plaintext(*opened);
  std::fill(opened->begin(), opened->end(), '\0');
  if (used_version != nullptr) *used_version = version;
  return plaintext;
}

}  // namespace keyward::keystore
