#include "keystore/jwt.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/jwt.h"
#include "keystore/key_types.h"

namespace keyward::keystore {
namespace {

// "payments:v3" -> ("payments", 3).
bool ParseKeywardKid(absl::string_view kid, std::string* id, int32_t* version) {
  size_t colon = kid.rfind(":v");
  if (colon == absl::string_view::npos) return false;
  *id = std::string(kid.substr(0, colon));
  return ValidateKeyId(*id).ok() &&
         absl::SimpleAtoi(kid.substr(colon + 2), version) && *version > 0;
}

bool ValidRecordJti(absl::string_view jti) {
  if (jti.empty() || jti.size() > 128) return false;
  return std::all_of(jti.begin(), jti.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_';
  });
}

// MaxTtl is the longest lifetime key `key` gives a token.
absl::Duration MaxTtl(const KeyRecord& key) {
  return key.jwt_max_ttl > absl::ZeroDuration() ? key.jwt_max_ttl
                                                : kDefaultJwtMaxTtl;
}

// RecordIt keeps the record of `token`, signed with `key_id`:`version`.
absl::Status RecordIt(Keystore& keystore, const JwtSignParams& params,
                      int32_t version, const jose::SignedJwt& token,
                      absl::Time now) {
  const TokenRecordSpec& spec = *params.record;
  TokenRecord record;
  record.jti = token.jti;
  record.key_id = params.key_id;
  record.version = version;
  record.external_id = spec.external_id;
  record.metadata = spec.metadata;
  if (const jose::JsonValue* sub = params.claims.Find("sub");
      sub != nullptr && sub->is_string()) {
    record.subject = sub->string_value();
  }
  record.claims_json = token.claims_json;
  record.issued_by = params.issued_by;
  // Precise, so that records list in the order they were made ("iat" is
  // this time in whole seconds).
  record.issued_at = now;
  record.expire_at = token.expires_at;
  record.purge_at = token.expires_at + spec.retention;
  absl::Status kept = keystore.RecordToken(std::move(record),
                                           spec.store_token ? token.token : "");
  if (absl::IsAlreadyExists(kept)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "a token record with jti '", token.jti,
        "' exists; recorded tokens need a fresh jti"));
  }
  return kept;
}

}  // namespace

absl::StatusOr<jose::JwsAlgorithm> JwsAlgorithmOf(const KeyRecord& key) {
  if (key.purpose != KeyPurpose::kJwt) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", key.id, "' is not a JWT key; create one with purpose JWT "
        "(`keyward key create NAME --type ed25519 --purpose jwt`)"));
  }
  const KeyTypeInfo& info = KeyTypeInfoOf(key.type);
  if (!info.asymmetric && info.jws_algorithm) return *info.jws_algorithm;
  if (!key.signature_algorithms.empty()) {
    if (auto jws = jose::JwsAlgorithmForSignature(key.signature_algorithms[0])) {
      return *jws;
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("key '", key.id, "' has no JWS algorithm"));
}

std::string DefaultKid(const VersionRecord& v) {
  return v.kid.empty() ? absl::StrCat(v.key_id, ":v", v.version) : v.kid;
}

bool ResolveKid(Keystore& keystore, absl::string_view kid, std::string* id,
                int32_t* version) {
  if (ParseKeywardKid(kid, id, version)) return true;
  auto found = keystore.FindVersionByKid(std::string(kid));
  if (!found.ok()) return false;
  *id = found->key_id;
  *version = found->version;
  return true;
}

