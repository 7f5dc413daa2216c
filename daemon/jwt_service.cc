#include "daemon/jwt_service.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwe.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

constexpr absl::Duration kDefaultTtl = absl::Minutes(5);

absl::StatusOr<std::string> ResourceOf(const absl::StatusOr<KeyName>& name) {
  if (!name.ok()) return name.status();
  return name->Resource();
}

// The one JWS algorithm of a JWT key.
absl::StatusOr<jose::JwsAlgorithm> JwsAlgorithmOf(const keystore::KeyRecord& key) {
  if (key.purpose != keystore::KeyPurpose::kJwt) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", key.id, "' is not a JWT key; create one with purpose JWT "
        "(`keyward key create NAME --type ed25519 --purpose jwt`)"));
  }
  if (auto alg = keystore::JwsSignatureAlgorithm(key.type)) {
    if (auto jws = jose::JwsAlgorithmForSignature(*alg)) return *jws;
  }
  switch (key.type) {
    case keystore::KeyType::kHmacSha256:
      return jose::JwsAlgorithmForHmac(crypto::HashType::kSha256);
    case keystore::KeyType::kHmacSha384:
      return jose::JwsAlgorithmForHmac(crypto::HashType::kSha384);
    case keystore::KeyType::kHmacSha512:
      return jose::JwsAlgorithmForHmac(crypto::HashType::kSha512);
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", key.id, "' has no JWS algorithm"));
  }
}

// "payments:v3" -> ("payments", 3).
bool ParseKid(absl::string_view kid, std::string* id, int32_t* version) {
  size_t colon = kid.rfind(":v");
  if (colon == absl::string_view::npos) return false;
  *id = std::string(kid.substr(0, colon));
  return keystore::ValidateKeyId(*id).ok() &&
         absl::SimpleAtoi(kid.substr(colon + 2), version) && *version > 0;
}

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace

