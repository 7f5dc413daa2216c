#include "keystore/key_types.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace keyward::keystore {
namespace {

using crypto::HashType;
using crypto::SignatureAlgorithm;
using jose::JweAlgorithm;
using jose::JwsAlgorithm;

constexpr KeyType kLastKeyType = KeyType::kXChaCha20Poly1305;

KeyTypeInfo Symmetric(KeyType type, size_t size, KeyPurpose purpose) {
  KeyTypeInfo info;
  info.type = type;
  info.secret_size = size;
  info.default_purpose = purpose;
  return info;
}

KeyTypeInfo Hmac(KeyType type, size_t size, HashType hash, JwsAlgorithm jws) {
  KeyTypeInfo info = Symmetric(type, size, KeyPurpose::kMac);
  info.min_import_secret = 16;
  info.max_import_secret = 1024;
  info.other_purposes = {KeyPurpose::kJwt};
  info.hmac_hash = hash;
  info.jws_algorithm = jws;
  return info;
}

KeyTypeInfo Signing(KeyType type, std::vector<SignatureAlgorithm> algorithms,
                    SignatureAlgorithm jws_signature, JwsAlgorithm jws) {
  KeyTypeInfo info;
  info.type = type;
  info.asymmetric = true;
  info.default_purpose = KeyPurpose::kSignVerify;
  info.other_purposes = {KeyPurpose::kJwt};
  info.signature_algorithms = std::move(algorithms);
  info.jws_signature = jws_signature;
  info.jws_algorithm = jws;
  return info;
}

KeyTypeInfo Rsa(KeyType type) {
  KeyTypeInfo info = Signing(
      type,
      {SignatureAlgorithm::kRsaPssSha256, SignatureAlgorithm::kRsaPkcs1Sha256,
       SignatureAlgorithm::kRsaPkcs1Sha384, SignatureAlgorithm::kRsaPkcs1Sha512,
       SignatureAlgorithm::kRsaPssSha384, SignatureAlgorithm::kRsaPssSha512},
      SignatureAlgorithm::kRsaPkcs1Sha256, JwsAlgorithm::kRs256);
  info.rsa = true;
  info.other_purposes = {KeyPurpose::kEncryptDecrypt, KeyPurpose::kJwt,
                         KeyPurpose::kKeyAgreement};
  info.jwe_algorithms = {JweAlgorithm::kRsaOaep256, JweAlgorithm::kRsaOaep};
  return info;
}

// X25519Row: NaCl box and sealed boxes (Encrypt/Decrypt, Box/BoxOpen), and
// JWE key agreement (ECDH-ES over X25519, RFC 8037). A raw 32-byte private
// key may be imported (keystore_keys.cc makes it PKCS#8).
KeyTypeInfo X25519Row() {
  KeyTypeInfo info;
  info.type = KeyType::kX25519;
  info.asymmetric = true;
  info.min_import_secret = info.max_import_secret = 32;
  info.default_purpose = KeyPurpose::kEncryptDecrypt;
  info.other_purposes = {KeyPurpose::kKeyAgreement};
  info.jwe_algorithms = {JweAlgorithm::kEcdhEsA256Kw, JweAlgorithm::kEcdhEs};
  return info;
}

// Row: one type's facts. A switch without a default, so that a new
// enumerator without a row does not compile (-Werror=switch).
KeyTypeInfo Row(KeyType type) {
  switch (type) {
    case KeyType::kAes256Gcm: {
      KeyTypeInfo info = Symmetric(type, 32, KeyPurpose::kEncryptDecrypt);
      info.min_import_secret = info.max_import_secret = 32;
      info.other_purposes = {KeyPurpose::kKeyAgreement};
      info.jwe_algorithms = {JweAlgorithm::kA256GcmKw, JweAlgorithm::kDir};
      return info;
    }
    case KeyType::kHmacSha256:
      return Hmac(type, 32, HashType::kSha256, JwsAlgorithm::kHs256);
    case KeyType::kHmacSha384:
      return Hmac(type, 48, HashType::kSha384, JwsAlgorithm::kHs384);
    case KeyType::kHmacSha512:
      return Hmac(type, 64, HashType::kSha512, JwsAlgorithm::kHs512);
    case KeyType::kEd25519:
      return Signing(type, {SignatureAlgorithm::kEd25519},
                     SignatureAlgorithm::kEd25519, JwsAlgorithm::kEdDsa);
    case KeyType::kEcdsaP256:
      return Signing(type,
                     {SignatureAlgorithm::kEcdsaP256Sha256Der,
                      SignatureAlgorithm::kEcdsaP256Sha256P1363},
                     SignatureAlgorithm::kEcdsaP256Sha256P1363,
                     JwsAlgorithm::kEs256);
    case KeyType::kEcdsaP384:
      return Signing(type,
                     {SignatureAlgorithm::kEcdsaP384Sha384Der,
                      SignatureAlgorithm::kEcdsaP384Sha384P1363},
                     SignatureAlgorithm::kEcdsaP384Sha384P1363,
                     JwsAlgorithm::kEs384);
    case KeyType::kEcdsaP521:
      return Signing(type,
                     {SignatureAlgorithm::kEcdsaP521Sha512Der,
                      SignatureAlgorithm::kEcdsaP521Sha512P1363},
                     SignatureAlgorithm::kEcdsaP521Sha512P1363,
                     JwsAlgorithm::kEs512);
    case KeyType::kRsa2048:
    case KeyType::kRsa3072:
    case KeyType::kRsa4096:
      return Rsa(type);
    case KeyType::kEcdhP256: {
      KeyTypeInfo info;
      info.type = type;
      info.asymmetric = true;
      info.default_purpose = KeyPurpose::kKeyAgreement;
      info.jwe_algorithms = {JweAlgorithm::kEcdhEsA256Kw, JweAlgorithm::kEcdhEs};
      return info;
    }
    case KeyType::kX25519:
      return X25519Row();
    case KeyType::kXSalsa20Poly1305:
    case KeyType::kXChaCha20Poly1305: {
      KeyTypeInfo info = Symmetric(type, 32, KeyPurpose::kEncryptDecrypt);
      info.min_import_secret = info.max_import_secret = 32;
      return info;
    }
  }
  return {};
}

std::vector<KeyTypeInfo> MakeTable() {
  std::vector<KeyTypeInfo> table;
  for (int i = 0; i <= static_cast<int>(kLastKeyType); ++i) {
    table.push_back(Row(static_cast<KeyType>(i)));
    table.back().type = static_cast<KeyType>(i);
    table.back().name = crypto::KeyTypeName(table.back().type);
  }
  return table;
}

}  // namespace