absl::StatusOr<SignedToken> SignJwt(Keystore& keystore,
                                    const JwtSignParams& params) {
  const absl::Time now = keystore.Now();
  auto key = keystore.GetKey(params.key_id);
  if (!key.ok()) return key.status();
  auto alg = JwsAlgorithmOf(*key);
  if (!alg.ok()) return alg.status();

  // The lifetime: asked for, or the default; never past the key's maximum
  // (refused, not silently shortened).
  const absl::Duration max_ttl = MaxTtl(*key);
  absl::Duration ttl = params.ttl;
  if (ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ttl must not be negative");
  }
  if (ttl == absl::ZeroDuration()) {
    ttl = key->jwt_default_ttl > absl::ZeroDuration()
              ? key->jwt_default_ttl
              : std::min(kDefaultJwtTtl, max_ttl);
  }
  if (ttl > max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl ", absl::FormatDuration(ttl), " is over key '", key->id,
        "''s maximum token lifetime of ", absl::FormatDuration(max_ttl),
        "; ask for less, or raise the key's jwt.max_ttl"));
  }
  if (const jose::JsonValue* exp = params.claims.Find("exp");
      exp != nullptr && exp->is_number() &&
      absl::FromUnixSeconds(static_cast<int64_t>(exp->number_value())) >
          now + max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "exp is past key '", key->id, "''s maximum token lifetime of ",
        absl::FormatDuration(max_ttl)));
  }
  if (const jose::JsonValue* jti = params.claims.Find("jti");
      jti != nullptr && params.record.has_value() &&
      (!jti->is_string() || !ValidRecordJti(jti->string_value()))) {
    return absl::InvalidArgumentError(
        "a recorded token's jti must be 1 to 128 characters of "
        "[A-Za-z0-9_-]; leave it out and the daemon makes one");
  }
  // The key's issuer: a claims "iss" that differs refused here (with this
  // message), a missing one filled in by jose::SignJwt (options.issuer).
  if (!key->jwt_issuer.empty()) {
    if (const jose::JsonValue* iss = params.claims.Find("iss")) {
      if (!iss->is_string() || iss->string_value() != key->jwt_issuer) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the claims' \"iss\" is not key '", key->id, "''s issuer \"",
            key->jwt_issuer, "\"; leave \"iss\" out (the key fills it in) "
            "or use another key"));
      }
    }
  }
  const int32_t v = key->primary_version;
  auto signing_version = keystore.GetVersion(key->id, v);
  if (!signing_version.ok()) return signing_version.status();
  auto signing_key = jose::JwsSigningKey::ForFunction(
      *alg,
      [&](absl::string_view input) -> absl::StatusOr<std::string> {
        auto sig = keystore.SignJws(key->id, v, input);
        if (!sig.ok()) return sig.status();
        return std::move(sig->signature);
      },
      DefaultKid(*signing_version));
  if (!signing_key.ok()) return signing_key.status();
  jose::JwtSignOptions options;
  options.now = now;
  options.ttl = ttl;
  options.typ = params.typ;
  options.issuer = key->jwt_issuer;
  options.keep_given_registered_claims = true;
  options.max_token_bytes = params.max_token_bytes;
  auto token = jose::SignJwt(params.claims, *signing_key, options);
  if (!token.ok()) return token.status();
  SignedToken out;
  if (params.record.has_value()) {
    absl::Status kept = RecordIt(keystore, params, v, *token, now);
    if (!kept.ok()) return kept;
    out.recorded = true;
  }
  out.token = std::move(token->token);
  out.jti = std::move(token->jti);
  out.version = v;
  out.issued_at = token->issued_at;
  out.expires_at = token->expires_at;
  return out;
}

namespace {

// Resolver finds, for a parsed token, the versions to try (see
// JwtVerifyParams), remembering which key and version it checked.
class Resolver {
 public:
  Resolver(Keystore& keystore, const JwtVerifyParams& params)
      : keystore_(keystore), params_(params) {}

  absl::StatusOr<std::vector<jose::JwsVerificationKey>> operator()(
      const jose::ParsedJws& jws) {
    std::string id;
    int32_t v = 0;
    const bool keyward_kid = jws.kid && ResolveKid(keystore_, *jws.kid, &id, &v);
    const bool is_pinned = !params_.pinned_key_id.empty();
    if (!keyward_kid && !is_pinned) {
      return jose::TokenError(jose::TokenFailure::kKeyNotFound,
                              "the token's kid names no key version here; "
                              "pin the key (`name`) to verify tokens without "
                              "one");
    }
    if (is_pinned && keyward_kid && id != params_.pinned_key_id) {
      return jose::TokenError(
          jose::TokenFailure::kKeyNotFound,
          absl::StrCat("the token's kid names key '", id, "', not '",
                       params_.pinned_key_id, "'"));
    }
    if (is_pinned) id = params_.pinned_key_id;
    if (params_.authorize) {
      absl::Status allowed = params_.authorize(id);
      if (!allowed.ok()) {
        if (is_pinned) return allowed;
        return jose::TokenError(
            jose::TokenFailure::kKeyNotFound,
            absl::StrCat("the token's kid names key '", id,
                         "', on which the caller may not verify"));
      }
    }
    auto key = keystore_.GetKey(id);
    if (!key.ok()) {
      if (!absl::IsNotFound(key.status()) || is_pinned) return key.status();
      return jose::TokenError(jose::TokenFailure::kKeyNotFound,
                              absl::StrCat("no key named '", id, "'"));
    }
    auto alg = JwsAlgorithmOf(*key);
    if (!alg.ok()) {
      return jose::TokenError(jose::TokenFailure::kKeyUnusable,
                              alg.status().message());
    }
    auto candidates = Candidates(*key, keyward_kid ? v : 0);
    if (!candidates.ok()) return candidates.status();
    key_id_ = id;
    version_ = candidates->front();
    std::vector<jose::JwsVerificationKey> keys;
    for (int32_t c : *candidates) {
      auto vk = jose::JwsVerificationKey::ForFunction(
          *alg, [this, id, c](absl::string_view sig, absl::string_view input) {
            absl::Status s = keystore_.VerifyJws(id, c, input, sig);
            if (s.ok()) version_ = c;
            return s;
          });
      if (!vk.ok()) return vk.status();
      keys.push_back(std::move(*vk));
    }
    return keys;
  }

