#include "daemon/jwt_service.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwe.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"
#include "keystore/jwt.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;
using google::protobuf::util::TimeUtil;

absl::StatusOr<std::string> ResourceOf(const absl::StatusOr<KeyName>& name) {
  if (!name.ok()) return name.status();
  return name->Resource();
}

using keystore::JwsAlgorithmOf;
using keystore::ResolveKid;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

bool ValidJti(absl::string_view jti) {
  if (jti.empty() || jti.size() > 128) return false;
  return std::all_of(jti.begin(), jti.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_';
  });
}

// "tokens/{jti}" -> jti.
absl::StatusOr<std::string> ParseTokenName(absl::string_view name) {
  absl::string_view jti = name;
  if (!absl::ConsumePrefix(&jti, "tokens/") || !ValidJti(jti)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name '", absl::CHexEscape(name.substr(0, 160)),
        "' is not a token record name, tokens/{jti}"));
  }
  return std::string(jti);
}

// "" or "keys/{id}" -> "" or id.
absl::StatusOr<std::string> KeyFilter(absl::string_view key) {
  if (key.empty()) return std::string();
  auto name = ParseKeyName(key, "key");
  if (!name.ok()) return name.status();
  if (name->version != 0) {
    return absl::InvalidArgumentError("key names a key, not a version");
  }
  return name->id;
}

// SignJwtRequest.record checked: nullopt if no record is asked for, else the
// retention after expiry.
absl::StatusOr<std::optional<absl::Duration>> ParseRecordOptions(
    const pb::SignJwtRequest& request) {
  if (!request.has_record()) return std::nullopt;
  const pb::TokenRecordOptions& o = request.record();
  if (o.external_id().size() > 128 ||
      !std::all_of(o.external_id().begin(), o.external_id().end(),
                   [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    return absl::InvalidArgumentError(
        "record.external_id must be at most 128 printable ASCII characters");
  }
  if (o.metadata_size() > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("record.metadata has ", o.metadata_size(),
                     " entries; at most 16"));
  }
  for (const auto& [k, v] : o.metadata()) {
    if (k.empty() || k.size() > 64 ||
        !std::all_of(k.begin(), k.end(), [](char c) {
          return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
        })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record.metadata key '", absl::CHexEscape(k.substr(0, 80)),
          "' must be 1 to 64 characters of [A-Za-z0-9._-]"));
    }
    if (v.size() > 256) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record.metadata['", k, "'] is ", v.size(), " bytes; at most 256"));
    }
  }
  absl::Duration retention = absl::Hours(24 * 7);
  if (o.has_retention()) {
    retention = FromProto(o.retention());
    if (retention == absl::ZeroDuration()) retention = absl::Hours(24 * 7);
  }
  // At least the longest leeway, so that a revoked token cannot outlive its
  // record within the leeway.
  if (retention < absl::Minutes(5) || retention > absl::Hours(24 * 400)) {
    return absl::InvalidArgumentError(
        "record.retention must be 5 minutes to 400 days (0: 7 days)");
  }
  return retention;
}

// A ListTokenRecords page token: where the last page ended.
std::string PageToken(const keystore::TokenCursor& cursor) {
  return absl::WebSafeBase64Escape(absl::StrCat(
      "t1:", absl::ToUnixMicros(cursor.issued_at), ":", cursor.jti));
}

absl::StatusOr<keystore::TokenCursor> ParsePageToken(absl::string_view token) {
  std::string raw;
  std::vector<std::string> parts;
  int64_t micros = 0;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    parts = absl::StrSplit(raw, absl::MaxSplits(':', 2));
  }
  if (parts.size() != 3 || parts[0] != "t1" ||
      !absl::SimpleAtoi(parts[1], &micros) || !ValidJti(parts[2])) {
    return absl::InvalidArgumentError(
        "page_token is not one this server gave; start again without it");
  }
  return keystore::TokenCursor{absl::FromUnixMicros(micros), parts[2]};
}

}  // namespace

