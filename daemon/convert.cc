#include "daemon/convert.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "keystore/crypto/digest.h"
#include "keystore/jwt.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;
using keystore::KeyType;

struct TypePair {
  pb::KeyType proto;
  KeyType keystore;
};
constexpr TypePair kTypes[] = {
    {pb::KEY_TYPE_AES256_GCM, KeyType::kAes256Gcm},
    {pb::KEY_TYPE_HMAC_SHA256, KeyType::kHmacSha256},
    {pb::KEY_TYPE_HMAC_SHA384, KeyType::kHmacSha384},
    {pb::KEY_TYPE_HMAC_SHA512, KeyType::kHmacSha512},
    {pb::KEY_TYPE_ED25519, KeyType::kEd25519},
    {pb::KEY_TYPE_ECDSA_P256, KeyType::kEcdsaP256},
    {pb::KEY_TYPE_ECDSA_P384, KeyType::kEcdsaP384},
    {pb::KEY_TYPE_RSA_2048, KeyType::kRsa2048},
    {pb::KEY_TYPE_RSA_3072, KeyType::kRsa3072},
    {pb::KEY_TYPE_RSA_4096, KeyType::kRsa4096},
    {pb::KEY_TYPE_ECDH_P256, KeyType::kEcdhP256},
    {pb::KEY_TYPE_ECDSA_P521, KeyType::kEcdsaP521},
    {pb::KEY_TYPE_X25519, KeyType::kX25519},
    {pb::KEY_TYPE_XSALSA20_POLY1305, KeyType::kXSalsa20Poly1305},
    {pb::KEY_TYPE_XCHACHA20_POLY1305, KeyType::kXChaCha20Poly1305},
};

struct AlgPair {
  pb::SignatureAlgorithm proto;
  crypto::SignatureAlgorithm crypto;
};
constexpr AlgPair kAlgs[] = {
    {pb::SIGNATURE_ALGORITHM_ED25519, crypto::SignatureAlgorithm::kEd25519},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_DER,
     crypto::SignatureAlgorithm::kEcdsaP256Sha256Der},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA256_P1363,
     crypto::SignatureAlgorithm::kEcdsaP256Sha256P1363},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA384_DER,
     crypto::SignatureAlgorithm::kEcdsaP384Sha384Der},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA384_P1363,
     crypto::SignatureAlgorithm::kEcdsaP384Sha384P1363},
    {pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA256,
     crypto::SignatureAlgorithm::kRsaPssSha256},
    {pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA384,
     crypto::SignatureAlgorithm::kRsaPssSha384},
    {pb::SIGNATURE_ALGORITHM_RSA_PSS_SHA512,
     crypto::SignatureAlgorithm::kRsaPssSha512},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA512_DER,
     crypto::SignatureAlgorithm::kEcdsaP521Sha512Der},
    {pb::SIGNATURE_ALGORITHM_ECDSA_SHA512_P1363,
     crypto::SignatureAlgorithm::kEcdsaP521Sha512P1363},
    {pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA256,
     crypto::SignatureAlgorithm::kRsaPkcs1Sha256},
    {pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA384,
     crypto::SignatureAlgorithm::kRsaPkcs1Sha384},
    {pb::SIGNATURE_ALGORITHM_RSA_PKCS1_SHA512,
     crypto::SignatureAlgorithm::kRsaPkcs1Sha512},
};

}  // namespace

absl::StatusOr<KeyName> ParseKeyName(absl::string_view name,
                                     absl::string_view field) {
  absl::string_view rest = name;
  KeyName out;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " '", absl::CHexEscape(name.substr(0, 100)),
        "' is not a key name: use \"keys/NAME\" or \"keys/NAME/versions/N\""));
  };
  if (!absl::ConsumePrefix(&rest, "keys/")) return bad();
  size_t slash = rest.find('/');
  out.id = std::string(rest.substr(0, slash));
  if (!keystore::ValidateKeyId(out.id).ok()) return bad();
  if (slash != absl::string_view::npos) {
    absl::string_view tail = rest.substr(slash);
    if (!absl::ConsumePrefix(&tail, "/versions/") ||
        !absl::SimpleAtoi(tail, &out.version) || out.version < 1 ||
        absl::StartsWith(tail, "0") || absl::StartsWith(tail, "+")) {
      return bad();
    }
  }
  return out;
}