  const std::string& key_id() const { return key_id_; }
  int32_t version() const { return version_; }

 private:
  // Candidates: the version a Keyward kid names (`named`); for a pinned key
  // and a token without one (issued before the key moved into Keyward),
  // each usable version, newest first.
  absl::StatusOr<std::vector<int32_t>> Candidates(const KeyRecord& key,
                                                  int32_t named) {
    auto usable = [&](const VersionRecord& r) {
      return r.state == VersionState::kEnabled &&
             r.version >= key.min_decrypt_version;
    };
    std::vector<int32_t> out;
    if (named != 0) {
      auto version = keystore_.GetVersion(key.id, named);
      if (!version.ok() || !usable(*version)) {
        return jose::TokenError(
            jose::TokenFailure::kKeyUnusable,
            absl::StrCat("version ", named, " of key '", key.id,
                         "' is missing, disabled, destroyed or retired"));
      }
      out.push_back(named);
      return out;
    }
    auto versions = keystore_.ListVersions(key.id);
    if (!versions.ok()) return versions.status();
    for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
      if (usable(*it)) out.push_back(it->version);
    }
    if (out.empty()) {
      return jose::TokenError(jose::TokenFailure::kKeyUnusable,
                              absl::StrCat("key '", key.id,
                                           "' has no usable version"));
    }
    return out;
  }

  Keystore& keystore_;
  const JwtVerifyParams& params_;
  std::string key_id_;
  int32_t version_ = 0;
};

}  // namespace

absl::StatusOr<JwtVerdict> VerifyJwt(Keystore& keystore,
                                     const JwtVerifyParams& params) {
  const absl::Time now = keystore.Now();
  Resolver resolver(keystore, params);
  jose::JwtVerifyOptions options;
  options.now = now;
  options.leeway = params.leeway;
  options.issuer = params.issuer;
  options.audience = params.audience;
  options.typ = params.typ;
  options.require_exp = !params.allow_missing_exp;
  options.max_age_without_exp = params.max_age_without_exp;
  options.jws.max_token_bytes = params.max_token_bytes;
  auto verified = jose::VerifyJwt(
      params.token,
      [&resolver](const jose::ParsedJws& jws) { return resolver(jws); },
      options);
  JwtVerdict verdict;
  verdict.key_id = resolver.key_id();
  verdict.version = resolver.version();
  if (!verified.ok()) {
    const jose::TokenFailure why = jose::FailureOf(verified.status());
    if (why == jose::TokenFailure::kNone) return verified.status();
    verdict.failure = static_cast<int>(why);
    verdict.detail = std::string(verified.status().message());
    return verdict;
  }
  // Revocation: a memory look-up; the record is read only for a jti that
  // some record revoked, to check it is this key's.
  if (const jose::JsonValue* jti = verified->claims.Find("jti");
      jti != nullptr && jti->is_string() &&
      keystore.IsTokenRevoked(jti->string_value())) {
    auto record = keystore.GetTokenRecord(jti->string_value());
    if (!record.ok() && !absl::IsNotFound(record.status())) {
      return record.status();
    }
    if (record.ok() && record->key_id == verdict.key_id) {
      verdict.failure = kRevokedFailure;
      verdict.detail = absl::StrCat(
          "the token was revoked at ", absl::FormatTime(record->revoked_at),
          record->revoke_reason.empty() ? "" : ": ", record->revoke_reason);
      return verdict;
    }
  }
  verdict.valid = true;
  verdict.header_json = std::move(verified->header_json);
  verdict.claims_json = std::move(verified->claims_json);
  return verdict;
}

}  // namespace keyward::keystore