absl::Status JwtServiceImpl::Sign(Rpc& rpc, const pb::SignJwtRequest& request,
                                  pb::SignJwtResponse* response,
                                  int32_t* version) const {
  auto name = ParseKeyName(request.name());
  if (!name.ok()) return name.status();
  if (name->version != 0) {
    return absl::InvalidArgumentError(
        "SignJwt signs with the primary version: name the key, not a version");
  }
  auto record_options = ParseRecordOptions(request);
  if (!record_options.ok()) return record_options.status();
  if (request.claims_json().size() > max_token_bytes_) {
    return TooLarge("claims_json", request.claims_json().size(),
                    max_token_bytes_);
  }
  auto claims = jose::ParseJsonObject(
      request.claims_json().empty() ? "{}" : request.claims_json());
  if (!claims.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("claims_json: ", claims.status().message()));
  }
  keystore::JwtSignParams params;
  params.key_id = name->id;
  params.claims = *std::move(claims);
  params.ttl = request.has_ttl() ? FromProto(request.ttl()) : absl::ZeroDuration();
  params.typ = request.typ().empty() ? "JWT" : request.typ();
  if (record_options->has_value()) {
    const pb::TokenRecordOptions& o = request.record();
    params.record = keystore::TokenRecordSpec{
        o.external_id(),
        {o.metadata().begin(), o.metadata().end()},
        o.store_token(),
        **record_options};
  }
  params.issued_by = rpc.caller().principal;
  params.max_token_bytes = max_token_bytes_;
  auto token = keystore::SignJwt(rpc.keystore(), params);
  if (!token.ok()) return token.status();
  if (token->recorded) {
    response->set_record_name(absl::StrCat("tokens/", token->jti));
  }
  *version = token->version;
  response->set_token(token->token);
  response->set_jti(token->jti);
  response->set_key_version(VersionName(name->id, token->version));
  *response->mutable_issue_time() = Ts(token->issued_at);
  *response->mutable_expire_time() = Ts(token->expires_at);
  return absl::OkStatus();
}

absl::Status JwtServiceImpl::RunSignJwt(Rpc& rpc,
                                        const pb::SignJwtRequest& request,
                                        pb::SignJwtResponse* response) const {
  return rpc.Run(pb::OPERATION_JWT_SIGN, ResourceOf(ParseKeyName(request.name())),
                 [&](int32_t* version) {
                   return Sign(rpc, request, response, version);
                 });
}

grpc::ServerUnaryReactor* JwtServiceImpl::SignJwt(
    grpc::CallbackServerContext* context, const pb::SignJwtRequest* request,
    pb::SignJwtResponse* response) {
  Rpc rpc(env_, context, "JwtService/SignJwt");
  rpc.Identify().IgnoreError();
  return rpc.Finish(RunSignJwt(rpc, *request, response));
}

absl::Status JwtServiceImpl::Verify(Rpc& rpc,
                                    const pb::VerifyJwtRequest& request,
                                    absl::string_view token, bool authorize,
                                    pb::VerifyJwtResponse* response,
                                    int32_t* version) const {
  absl::StatusOr<KeyName> pinned = absl::InvalidArgumentError("not pinned");
  if (!request.name().empty()) {
    pinned = ParseKeyName(request.name());
    if (!pinned.ok()) return pinned.status();
  }
  if (request.has_leeway() &&
      (FromProto(request.leeway()) < absl::ZeroDuration() ||
       FromProto(request.leeway()) > absl::Minutes(5))) {
    return absl::InvalidArgumentError("leeway must be 0 to 5 minutes");
  }
  if (request.has_max_age_without_exp() &&
      (!request.allow_missing_exp() ||
       FromProto(request.max_age_without_exp()) < absl::ZeroDuration() ||
       FromProto(request.max_age_without_exp()) > absl::Hours(24 * 366))) {
    return absl::InvalidArgumentError(
        "max_age_without_exp is 0 to 366 days, and only with "
        "allow_missing_exp (a token with exp is held to its exp)");
  }
  for (const std::string* field :
       {&request.issuer(), &request.audience(), &request.typ()}) {
    if (field->size() > 256) {
      return absl::InvalidArgumentError(
          "issuer, audience and typ are at most 256 bytes each");
    }
  }
  keystore::JwtVerifyParams params;
  params.token = std::string(token);
  if (pinned.ok()) params.pinned_key_id = pinned->id;
  params.issuer = request.issuer();
  params.audience = request.audience();
  params.typ = request.typ();
  params.leeway = request.has_leeway() ? FromProto(request.leeway()) : leeway_;
  params.allow_missing_exp = request.allow_missing_exp();
  params.max_age_without_exp = FromProto(request.max_age_without_exp());
  params.max_token_bytes = max_token_bytes_;
  if (authorize) {
    params.authorize = [&rpc](const std::string& id) {
      return rpc.Authorize(pb::OPERATION_JWT_VERIFY, "keys/" + id);
    };
  }
  auto verdict = keystore::VerifyJwt(rpc.keystore(), params);
  if (!verdict.ok()) return verdict.status();
  if (!verdict->key_id.empty()) {
    response->set_key_version(VersionName(verdict->key_id, verdict->version));
  }
  response->set_valid(verdict->valid);
  response->set_failure(static_cast<pb::JwtFailure>(verdict->failure));
  response->set_failure_detail(verdict->detail);
  response->set_header_json(verdict->header_json);
  response->set_claims_json(verdict->claims_json);
  if (verdict->valid || verdict->failure == keystore::kRevokedFailure) {
    *version = verdict->version;
  }
  return absl::OkStatus();
}