std::string VersionName(absl::string_view id, int32_t version) {
  return absl::StrCat("keys/", id, "/versions/", version);
}

absl::StatusOr<std::string> ResourceOf(const absl::StatusOr<KeyName>& name) {
  if (!name.ok()) return name.status();
  return name->Resource();
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<KeyType> FromProto(pb::KeyType type) {
  for (const TypePair& p : kTypes) {
    if (p.proto == type) return p.keystore;
  }
  return absl::InvalidArgumentError(
      "key_type must be set: one of AES256_GCM, HMAC_SHA256, HMAC_SHA384, "
      "HMAC_SHA512, ED25519, ECDSA_P256, ECDSA_P384, ECDSA_P521, RSA_2048, "
      "RSA_3072, "
      "RSA_4096, ECDH_P256");
}

pb::KeyType ToProto(KeyType type) {
  for (const TypePair& p : kTypes) {
    if (p.keystore == type) return p.proto;
  }
  return pb::KEY_TYPE_UNSPECIFIED;
}

absl::StatusOr<std::optional<crypto::SignatureAlgorithm>> FromProto(
    pb::SignatureAlgorithm algorithm) {
  if (algorithm == pb::SIGNATURE_ALGORITHM_UNSPECIFIED) return std::nullopt;
  for (const AlgPair& p : kAlgs) {
    if (p.proto == algorithm) return p.crypto;
  }
  // A number outside the enum has no name: say the number.
  const std::string& known = pb::SignatureAlgorithm_Name(algorithm);
  return absl::InvalidArgumentError(absl::StrCat(
      "algorithm ", known.empty() ? absl::StrCat(static_cast<int>(algorithm))
                                  : known,
      " is not a signature algorithm this build knows"));
}

pb::SignatureAlgorithm ToProto(crypto::SignatureAlgorithm algorithm) {
  for (const AlgPair& p : kAlgs) {
    if (p.crypto == algorithm) return p.proto;
  }
  return pb::SIGNATURE_ALGORITHM_UNSPECIFIED;
}

void ToProto(const keystore::KeyRecord& key, pb::Key* out) {
  out->set_name("keys/" + key.id);
  out->set_key_type(ToProto(key.type));
  switch (key.purpose) {
    case keystore::KeyPurpose::kEncryptDecrypt:
      out->set_purpose(pb::KEY_PURPOSE_ENCRYPT_DECRYPT);
      break;
    case keystore::KeyPurpose::kSignVerify:
      out->set_purpose(pb::KEY_PURPOSE_SIGN_VERIFY);
      break;
    case keystore::KeyPurpose::kMac:
      out->set_purpose(pb::KEY_PURPOSE_MAC);
      break;
    case keystore::KeyPurpose::kKeyAgreement:
      out->set_purpose(pb::KEY_PURPOSE_JWE);
      if (auto alg = JweAlgorithmOf(key); alg.ok()) {
        out->set_jwe_algorithm(ToProto(*alg));
      }
      break;
    case keystore::KeyPurpose::kJwt:
      out->set_purpose(pb::KEY_PURPOSE_JWT);
      break;
  }
  for (auto alg : key.signature_algorithms) {
    out->add_signature_algorithms(ToProto(alg));
  }
  out->set_description(key.description);
  for (const auto& [k, v] : key.labels) (*out->mutable_labels())[k] = v;
  out->set_primary_version(key.primary_version);
  out->set_min_decryption_version(key.min_decrypt_version);
  out->set_min_encryption_version(key.min_encrypt_version == 0
                                      ? key.primary_version
                                      : key.min_encrypt_version);
  if (key.rotation_period > absl::ZeroDuration()) {
    *out->mutable_rotation_period() = TimeUtil::SecondsToDuration(
        absl::ToInt64Seconds(key.rotation_period));
    *out->mutable_next_rotation_time() =
        ToTimestamp(key.rotated_at + key.rotation_period);
  }
  out->set_exportable(key.exportable);
  out->set_public_only(key.public_only);
  if (key.jwt_max_ttl > absl::ZeroDuration()) {
    *out->mutable_jwt()->mutable_max_ttl() =
        TimeUtil::SecondsToDuration(absl::ToInt64Seconds(key.jwt_max_ttl));
  }
  if (key.jwt_default_ttl > absl::ZeroDuration()) {
    *out->mutable_jwt()->mutable_default_ttl() =
        TimeUtil::SecondsToDuration(absl::ToInt64Seconds(key.jwt_default_ttl));
  }
  if (!key.jwt_issuer.empty()) out->mutable_jwt()->set_issuer(key.jwt_issuer);
  out->set_legacy_short_secret(key.legacy_short_secret);
  *out->mutable_create_time() = ToTimestamp(key.created_at);
  *out->mutable_update_time() = ToTimestamp(key.rotated_at);
}

std::vector<jose::JweAlgorithm> JweAlgorithmsFor(keystore::KeyType type) {
  return keystore::KeyTypeInfoOf(type).jwe_algorithms;
}

absl::StatusOr<jose::JweAlgorithm> JweAlgorithmOf(const keystore::KeyRecord& key) {
  const std::vector<jose::JweAlgorithm> offered = JweAlgorithmsFor(key.type);
  if (key.purpose != keystore::KeyPurpose::kKeyAgreement || offered.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", key.id, "' is not a JWE key; create one with purpose JWE "
        "(RSA, AES-256 or ECDH P-256)"));
  }
  if (key.jwe_algorithm.empty()) return offered.front();
  auto alg = jose::JweAlgorithmFromName(key.jwe_algorithm);
  if (!alg || std::find(offered.begin(), offered.end(), *alg) == offered.end()) {
    return absl::DataLossError(absl::StrCat(
        "key '", key.id, "' has an unusable stored JWE alg '",
        key.jwe_algorithm, "'"));
  }
  return *alg;
}

