// Keystore: the data plane (sign, verify, encrypt, decrypt, MAC, JWS, JWE).
#include "keystore/keystore.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/format.h"
#include "keystore/key_types.h"
#include "keystore/keystore_impl.h"

namespace keyward::keystore {

using crypto::SecretData;
using crypto::SignatureAlgorithm;

namespace {

// ChooseAlgorithm: `asked`, or the key's default, if the key allows it;
// otherwise INVALID_ARGUMENT naming both.
absl::StatusOr<SignatureAlgorithm> ChooseAlgorithm(
    const KeyRecord& key, std::optional<SignatureAlgorithm> asked) {
  const std::vector<SignatureAlgorithm>& offered = key.signature_algorithms;
  if (!asked && !offered.empty()) return offered.front();
  if (asked && std::find(offered.begin(), offered.end(), *asked) != offered.end()) {
    return *asked;
  }
  if (!asked) {
    return absl::FailedPreconditionError(
        absl::StrCat("key '", key.id, "' has no signature algorithm"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "algorithm ", crypto::SignatureAlgorithmName(*asked),
      " is not one of key '", key.id, "''s signature algorithms (",
      SignatureAlgorithmsText(offered), ")"));
}

}  // namespace

absl::StatusOr<SignResult> Keystore::Sign(
    const std::string& id, absl::string_view data,
    std::optional<SignatureAlgorithm> algorithm, bool is_digest) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kSignVerify, "sign");
  if (!s.ok()) return s;
  auto alg = ChooseAlgorithm(key, algorithm);
  if (!alg.ok()) return alg.status();
  auto loaded = impl_->Usable(**entry, 0, "sign");
  if (!loaded.ok()) return loaded.status();
  auto signer = (*loaded)->Signer(*alg);
  if (!signer.ok()) return PrimitiveError(signer.status(), id, key.primary_version);
  auto signature =
      is_digest ? (*signer)->SignDigest(data) : (*signer)->Sign(data);
  if (!signature.ok()) return signature.status();
  return SignResult{key.primary_version, *alg, std::move(*signature)};
}

absl::Status Keystore::Verify(const std::string& id, absl::string_view data,
                              absl::string_view signature,
                              std::optional<SignatureAlgorithm> algorithm,
                              std::optional<int32_t> version,
                              int32_t* used_version, bool is_digest) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kSignVerify, "verify");
  if (!s.ok()) return s;
  auto alg = ChooseAlgorithm(key, algorithm);
  if (!alg.ok()) return alg.status();
  Envelope envelope{version.value_or(0), signature};
  if (!version) {
    auto parsed = ParseEnvelope(signature, "signature");
    if (!parsed.ok()) return parsed.status();
    envelope = *parsed;
  }
  auto loaded = impl_->Usable(**entry, envelope.version, "verify");
  if (!loaded.ok()) return loaded.status();
  auto verifier = (*loaded)->Verifier(*alg);
  if (!verifier.ok()) return PrimitiveError(verifier.status(), id, envelope.version);
  s = is_digest ? (*verifier)->VerifyDigest(envelope.payload, data)
                : (*verifier)->Verify(envelope.payload, data);
  if (s.ok() && used_version != nullptr) *used_version = envelope.version;
  return s;
}

absl::StatusOr<std::string> Keystore::Encrypt(const std::string& id,
                                              absl::string_view plaintext,
                                              absl::string_view associated_data) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kEncryptDecrypt, "encrypt");
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, 0, "encrypt");
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<std::string> sealed;
  // Asymmetric keys: RSA-OAEP, or an X25519 key's NaCl sealed box.
  if (KeyTypeInfoOf(key.type).asymmetric) {
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
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kEncryptDecrypt, "decrypt");
  if (!s.ok()) return s;
  auto envelope = ParseEnvelope(ciphertext, "ciphertext");
  if (!envelope.ok()) return envelope.status();
  auto loaded = impl_->Usable(**entry, envelope->version, "decrypt");
  if (!loaded.ok()) return loaded.status();
  absl::StatusOr<std::string> opened;
  if (KeyTypeInfoOf(key.type).asymmetric) {
    auto decrypter = (*loaded)->Decrypter();
    if (!decrypter.ok()) return PrimitiveError(decrypter.status(), id, envelope->version);
    opened = (*decrypter)->Decrypt(envelope->payload, associated_data);
  } else {
    auto aead = (*loaded)->Aead();
    if (!aead.ok()) return PrimitiveError(aead.status(), id, envelope->version);
    opened = (*aead)->Decrypt(envelope->payload, associated_data);
  }
  if (!opened.ok() &&
      absl::StrContains(opened.status().message(), "no associated data")) {
    return opened.status();  // secretbox, sealed box: a request-shape error
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
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kMac, "compute a MAC");
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, 0, "compute a MAC");
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
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kMac, "verify a MAC");
  if (!s.ok()) return s;
  auto envelope = ParseEnvelope(mac, "MAC");
  if (!envelope.ok()) return envelope.status();
  auto loaded = impl_->Usable(**entry, envelope->version, "verify");
  if (!loaded.ok()) return loaded.status();
  auto primitive = (*loaded)->Mac();
  if (!primitive.ok()) return PrimitiveError(primitive.status(), id, envelope->version);
  s = (*primitive)->VerifyMac(envelope->payload, data);
  if (s.ok() && used_version != nullptr) *used_version = envelope->version;
  return s;
}

absl::StatusOr<SignResult> Keystore::SignJws(const std::string& id,
                                             int32_t version,
                                             absl::string_view signing_input) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kJwt, "sign a JWT");
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, version, "sign");
  if (!loaded.ok()) return loaded.status();
  const int32_t used = (*loaded)->record().version;
  SignResult result;
  result.version = used;
  if (!key.signature_algorithms.empty()) {
    const SignatureAlgorithm alg = key.signature_algorithms.front();
    auto signer = (*loaded)->Signer(alg);
    if (!signer.ok()) return PrimitiveError(signer.status(), id, used);
    auto sig = (*signer)->Sign(signing_input);
    if (!sig.ok()) return sig.status();
    result.algorithm = alg;
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
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kJwt, "verify a JWT");
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, version, "verify");
  if (!loaded.ok()) return loaded.status();
  if (!key.signature_algorithms.empty()) {
    auto verifier = (*loaded)->Verifier(key.signature_algorithms.front());
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
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  absl::Status s = CheckPurpose(key, KeyPurpose::kKeyAgreement, "do JWE");
  if (!s.ok()) return s;
  auto loaded = impl_->Usable(**entry, version, version == 0 ? "encrypt" : "decrypt");
  if (!loaded.ok()) return loaded.status();
  auto material = (*loaded)->Material();
  if (!material.ok()) return material.status();
  if (used_version != nullptr) *used_version = (*loaded)->record().version;
  return SecretData((*material)->InsecureView());
}

absl::StatusOr<PublicKeyInfo> Keystore::GetPublicKey(const std::string& id,
                                                     int32_t version) {
  auto entry = impl_->Entry(id);
  if (!entry.ok()) return entry.status();
  const KeyRecord& key = (*entry)->record;
  if (!KeyTypeInfoOf(key.type).asymmetric) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", id, "' is a symmetric ", crypto::KeyTypeName(key.type),
        " key; it has no public key"));
  }
  auto loaded = impl_->Usable(**entry, version, "export a public key");
  if (!loaded.ok()) return loaded.status();
  return PublicKeyInfo{(*loaded)->record().version, key.type,
                       (*loaded)->record().public_key};
}

}  // namespace keyward::keystore