absl::Status JwtServiceImpl::RunVerifyJwt(
    Rpc& rpc, const pb::VerifyJwtRequest& request,
    pb::VerifyJwtResponse* response) const {
  // The key to authorize against: the pinned one, else the one the token's
  // (unverified) kid names. A token naming none gets a verdict, not access.
  std::optional<absl::StatusOr<std::string>> resource;
  if (!request.name().empty()) {
    resource = ResourceOf(ParseKeyName(request.name()));
  } else {
    jose::JwsVerifyOptions parse_options;
    parse_options.max_token_bytes = max_token_bytes_;
    std::string id;
    int32_t v;
    if (auto parsed = jose::ParseCompactJws(request.token(), parse_options);
        parsed.ok() && parsed->kid &&
        ResolveKid(*env_.keystore, *parsed->kid, &id, &v)) {
      resource = "keys/" + id;
    }
  }
  // Without a key to authorize first, the key found is authorized as it is
  // found (a token naming none gets a verdict, not access).
  const bool authorize_found = !resource.has_value();
  auto body = [&](int32_t* version) {
    return Verify(rpc, request, request.token(), authorize_found, response,
                  version);
  };
  if (resource) {
    return rpc.Run(pb::OPERATION_JWT_VERIFY, *resource, body);
  }
  // No key to authorize against: the token is refused before any key is
  // touched, which needs no grant.
  return rpc.Run(pb::OPERATION_JWT_VERIFY, std::string(""), body,
                 Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* JwtServiceImpl::VerifyJwt(
    grpc::CallbackServerContext* context, const pb::VerifyJwtRequest* request,
    pb::VerifyJwtResponse* response) {
  Rpc rpc(env_, context, "JwtService/VerifyJwt");
  rpc.Identify().IgnoreError();
  return rpc.Finish(RunVerifyJwt(rpc, *request, response));
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
          // JWT keys publish their JWS alg for "sig", JWE keys their JWE
          // alg for "enc"; secret keys have nothing to publish.
          std::string alg, use;
          if (key->purpose == keystore::KeyPurpose::kKeyAgreement) {
            if (key->type == keystore::KeyType::kAes256Gcm) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "key '", name->id, "' is a secret JWE key: it has no public "
                  "key to publish"));
            }
            auto jwe = JweAlgorithmOf(*key);
            if (!jwe.ok()) return jwe.status();
            alg = std::string(jose::JweAlgorithmName(*jwe));
            use = "enc";
          } else {
            auto jws = JwsAlgorithmOf(*key);
            if (!jws.ok()) return jws.status();
            if (jose::IsHmac(*jws)) {
              return absl::FailedPreconditionError(absl::StrCat(
                  "key '", name->id, "' is an HMAC key: its JWTs are verified "
                  "by Keyward (VerifyJwt), and it has no public key to publish"));
            }
            alg = std::string(jose::JwsAlgorithmName(*jws));
            use = "sig";
          }
          auto versions = rpc.keystore().ListVersions(name->id);
          if (!versions.ok()) return versions.status();
          for (auto v = versions->rbegin(); v != versions->rend(); ++v) {
            if (v->state != keystore::VersionState::kEnabled ||
                v->version < key->min_decrypt_version) {
              continue;
            }
            auto jwk = jose::PublicJwk(key->type, v->public_key,
                                       KidOf(*v),
                                       alg, use);
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

absl::StatusOr<jose::JweEncryption> FromProto(pb::JweEncryption e) {
  switch (e) {
    case pb::JWE_ENCRYPTION_UNSPECIFIED:
    case pb::JWE_ENCRYPTION_A256GCM: return jose::JweEncryption::kA256Gcm;
    case pb::JWE_ENCRYPTION_A128GCM: return jose::JweEncryption::kA128Gcm;
    case pb::JWE_ENCRYPTION_A128CBC_HS256: return jose::JweEncryption::kA128CbcHs256;
    case pb::JWE_ENCRYPTION_A256CBC_HS512: return jose::JweEncryption::kA256CbcHs512;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "encryption ", static_cast<int>(e), " is not a known JWE enc"));
  }
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
    // The plaintext: the payload, or a JWT signed first (nested).
    std::string nested_token;
    if (request->content_case() == pb::EncryptJweRequest::kNestedJwt) {
      if (!request->content_type().empty()) {
        return absl::InvalidArgumentError(
            "content_type must be empty with nested_jwt (the JWE says "
            "\"cty\": \"JWT\")");
      }
      auto nested = ParseKeyName(request->nested_jwt().name(), "nested_jwt.name");
      if (!nested.ok()) return nested.status();
      absl::Status allowed =
          rpc.Authorize(pb::OPERATION_JWT_SIGN, nested->Resource());
      if (!allowed.ok()) return allowed;
      int32_t signed_with = 0;
      absl::Status signed_ok = Sign(rpc, request->nested_jwt(),
                                    response->mutable_nested(), &signed_with);
      if (!signed_ok.ok()) {
        return absl::Status(signed_ok.code(),
                            absl::StrCat("nested_jwt: ", signed_ok.message()));
      }
      nested_token = response->nested().token();
    } else if (request->payload().empty()) {
      return absl::InvalidArgumentError(
          "give a payload (1 byte or more) or a nested_jwt to sign");
    }
    const std::string& plaintext =
        nested_token.empty() ? request->payload() : nested_token;
    if (plaintext.size() > max_token_bytes_) {
      return TooLarge("payload", plaintext.size(), max_token_bytes_);
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto key_alg = JweAlgorithmOf(*key);
    if (!key_alg.ok()) return key_alg.status();
    auto asked = FromProto(request->algorithm());
    if (!asked.ok()) return asked.status();
    const jose::JweAlgorithm chosen = *key_alg;
    if (asked->has_value() && **asked != chosen) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", name->id, "' encrypts with ", jose::JweAlgorithmName(chosen),
          " only, not ", jose::JweAlgorithmName(**asked)));
    }
    auto enc = FromProto(request->encryption());
    if (!enc.ok()) return enc.status();
    if (chosen == jose::JweAlgorithm::kDir &&
        *enc != jose::JweEncryption::kA256Gcm) {
      // dir uses the 256-bit key itself as the content key.
      return absl::InvalidArgumentError(absl::StrCat(
          "key '", name->id, "' (dir) encrypts with A256GCM only"));
    }
    const int32_t v = key->primary_version;
    auto recipient = rpc.keystore().GetVersion(name->id, v);
    if (!recipient.ok()) return recipient.status();
    const std::string kid = KidOf(*recipient);
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
                : key->type == keystore::KeyType::kX25519
                    ? jose::JweEncryptionKey::ForX25519(chosen, pub->spki_der, kid)
                    : jose::JweEncryptionKey::ForRsa(chosen, pub->spki_der, kid);
    }
    if (!jwe_key.ok()) return jwe_key.status();
    jose::JweEncryptOptions options;
    options.typ = request->typ();
    options.cty = nested_token.empty() ? request->content_type() : "JWT";
    options.max_token_bytes = max_token_bytes_;
    auto token = jose::EncryptCompact(plaintext, *jwe_key, *enc, options);
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
  // One answer for every token that does not decrypt, no oracle.
  const absl::Status refused = absl::InvalidArgumentError(
      "the JWE cannot be decrypted with this key (malformed, altered, or "
      "made for another key or algorithm)");
  // The key: the pinned one, else the one the (unauthenticated) kid names.
  absl::StatusOr<KeyName> name = absl::InvalidArgumentError(
      "name the key, or send a token whose kid is NAME:vN");
  int32_t kid_version = 0;
  auto header = jose::ParseCompactJweHeader(request->token(), options);
  if (!request->name().empty()) {
    name = ParseKeyName(request->name());
  } else if (!header.ok()) {
    // Its kid (if any) is not looked at: refused as a pinned key would.
    name = refused;
  } else if (header->kid) {
    std::string id;
    if (ResolveKid(*env_.keystore, *header->kid, &id, &kid_version)) {
      name = KeyName{id, 0};
    }
  }
  return Unary(env_, context, "JwtService/DecryptJwe",
               pb::OPERATION_JWE_DECRYPT, ResourceOf(name),
               [&](Rpc& rpc, int32_t* version) -> absl::Status {
    if (request->has_verify_nested() && !request->verify_nested().token().empty()) {
      return absl::InvalidArgumentError(
          "verify_nested.token must be empty: the JWE's plaintext is verified");
    }
    if (!header.ok()) return refused;
    int32_t v = name->version != 0 ? name->version : kid_version;
    if (header->kid) {
      std::string id;
      int32_t kv = 0;
      if (ResolveKid(rpc.keystore(), *header->kid, &id, &kv) &&
          (id != name->id || (v != 0 && kv != v))) {
        return refused;
      }
      if (v == 0) v = kv;
    }
    auto key = rpc.keystore().GetKey(name->id);
    if (!key.ok()) return key.status();
    auto key_alg = JweAlgorithmOf(*key);
    if (!key_alg.ok()) return key_alg.status();
    if (header->alg != *key_alg) return refused;
    int32_t used = 0;
    auto material = rpc.keystore().JweKeyMaterial(
        name->id, v == 0 ? key->primary_version : v, &used);
    if (!material.ok()) return material.status();
    absl::StatusOr<jose::JweDecryptionKey> jwe_key =
        key->type == keystore::KeyType::kAes256Gcm
            ? jose::JweDecryptionKey::ForSymmetric(header->alg, *material)
        : key->type == keystore::KeyType::kEcdhP256
            ? jose::JweDecryptionKey::ForEcdhP256(header->alg, *material)
        : key->type == keystore::KeyType::kX25519
            ? jose::JweDecryptionKey::ForX25519(header->alg, *material)
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
    response->set_header_json(decrypted->header_json);
    response->set_key_version(VersionName(name->id, used));
    if (request->has_verify_nested()) {
      int32_t verified_with = 0;
      absl::Status checked =
          Verify(rpc, request->verify_nested(), decrypted->plaintext,
                 /*authorize=*/true, response->mutable_nested(), &verified_with);
      if (!checked.ok()) {
        response->Clear();
        return absl::Status(checked.code(),
                            absl::StrCat("verify_nested: ", checked.message()));
      }
      if (!response->nested().valid()) return absl::OkStatus();
    }
    response->set_payload(decrypted->plaintext);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* JwtServiceImpl::GetTokenRecord(
    grpc::CallbackServerContext* context,
    const pb::GetTokenRecordRequest* request,
    pb::GetTokenRecordResponse* response) {
  absl::StatusOr<std::string> jti = absl::InvalidArgumentError(
      "give the record's name (tokens/{jti}) or an external_id");
  std::string resource;
  if (request->lookup_case() == pb::GetTokenRecordRequest::kName) {
    jti = ParseTokenName(request->name());
    if (jti.ok()) resource = "tokens/" + *jti;
  } else if (request->lookup_case() == pb::GetTokenRecordRequest::kExternalId) {
    resource = "tokens?external_id=" + request->external_id();
  }
  return Unary(
      env_, context, "JwtService/GetTokenRecord", pb::OPERATION_TOKEN_READ,
      resource,
      [&](Rpc& rpc, int32_t* version) -> absl::Status {
        absl::StatusOr<keystore::TokenRecord> record =
            absl::NotFoundError("no token record has that external_id");
        if (request->lookup_case() == pb::GetTokenRecordRequest::kExternalId) {
          // The most recent record with that id among readable keys.
          auto key = KeyFilter(request->key());
          if (!key.ok()) return key.status();
          keystore::TokenFilter filter;
          filter.key_id = *key;
          filter.external_id = request->external_id();
          filter.now = rpc.keystore().Now();
          auto found = NextReadable(rpc, filter, {}, 1);
          if (!found.ok()) return found.status();
          if (!found->records.empty()) record = std::move(found->records[0]);
        } else {
          if (!jti.ok()) return jti.status();
          record = rpc.keystore().GetTokenRecord(*jti);
          if (record.ok() &&
              !rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + record->key_id)
                   .ok()) {
            record = absl::NotFoundError(
                absl::StrCat("no token record named tokens/", *jti));
          }
        }
        if (!record.ok()) return record.status();
        *version = record->version;
        return ToProto(rpc, *record, response->mutable_record());
      },
      Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* JwtServiceImpl::RevokeToken(
    grpc::CallbackServerContext* context, const pb::RevokeTokenRequest* request,
    pb::RevokeTokenResponse* response) {
  auto jti = ParseTokenName(request->name());
  return Unary(
      env_, context, "JwtService/RevokeToken", pb::OPERATION_TOKEN_REVOKE,
      jti.ok() ? absl::StatusOr<std::string>("tokens/" + *jti) : jti.status(),
      [&](Rpc& rpc, int32_t* version) -> absl::Status {
        if (request->reason().size() > 256) {
          return TooLarge("reason", request->reason().size(), 256);
        }
        auto record = rpc.keystore().GetTokenRecord(*jti);
        if (!record.ok()) return record.status();
        // Holders of TOKEN_READ learn that it exists; others do not.
        absl::Status allowed =
            rpc.Authorize(pb::OPERATION_TOKEN_REVOKE, "keys/" + record->key_id);
        if (!allowed.ok()) {
          if (rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + record->key_id)
                  .ok()) {
            return allowed;
          }
          return absl::NotFoundError(
              absl::StrCat("no token record named tokens/", *jti));
        }
        auto revoked = rpc.keystore().RevokeToken(*jti, request->reason(),
                                                  rpc.caller().principal);
        if (!revoked.ok()) return revoked.status();
        *version = revoked->version;
        return ToProto(rpc, *revoked, response->mutable_record());
      },
      Rpc::Access::kInBody);
}

grpc::ServerUnaryReactor* JwtServiceImpl::ListTokenRecords(
    grpc::CallbackServerContext* context,
    const pb::ListTokenRecordsRequest* request,
    pb::ListTokenRecordsResponse* response) {
  return Unary(
      env_, context, "JwtService/ListTokenRecords", pb::OPERATION_TOKEN_READ,
      request->key().empty() ? std::string("tokens") : request->key(),
      [&](Rpc& rpc, int32_t*) -> absl::Status {
        auto key = KeyFilter(request->key());
        if (!key.ok()) return key.status();
        if (!key->empty()) {
          auto exists = rpc.keystore().GetKey(*key);
          if (!exists.ok()) return exists.status();
          absl::Status allowed =
              rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + *key);
          if (!allowed.ok()) return allowed;
        }
        if (request->external_id().size() > 128) {
          return absl::InvalidArgumentError(
              "external_id is at most 128 characters");
        }
        keystore::TokenFilter filter;
        filter.key_id = *key;
        filter.external_id = request->external_id();
        filter.now = rpc.keystore().Now();
        switch (request->state()) {
          case pb::TOKEN_STATE_UNSPECIFIED:
            break;
          case pb::TOKEN_STATE_ACTIVE:
            filter.state = keystore::TokenFilter::State::kActive;
            break;
          case pb::TOKEN_STATE_EXPIRED:
            filter.state = keystore::TokenFilter::State::kExpired;
            break;
          case pb::TOKEN_STATE_REVOKED:
            filter.state = keystore::TokenFilter::State::kRevoked;
            break;
          default:
            return absl::InvalidArgumentError("state is not a TokenState");
        }
        keystore::TokenCursor cursor;
        if (!request->page_token().empty()) {
          auto parsed = ParsePageToken(request->page_token());
          if (!parsed.ok()) return parsed.status();
          cursor = *parsed;
        }
        const int page_size = request->page_size() <= 0
                                  ? 100
                                  : std::min(request->page_size(), 1000);
        auto page = NextReadable(rpc, filter, cursor, page_size);
        if (!page.ok()) return page.status();
        for (const keystore::TokenRecord& r : page->records) {
          absl::Status s = ToProto(rpc, r, response->add_records());
          if (!s.ok()) return s;
        }
        if (page->more) response->set_next_page_token(PageToken(page->last));
        return absl::OkStatus();
      },
      Rpc::Access::kInBody);
}

absl::StatusOr<JwtServiceImpl::ReadablePage> JwtServiceImpl::NextReadable(
    Rpc& rpc, const keystore::TokenFilter& filter, keystore::TokenCursor cursor,
    int limit) const {
  // Records of keys the caller may not read are skipped. A page scans at
  // most 10 times its size, so that a caller who may read few records gets
  // short pages rather than one long scan.
  ReadablePage page;
  absl::flat_hash_map<std::string, bool> readable;
  for (int scanned = 0; scanned < 10 * limit;) {
    const int batch = std::min(limit * 2, 1000);
    auto rows = rpc.keystore().ListTokenRecords(filter, cursor, batch);
    if (!rows.ok()) return rows.status();
    for (keystore::TokenRecord& r : *rows) {
      ++scanned;
      cursor = {r.issued_at, r.jti};
      page.last = cursor;
      auto [it, added] = readable.try_emplace(r.key_id, false);
      if (added) {
        it->second =
            rpc.Authorize(pb::OPERATION_TOKEN_READ, "keys/" + r.key_id).ok();
      }
      if (!it->second) continue;
      page.records.push_back(std::move(r));
      if (static_cast<int>(page.records.size()) == limit) {
        page.more = true;  // perhaps: the next page may be empty
        return page;
      }
    }
    if (static_cast<int>(rows->size()) < batch) return page;  // the end
  }
  page.more = true;
  return page;
}

absl::Status JwtServiceImpl::ToProto(Rpc& rpc, const keystore::TokenRecord& r,
                                     pb::TokenRecord* out) const {
  out->set_name("tokens/" + r.jti);
  out->set_jti(r.jti);
  out->set_key_version(VersionName(r.key_id, r.version));
  out->set_external_id(r.external_id);
  out->mutable_metadata()->insert(r.metadata.begin(), r.metadata.end());
  out->set_subject(r.subject);
  out->set_claims_json(r.claims_json);
  *out->mutable_issue_time() = Ts(r.issued_at);
  *out->mutable_expire_time() = Ts(r.expire_at);
  *out->mutable_purge_time() = Ts(r.purge_at);
  out->set_issued_by(r.issued_by);
  if (r.revoked()) {
    out->set_state(pb::TOKEN_STATE_REVOKED);
    *out->mutable_revoke_time() = Ts(r.revoked_at);
    out->set_revoke_reason(r.revoke_reason);
    out->set_revoked_by(r.revoked_by);
  } else {
    out->set_state(r.expire_at <= rpc.keystore().Now() ? pb::TOKEN_STATE_EXPIRED
                                              : pb::TOKEN_STATE_ACTIVE);
  }
  if (!r.sealed_token.empty()) {
    auto token = rpc.keystore().OpenToken(r);
    if (!token.ok()) return token.status();
    out->set_token(*token);
  }
  return absl::OkStatus();
}

}  // namespace keyward::daemon