const std::vector<KeyTypeInfo>& AllKeyTypes() {
  static const auto* table = new std::vector<KeyTypeInfo>(MakeTable());
  return *table;
}

const KeyTypeInfo& KeyTypeInfoOf(KeyType type) {
  const std::vector<KeyTypeInfo>& table = AllKeyTypes();
  const size_t i = static_cast<size_t>(type);
  // Out of range only for a value no enumerator has (a cast of garbage):
  // answer as the first row rather than read past the table.
  return table[i < table.size() ? i : 0];
}

std::optional<KeyType> KeyTypeFromName(absl::string_view name) {
  for (const KeyTypeInfo& info : AllKeyTypes()) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

absl::string_view KeyPurposeName(KeyPurpose purpose) {
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

bool AllowsPurpose(KeyType type, KeyPurpose purpose) {
  const KeyTypeInfo& info = KeyTypeInfoOf(type);
  return purpose == info.default_purpose ||
         std::find(info.other_purposes.begin(), info.other_purposes.end(),
                   purpose) != info.other_purposes.end();
}

absl::Status ValidatePurpose(KeyType type, KeyPurpose purpose) {
  if (AllowsPurpose(type, purpose)) return absl::OkStatus();
  const KeyTypeInfo& info = KeyTypeInfoOf(type);
  std::vector<absl::string_view> allowed = {KeyPurposeName(info.default_purpose)};
  for (KeyPurpose p : info.other_purposes) allowed.push_back(KeyPurposeName(p));
  return absl::InvalidArgumentError(absl::StrCat(
      "a ", info.name, " key cannot be for ", KeyPurposeName(purpose),
      "; it may be for ", absl::StrJoin(allowed, ", ")));
}

const std::vector<crypto::SignatureAlgorithm>& SignatureAlgorithmsFor(
    KeyType type) {
  return KeyTypeInfoOf(type).signature_algorithms;
}

std::optional<crypto::SignatureAlgorithm> JwsSignatureAlgorithm(KeyType type) {
  return KeyTypeInfoOf(type).jws_signature;
}

}  // namespace keyward::keystore