grpc::ServerUnaryReactor* JwtServiceImpl::SignJwt(
    grpc::CallbackServerContext* context, const pb::SignJwtRequest* request,
    pb::SignJwtResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "JwtService/SignJwt", pb::OPERATION_JWT_SIGN,
               ResourceOf(name), [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (name->version != 0) {
      return absl::InvalidArgumentError(
          "SignJwt signs with the primary version: name the key, not a version");
    }
    if (request->has_record()) {
      return absl::UnimplementedError(
          "token records are not served by this build yet; sign without "
          "`record`");
    }
    if (request->claims_json().size() > max_token_bytes_) {
      return TooLarge("claims_json", request->claims_json().size(),
                      max_token_bytes_);
    }
    auto claims = jose::ParseJsonObject(
        request->claims_json().empty() ? "{}" : request->claims_json());
    if (!claims.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("claims_json: ", claims.status().message()));
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto alg = JwsAlgorithmOf(*key);
    if (!alg.ok()) return alg.status();

    absl::Duration ttl = request->has_ttl() ? FromProto(request->ttl()) : kDefaultTtl;
    if (ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("ttl must be positive");
    }
    if (key->jwt_max_ttl > absl::ZeroDuration()) {
      ttl = std::min(ttl, key->jwt_max_ttl);
    }
    const absl::Time now = absl::Now();
    if (const jose::JsonValue* exp = claims->Find("exp");
        exp != nullptr && key->jwt_max_ttl > absl::ZeroDuration() &&
        exp->is_number() &&
        absl::FromUnixSeconds(static_cast<int64_t>(exp->number_value())) >
            now + key->jwt_max_ttl) {
      return absl::InvalidArgumentError(absl::StrCat(
          "exp is past the key's maximum token lifetime of ",
          absl::FormatDuration(key->jwt_max_ttl)));
    }
    const int32_t v = key->primary_version;
    auto signing_key = jose::JwsSigningKey::ForFunction(
        *alg,
        [&](absl::string_view input) -> absl::StatusOr<std::string> {
          auto sig = rpc.keystore().SignJws(name->id, v, input);
          if (!sig.ok()) return sig.status();
          return std::move(sig->signature);
        },
        absl::StrCat(name->id, ":v", v));
    if (!signing_key.ok()) return signing_key.status();
    jose::JwtSignOptions options;
    options.now = now;
    options.ttl = ttl;
    options.typ = request->typ().empty() ? "JWT" : request->typ();
    options.keep_given_registered_claims = true;
    options.max_token_bytes = max_token_bytes_;
    auto token = jose::SignJwt(*claims, *signing_key, options);
    if (!token.ok()) return token.status();
    *version = v;
    response->set_token(token->token);
    response->set_jti(token->jti);
    response->set_key_version(VersionName(name->id, v));
    *response->mutable_issue_time() = Ts(token->issued_at);
    *response->mutable_expire_time() = Ts(token->expires_at);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JwtServiceImpl::VerifyJwt(
    grpc::CallbackServerContext* context, const pb::VerifyJwtRequest* request,
    pb::VerifyJwtResponse* response) {
  jose::JwsVerifyOptions parse_options;
  parse_options.max_token_bytes = max_token_bytes_;
  // The key to authorize against: the pinned one, else the one the token's
  // (unverified) kid names. A token naming none gets a verdict, not access.
  absl::StatusOr<KeyName> pinned;
  std::optional<std::string> resource;
  if (!request->name().empty()) {
    pinned = ParseKeyName(request->name());
    if (pinned.ok()) resource = pinned->Resource();
  } else if (auto parsed = jose::ParseCompactJws(request->token(), parse_options);
             parsed.ok() && parsed->kid) {
    std::string id;
    int32_t v;
    if (ParseKid(*parsed->kid, &id, &v)) resource = "keys/" + id;
  }
  auto body = [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (!request->name().empty() && !pinned.ok()) return pinned.status();
    std::string used_id;
    int32_t used_version = 0;
    jose::JwsKeyResolver resolve = [&](const jose::ParsedJws& jws)
        -> absl::StatusOr<std::vector<jose::JwsVerificationKey>> {
      std::string id;
      int32_t v = 0;
      if (!jws.kid || !ParseKid(*jws.kid, &id, &v)) {
        return jose::TokenError(jose::TokenFailure::kKeyNotFound,
                                "the token's kid does not name a Keyward key "
                                "version (NAME:vN)");
      }
      if (pinned.ok() && !request->name().empty() && id != pinned->id) {
        return jose::TokenError(
            jose::TokenFailure::kKeyNotFound,
            absl::StrCat("the token's kid names key '", id, "', not '",
                         pinned->id, "'"));
      }
      auto key = rpc.keystore().GetKey(id);
      if (!key.ok()) {
        if (!absl::IsNotFound(key.status())) return key.status();
        return jose::TokenError(jose::TokenFailure::kKeyNotFound,
                                absl::StrCat("no key named '", id, "'"));
      }
      auto alg = JwsAlgorithmOf(*key);
      if (!alg.ok()) {
        return jose::TokenError(jose::TokenFailure::kKeyUnusable,
                                alg.status().message());
      }
      auto version_record = rpc.keystore().GetVersion(id, v);
      if (!version_record.ok() ||
          version_record->state != keystore::VersionState::kEnabled ||
          v < key->min_decrypt_version) {
        return jose::TokenError(
            jose::TokenFailure::kKeyUnusable,
            absl::StrCat("version ", v, " of key '", id,
                         "' is missing, disabled, destroyed or retired"));
      }
      used_id = id;
      used_version = v;
      auto vk = jose::JwsVerificationKey::ForFunction(
          *alg, [&rpc, id, v](absl::string_view sig, absl::string_view input) {
            return rpc.keystore().VerifyJws(id, v, input, sig);
          });
      if (!vk.ok()) return vk.status();
      return std::vector<jose::JwsVerificationKey>{std::move(*vk)};
    };
    jose::JwtVerifyOptions options;
    options.now = absl::Now();
    options.leeway = request->has_leeway() ? FromProto(request->leeway()) : leeway_;
    options.issuer = request->issuer();
    options.audience = request->audience();
    options.typ = request->typ();
    options.jws = parse_options;
    auto verified = jose::VerifyJwt(request->token(), resolve, options);
    if (!verified.ok()) {
      jose::TokenFailure why = jose::FailureOf(verified.status());
      if (why == jose::TokenFailure::kNone) return verified.status();
      response->set_valid(false);
      response->set_failure(static_cast<pb::JwtFailure>(why));
      response->set_failure_detail(std::string(verified.status().message()));
      return absl::OkStatus();
    }
    *version = used_version;
    response->set_valid(true);
    response->set_header_json(verified->header_json);
    response->set_claims_json(verified->claims_json);
    response->set_key_version(VersionName(used_id, used_version));
    return absl::OkStatus();
  };
  if (resource) {
    return Unary(env_, context, "JwtService/VerifyJwt",
                 pb::OPERATION_JWT_VERIFY, *resource, body);
  }
  // No key to authorize against: the token is refused before any key is
  // touched, which needs no grant.
  return Unary(env_, context, "JwtService/VerifyJwt", pb::OPERATION_JWT_VERIFY,
               std::string(""), body, Rpc::Access::kAnyCaller);
}

grpc::ServerUnaryReactor* JwtServiceImpl::GetJwks(
    grpc::CallbackServerContext* context, const pb::GetJwksRequest* request,
    pb::GetJwksResponse* response) {
  return Unary(
      env_, context, "JwtService/GetJwks", pb::OPERATION_READ, std::string(""),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        if (request->names().empty() || request->names_size() > 100) {
          return absl::InvalidArgumentError("names: give 1 to 100 key names");
        }
        std::vector<jose::JsonValue> jwks;
        for (const std::string& n : request->names()) {
          auto name = ParseKeyName(n, "names");
          if (!name.ok()) return name.status();
          absl::Status allowed = rpc.Authorize(pb::OPERATION_READ, name->Resource());
          if (!allowed.ok()) return allowed;
          auto key = rpc.keystore().GetKey(name->id);
          if (!key.ok()) return key.status();
          auto alg = JwsAlgorithmOf(*key);
          if (!alg.ok()) return alg.status();
          if (jose::IsHmac(*alg)) {
            return absl::FailedPreconditionError(absl::StrCat(
                "key '", name->id, "' is an HMAC key: its JWTs are verified by "
                "Keyward (VerifyJwt), and it has no public key to publish"));
          }
          auto versions = rpc.keystore().ListVersions(name->id);
          if (!versions.ok()) return versions.status();
          for (const keystore::VersionRecord& v : *versions) {
            if (v.state != keystore::VersionState::kEnabled ||
                v.version < key->min_decrypt_version) {
              continue;
            }
            auto jwk = jose::PublicJwk(key->type, v.public_key,
                                       absl::StrCat(name->id, ":v", v.version),
                                       jose::JwsAlgorithmName(*alg), "sig");
            if (!jwk.ok()) return jwk.status();
            jwks.push_back(std::move(*jwk));
          }
        }
        auto set = jose::JwkSetJson(jwks);
        if (!set.ok()) return set.status();
        response->set_jwks_json(*set);
        return absl::OkStatus();
      },
      Rpc::Access::kAnyCaller);
}

namespace {

// The JWE algorithms a JWE key offers, its default first.
std::vector<jose::JweAlgorithm> JweAlgorithmsOf(keystore::KeyType type) {
  switch (type) {
    case keystore::KeyType::kRsa2048:
    case keystore::KeyType::kRsa3072:
    case keystore::KeyType::kRsa4096:
      return {jose::JweAlgorithm::kRsaOaep256, jose::JweAlgorithm::kRsaOaep};
    case keystore::KeyType::kEcdhP256:
      return {jose::JweAlgorithm::kEcdhEsA256Kw, jose::JweAlgorithm::kEcdhEs};
    case keystore::KeyType::kAes256Gcm:
      return {jose::JweAlgorithm::kA256GcmKw, jose::JweAlgorithm::kDir};
    default:
      return {};
  }
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
    default: return absl::InvalidArgumentError("algorithm is not a known JWE alg");
  }
}

absl::StatusOr<jose::JweEncryption> FromProto(pb::JweEncryption e) {
  switch (e) {
    case pb::JWE_ENCRYPTION_UNSPECIFIED:
    case pb::JWE_ENCRYPTION_A256GCM: return jose::JweEncryption::kA256Gcm;
    case pb::JWE_ENCRYPTION_A128GCM: return jose::JweEncryption::kA128Gcm;
    case pb::JWE_ENCRYPTION_A128CBC_HS256: return jose::JweEncryption::kA128CbcHs256;
    case pb::JWE_ENCRYPTION_A256CBC_HS512: return jose::JweEncryption::kA256CbcHs512;
    default: return absl::InvalidArgumentError("encryption is not a known JWE enc");
  }
}

bool Offers(const std::vector<jose::JweAlgorithm>& algs, jose::JweAlgorithm a) {
  return std::find(algs.begin(), algs.end(), a) != algs.end();
}

}  // namespace

