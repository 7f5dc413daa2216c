#include "keystore/key_types.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

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

// An HMAC key's generated secret, and the shortest it imports without the
// legacy opt-in, are its hash's length (RFC 7518 s3.2); with the opt-in, any
// non-empty secret.
KeyTypeInfo Hmac(KeyType type, size_t size, HashType hash, JwsAlgorithm jws) {
  KeyTypeInfo info = Symmetric(type, size, KeyPurpose::kMac);
  info.min_import_secret = size;
  info.max_import_secret = 1024;
  info.min_legacy_secret = 1;
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

std::vector<SignatureAlgorithm> JwtSignatureAlgorithms(KeyType type) {
  const KeyTypeInfo& info = KeyTypeInfoOf(type);
  std::vector<SignatureAlgorithm> out;
  if (!info.jws_signature) return out;
  out.push_back(*info.jws_signature);
  for (SignatureAlgorithm alg : info.signature_algorithms) {
    if (alg != *info.jws_signature && jose::JwsAlgorithmForSignature(alg)) {
      out.push_back(alg);
    }
  }
  return out;
}

std::vector<SignatureAlgorithm> DefaultSignatureAlgorithms(KeyType type,
                                                           KeyPurpose purpose) {
  if (purpose == KeyPurpose::kSignVerify) return SignatureAlgorithmsFor(type);
  if (purpose == KeyPurpose::kJwt) {
    if (auto alg = JwsSignatureAlgorithm(type)) return {*alg};
  }
  return {};
}

namespace {

std::string Names(const std::vector<SignatureAlgorithm>& algorithms) {
  if (algorithms.empty()) return "none";
  std::vector<absl::string_view> names;
  for (SignatureAlgorithm a : algorithms) {
    names.push_back(crypto::SignatureAlgorithmName(a));
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

absl::StatusOr<std::vector<SignatureAlgorithm>> ChooseSignatureAlgorithms(
    KeyType type, KeyPurpose purpose,
    const std::vector<SignatureAlgorithm>& asked) {
  if (asked.empty()) return DefaultSignatureAlgorithms(type, purpose);
  const absl::string_view type_name = KeyTypeInfoOf(type).name;
  const std::vector<SignatureAlgorithm> offered =
      purpose == KeyPurpose::kSignVerify ? SignatureAlgorithmsFor(type)
      : purpose == KeyPurpose::kJwt      ? JwtSignatureAlgorithms(type)
                                         : std::vector<SignatureAlgorithm>();
  if (offered.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "signature algorithms [", Names(asked), "] cannot be given to a ",
        type_name, " key for ", KeyPurposeName(purpose),
        purpose == KeyPurpose::kJwt
            ? ": an HMAC JWT key's algorithm comes from its hash (HS256/384/"
              "512); leave the algorithms unset"
            : ": it does not sign; leave the algorithms unset"));
  }
  if (purpose == KeyPurpose::kJwt && asked.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a JWT key has exactly one algorithm, not [", Names(asked),
        "]; a ", type_name, " JWT key may have one of [", Names(offered), "]"));
  }
  for (size_t i = 0; i < asked.size(); ++i) {
    if (std::find(offered.begin(), offered.end(), asked[i]) == offered.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signature algorithm ", crypto::SignatureAlgorithmName(asked[i]),
          " does not suit a ", type_name, " key for ", KeyPurposeName(purpose),
          "; it may have [", Names(offered), "]"));
    }
    if (std::find(asked.begin(), asked.begin() + i, asked[i]) !=
        asked.begin() + i) {
      return absl::InvalidArgumentError(absl::StrCat(
          "signature algorithm ", crypto::SignatureAlgorithmName(asked[i]),
          " is given twice"));
    }
  }
  return asked;
}

std::optional<SignatureAlgorithm> SignatureAlgorithmFromName(
    absl::string_view name) {
  for (SignatureAlgorithm alg : crypto::kAllSignatureAlgorithms) {
    if (crypto::SignatureAlgorithmName(alg) == name) return alg;
  }
  return std::nullopt;
}

std::string SignatureAlgorithmsText(
    const std::vector<SignatureAlgorithm>& algorithms) {
  std::vector<absl::string_view> names;
  for (SignatureAlgorithm a : algorithms) {
    names.push_back(crypto::SignatureAlgorithmName(a));
  }
  return absl::StrJoin(names, ",");
}

std::optional<std::vector<SignatureAlgorithm>> ParseSignatureAlgorithms(
    absl::string_view text) {
  std::vector<SignatureAlgorithm> out;
  if (text.empty()) return out;
  for (absl::string_view name : absl::StrSplit(text, ',')) {
    std::optional<SignatureAlgorithm> alg = SignatureAlgorithmFromName(name);
    if (!alg) return std::nullopt;
    out.push_back(*alg);
  }
  return out;
}

}  // namespace keyward::keystore
