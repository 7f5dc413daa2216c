// JwtService's JWS half: SignJwt, VerifyJwt and GetJwks. The JWE half is
// jwt_service_jwe.cc, the token records jwt_service_records.cc.
#include "daemon/jwt_service.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwk.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"
#include "keystore/jwt.h"

namespace keyward::daemon {
namespace {

namespace pb = keyward::v1;

using keystore::JwsAlgorithmOf;
using keystore::ResolveKid;

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
  auto claims = jose::ParseJsonObject(request.claims_json().empty()
                                          ? absl::string_view("{}")
                                          : absl::string_view(request.claims_json()));
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
  response->set_token(std::move(token->token));
  response->set_jti(std::move(token->jti));
  response->set_key_version(VersionName(name->id, token->version));
  *response->mutable_issue_time() = ToTimestamp(token->issued_at);
  *response->mutable_expire_time() = ToTimestamp(token->expires_at);
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
  response->set_header_json(std::move(verdict->header_json));
  response->set_claims_json(std::move(verdict->claims_json));
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

}  // namespace keyward::daemon