absl::StatusOr<std::string> ChooseJweAlgorithm(pb::JweAlgorithm requested,
                                               keystore::KeyType type,
                                               keystore::KeyPurpose purpose) {
  if (purpose != keystore::KeyPurpose::kKeyAgreement) {
    if (requested != pb::JWE_ALGORITHM_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          "jwe_algorithm is for keys of purpose JWE only");
    }
    return std::string();
  }
  auto alg = FromProto(requested);
  if (!alg.ok()) return alg.status();
  const std::vector<jose::JweAlgorithm> offered = JweAlgorithmsFor(type);
  if (offered.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        crypto::KeyTypeName(type), " keys cannot be JWE keys; use RSA, "
        "AES-256 or ECDH P-256"));
  }
  const jose::JweAlgorithm chosen = alg->value_or(offered.front());
  if (std::find(offered.begin(), offered.end(), chosen) == offered.end()) {
    std::vector<std::string> names;
    for (jose::JweAlgorithm a : offered) {
      names.push_back(std::string(jose::JweAlgorithmName(a)));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "jwe_algorithm ", jose::JweAlgorithmName(chosen), " does not suit a ",
        crypto::KeyTypeName(type), " key; use one of ",
        absl::StrJoin(names, ", ")));
  }
  return std::string(jose::JweAlgorithmName(chosen));
}

absl::StatusOr<std::optional<jose::JweAlgorithm>> FromProto(pb::JweAlgorithm a) {
  switch (a) {
    case pb::JWE_ALGORITHM_UNSPECIFIED: return std::nullopt;
    case pb::JWE_ALGORITHM_RSA_OAEP: return jose::JweAlgorithm::kRsaOaep;
    case pb::JWE_ALGORITHM_RSA_OAEP_256: return jose::JweAlgorithm::kRsaOaep256;
    case pb::JWE_ALGORITHM_DIR: return jose::JweAlgorithm::kDir;
    case pb::JWE_ALGORITHM_A256GCMKW: return jose::JweAlgorithm::kA256GcmKw;
    case pb::JWE_ALGORITHM_ECDH_ES: return jose::JweAlgorithm::kEcdhEs;
    case pb::JWE_ALGORITHM_ECDH_ES_A256KW: return jose::JweAlgorithm::kEcdhEsA256Kw;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "algorithm ", static_cast<int>(a), " is not a known JWE alg"));
  }
}