grpc::ServerUnaryReactor* JwtServiceImpl::EncryptJwe(
    grpc::CallbackServerContext* context, const pb::EncryptJweRequest* request,
    pb::EncryptJweResponse* response) {
  auto name = ParseKeyName(request->name());
  return Unary(env_, context, "JwtService/EncryptJwe",
               pb::OPERATION_JWE_ENCRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (name->version != 0) {
      return absl::InvalidArgumentError(
          "EncryptJwe uses the primary version: name the key, not a version");
    }
    if (request->content_case() != pb::EncryptJweRequest::kPayload) {
      return absl::UnimplementedError(
          "nested_jwt is not served by this build yet: sign with SignJwt and "
          "pass the token as payload with content_type \"JWT\"");
    }
    if (request->payload().size() > max_token_bytes_) {
      return TooLarge("payload", request->payload().size(), max_token_bytes_);
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    const std::vector<jose::JweAlgorithm> offered = JweAlgorithmsOf(key->type);
    if (key->purpose != keystore::KeyPurpose::kKeyAgreement || offered.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", name->id, "' is not a JWE key; create one with purpose JWE "
          "(RSA, AES-256 or ECDH P-256)"));
    }
    auto alg = FromProto(request->algorithm());
    if (!alg.ok()) return alg.status();
    const jose::JweAlgorithm chosen = alg->value_or(offered.front());
    if (!Offers(offered, chosen)) {
      return absl::InvalidArgumentError(absl::StrCat(
          jose::JweAlgorithmName(chosen), " does not suit key '", name->id,
          "'; it offers ", jose::JweAlgorithmName(offered.front())));
    }
    auto enc = FromProto(request->encryption());
    if (!enc.ok()) return enc.status();
    const int32_t v = key->primary_version;
    const std::string kid = absl::StrCat(name->id, ":v", v);
    absl::StatusOr<jose::JweEncryptionKey> jwe_key =
        absl::InternalError("unset");
    if (key->type == keystore::KeyType::kAes256Gcm) {
      auto secret = rpc.keystore().JweKeyMaterial(name->id, v, nullptr);
      if (!secret.ok()) return secret.status();
      jwe_key = jose::JweEncryptionKey::ForSymmetric(chosen, *secret, kid);
    } else {
      auto pub = rpc.keystore().GetPublicKey(name->id, v);
      if (!pub.ok()) return pub.status();
      jwe_key = key->type == keystore::KeyType::kEcdhP256
                    ? jose::JweEncryptionKey::ForEcdhP256(chosen, pub->spki_der, kid)
                    : jose::JweEncryptionKey::ForRsa(chosen, pub->spki_der, kid);
    }
    if (!jwe_key.ok()) return jwe_key.status();
    jose::JweEncryptOptions options;
    options.typ = request->typ();
    options.cty = request->content_type();
    options.max_token_bytes = max_token_bytes_;
    auto token = jose::EncryptCompact(request->payload(), *jwe_key, *enc, options);
    if (!token.ok()) return token.status();
    *version = v;
    response->set_token(*token);
    response->set_key_version(VersionName(name->id, v));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JwtServiceImpl::DecryptJwe(
    grpc::CallbackServerContext* context, const pb::DecryptJweRequest* request,
    pb::DecryptJweResponse* response) {
  jose::JweDecryptOptions options;
  options.max_token_bytes = max_token_bytes_;
  // The key: the pinned one, else the one the (unauthenticated) kid names.
  absl::StatusOr<KeyName> name = absl::InvalidArgumentError(
      "name the key, or send a token whose kid is NAME:vN");
  int32_t kid_version = 0;
  auto header = jose::ParseCompactJweHeader(request->token(), options);
  if (!request->name().empty()) {
    name = ParseKeyName(request->name());
  } else if (header.ok() && header->kid) {
    std::string id;
    if (ParseKid(*header->kid, &id, &kid_version)) name = KeyName{id, 0};
  }
  return Unary(env_, context, "JwtService/DecryptJwe",
               pb::OPERATION_JWE_DECRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (request->has_verify_nested()) {
      return absl::UnimplementedError(
          "verify_nested is not served by this build yet: decrypt, then "
          "VerifyJwt the payload");
    }
    const absl::Status refused = absl::InvalidArgumentError(
        "the JWE cannot be decrypted with this key (malformed, altered, or "
        "made for another key or algorithm)");
    if (!header.ok()) return refused;
    int32_t v = name->version != 0 ? name->version : kid_version;
    if (header->kid) {
      std::string id;
      int32_t kv = 0;
      if (ParseKid(*header->kid, &id, &kv) && (id != name->id || (v != 0 && kv != v))) {
        return refused;
      }
      if (v == 0) v = kv;
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    if (key->purpose != keystore::KeyPurpose::kKeyAgreement) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key '", name->id, "' is not a JWE key"));
    }
    if (!Offers(JweAlgorithmsOf(key->type), header->alg)) return refused;
    int32_t used = 0;
    auto material = rpc.keystore().JweKeyMaterial(
        name->id, v == 0 ? key->primary_version : v, &used);
    if (!material.ok()) return material.status();
    absl::StatusOr<jose::JweDecryptionKey> jwe_key =
        key->type == keystore::KeyType::kAes256Gcm
            ? jose::JweDecryptionKey::ForSymmetric(header->alg, *material)
        : key->type == keystore::KeyType::kEcdhP256
            ? jose::JweDecryptionKey::ForEcdhP256(header->alg, *material)
            : jose::JweDecryptionKey::ForRsa(header->alg, *material);
    if (!jwe_key.ok()) return jwe_key.status();
    auto decrypted = jose::DecryptCompact(request->token(), *jwe_key, options);
    if (!decrypted.ok()) {
      if (jose::FailureOf(decrypted.status()) == jose::TokenFailure::kNone) {
        return decrypted.status();
      }
      return refused;
    }
    *version = used;
    response->set_payload(decrypted->plaintext);
    response->set_header_json(decrypted->header_json);
    response->set_key_version(VersionName(name->id, used));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JwtServiceImpl::GetTokenRecord(
    grpc::CallbackServerContext* context, const pb::GetTokenRecordRequest*,
    pb::GetTokenRecordResponse*) {
  return NotServed(context, "JwtService/GetTokenRecord");
}
grpc::ServerUnaryReactor* JwtServiceImpl::RevokeToken(
    grpc::CallbackServerContext* context, const pb::RevokeTokenRequest*,
    pb::RevokeTokenResponse*) {
  return NotServed(context, "JwtService/RevokeToken");
}
grpc::ServerUnaryReactor* JwtServiceImpl::ListTokenRecords(
    grpc::CallbackServerContext* context, const pb::ListTokenRecordsRequest*,
    pb::ListTokenRecordsResponse*) {
  return NotServed(context, "JwtService/ListTokenRecords");
}

}  // namespace keyward::daemon