pb::JweAlgorithm ToProto(jose::JweAlgorithm a) {
  switch (a) {
    case jose::JweAlgorithm::kRsaOaep: return pb::JWE_ALGORITHM_RSA_OAEP;
    case jose::JweAlgorithm::kRsaOaep256: return pb::JWE_ALGORITHM_RSA_OAEP_256;
    case jose::JweAlgorithm::kDir: return pb::JWE_ALGORITHM_DIR;
    case jose::JweAlgorithm::kA256GcmKw: return pb::JWE_ALGORITHM_A256GCMKW;
    case jose::JweAlgorithm::kEcdhEs: return pb::JWE_ALGORITHM_ECDH_ES;
    case jose::JweAlgorithm::kEcdhEsA256Kw: return pb::JWE_ALGORITHM_ECDH_ES_A256KW;
    default: return pb::JWE_ALGORITHM_UNSPECIFIED;
  }
}

std::string KidOf(const keystore::VersionRecord& v) {
  return keystore::DefaultKid(v);
}

void ToProto(const keystore::VersionRecord& v, int32_t primary,
             pb::KeyVersion* out) {
  out->set_name(VersionName(v.key_id, v.version));
  out->set_number(v.version);
  switch (v.state) {
    case keystore::VersionState::kEnabled:
      out->set_state(pb::VERSION_STATE_ENABLED);
      break;
    case keystore::VersionState::kDisabled:
      out->set_state(pb::VERSION_STATE_DISABLED);
      break;
    case keystore::VersionState::kDestroyed:
      out->set_state(pb::VERSION_STATE_DESTROYED);
      *out->mutable_destroy_time() = ToTimestamp(v.destroyed_at);
      break;
  }
  out->set_primary(v.version == primary);
  out->set_kid(KidOf(v));
  out->set_origin(v.imported ? pb::VERSION_ORIGIN_IMPORTED
                             : pb::VERSION_ORIGIN_GENERATED);
  if (!v.public_key.empty()) {
    out->set_public_key_sha256(crypto::Sha256(v.public_key));
  }
  *out->mutable_create_time() = ToTimestamp(v.created_at);
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<std::optional<keystore::KeyPurpose>> PurposeFromProto(
    pb::KeyPurpose purpose) {
  switch (purpose) {
    case pb::KEY_PURPOSE_UNSPECIFIED:
      return std::nullopt;
    case pb::KEY_PURPOSE_ENCRYPT_DECRYPT:
      return keystore::KeyPurpose::kEncryptDecrypt;
    case pb::KEY_PURPOSE_SIGN_VERIFY:
      return keystore::KeyPurpose::kSignVerify;
    case pb::KEY_PURPOSE_MAC:
      return keystore::KeyPurpose::kMac;
    case pb::KEY_PURPOSE_JWT:
      return keystore::KeyPurpose::kJwt;
    case pb::KEY_PURPOSE_JWE:
      return keystore::KeyPurpose::kKeyAgreement;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "purpose ", static_cast<int>(purpose), " is not a KeyPurpose"));
  }
}

absl::Status ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > 64) {
    return absl::InvalidArgumentError("a key has at most 64 labels");
  }
  for (const auto& [k, v] : labels) {
    if (k.empty() || k.size() > 63 || v.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label '", absl::CHexEscape(k.substr(0, 64)),
          "' is not valid: names are 1 to 63 bytes, values at most 255"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<crypto::SignatureAlgorithm>> AlgorithmsFromProto(
    const pb::Key& key) {
  std::vector<crypto::SignatureAlgorithm> out;
  for (int a : key.signature_algorithms()) {
    auto known = daemon::FromProto(static_cast<pb::SignatureAlgorithm>(a));
    if (!known.ok()) return known.status();
    if (!known->has_value()) {
      return absl::InvalidArgumentError(
          "signature_algorithms must not hold SIGNATURE_ALGORITHM_UNSPECIFIED");
    }
    out.push_back(**known);
  }
  return out;
}

}  // namespace keyward::daemon
