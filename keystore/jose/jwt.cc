#include "keystore/jose/jwt.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "keystore/crypto/random.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"

namespace keyward::jose {
namespace {

constexpr absl::string_view kTimeClaims[] = {"iat", "nbf", "exp"};

// What SignJwt reserves for the payload: typical claims fit without the
// string growing.
constexpr size_t kClaimsJsonReserve = 512;

absl::string_view StripApplication(absl::string_view typ) {
  if (typ.size() >= 12 &&
      absl::EqualsIgnoreCase(typ.substr(0, 12), "application/")) {
    typ.remove_prefix(12);
  }
  return typ;
}

int64_t Seconds(absl::Duration d) {
  return absl::ToInt64Seconds(absl::Trunc(d, absl::Seconds(1)));
}

}  // namespace

bool TypMatches(absl::string_view a, absl::string_view b) {
  return absl::EqualsIgnoreCase(StripApplication(a), StripApplication(b));
}

absl::StatusOr<SignedJwt> SignJwt(const JsonValue& claims,
                                  const JwsSigningKey& key,
                                  const JwtSignOptions& options) {
  if (!claims.is_object()) {
    return absl::InvalidArgumentError("JWT claims must be a JSON object");
  }
  if (options.ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the token lifetime must be positive");
  }
  // "alg" and "kid" come from the key and go in the header; in the claims
  // they would only mislead a reader of the payload.
  for (absl::string_view name : {"alg", "kid"}) {
    if (claims.Find(name) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", name, "\" is a header parameter set from the key, not a "
          "claim: remove it from the claims"));
    }
  }
  if (!options.keep_given_registered_claims) {
    for (absl::string_view name : {"iat", "nbf", "exp", "jti"}) {
      if (claims.Find(name) != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("claim \"", name, "\" is set by the issuer"));
      }
    }
  }
  const JsonValue* const given_iss = claims.Find("iss");
  if (given_iss != nullptr && !options.issuer.empty() &&
      (!given_iss->is_string() || given_iss->string_value() != options.issuer)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "claim \"iss\" must be the key's issuer \"", options.issuer, "\""));
  }
  for (absl::string_view name : kTimeClaims) {
    const JsonValue* v = claims.Find(name);
    if (v != nullptr && !v->AsInt64().has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "claim \"", name, "\" must be an integer number of seconds since "
          "the epoch"));
    }
  }
  // The registered claims given (kept as they are) and the values of those
  // added.
  const JsonValue* const given_iat = claims.Find("iat");
  const JsonValue* const given_nbf = claims.Find("nbf");
  const JsonValue* const given_exp = claims.Find("exp");
  const JsonValue* const given_jti = claims.Find("jti");
  const int64_t now = absl::ToUnixSeconds(options.now);
  const int64_t iat = given_iat != nullptr ? *given_iat->AsInt64() : now;
  // "nbf" defaults to "iat", also a backdated one given by the caller: a
  // token is valid from when it says it was issued.
  const int64_t nbf = given_nbf != nullptr ? *given_nbf->AsInt64() : iat;
  const int64_t exp =
      given_exp != nullptr ? *given_exp->AsInt64()
                           : now + std::max<int64_t>(1, Seconds(options.ttl));
  if (exp <= now) {
    return absl::InvalidArgumentError(absl::StrCat(
        "claim \"exp\" (", exp, ") is not after now (", now,
        "): the token would be dead on arrival"));
  }
  if (nbf > exp) {
    return absl::InvalidArgumentError(absl::StrCat(
        "claim \"nbf\" (", nbf, ") is after \"exp\" (", exp,
        "): the token would never be valid"));
  }
  SignedJwt out;
  out.jti = given_jti != nullptr ? given_jti->string_value()
                                 : Base64UrlEncode(crypto::RandomBytes(16));
  out.issued_at = absl::FromUnixSeconds(iat);
  out.expires_at = absl::FromUnixSeconds(exp);
  // The payload: the claims as given, then those added, in this order.
  out.claims_json.reserve(kClaimsJsonReserve);
  JsonObjectWriter payload(&out.claims_json);
  payload.AddMembers(claims);
  if (!options.issuer.empty() && given_iss == nullptr) {
    payload.AddString("iss", options.issuer);
  }
  if (given_iat == nullptr) payload.AddInt("iat", iat);
  if (given_nbf == nullptr) payload.AddInt("nbf", nbf);
  if (given_exp == nullptr) payload.AddInt("exp", exp);
  if (given_jti == nullptr) payload.AddString("jti", out.jti);
  payload.Finish();
  JsonValue header = JsonValue::Object();
  if (!options.typ.empty()) header.Set("typ", JsonValue::String(options.typ));
  JwsSignOptions sign;
  sign.max_token_bytes = options.max_token_bytes;
  absl::StatusOr<std::string> token =
      SignCompact(header, out.claims_json, key, sign);
  if (!token.ok()) return token.status();
  out.token = *std::move(token);
  return out;
}

absl::StatusOr<JsonValue> CheckJwtClaims(const JsonValue& header,
                                         absl::string_view claims_json,
                                         const JwtVerifyOptions& options) {
  absl::StatusOr<JsonValue> claims = ParseJsonObject(claims_json);
  if (!claims.ok()) {
    return TokenError(TokenFailure::kMalformed,
                      absl::StrCat("claims: ", claims.status().message()));
  }
  for (absl::string_view name : kTimeClaims) {
    const JsonValue* v = claims->Find(name);
    if (v != nullptr && !v->is_number()) {
      return TokenError(TokenFailure::kMalformed,
                        absl::StrCat("claim \"", name, "\" is not a number"));
    }
  }
  const double now = absl::ToDoubleSeconds(options.now - absl::UnixEpoch());
  const double leeway = absl::ToDoubleSeconds(options.leeway);
  const JsonValue* exp = claims->Find("exp");
  if (exp == nullptr && options.require_exp) {
    return TokenError(TokenFailure::kMissingExpiry, "the token has no \"exp\"");
  }
  if (exp != nullptr && exp->number_value() <= now - leeway) {
    return TokenError(
        TokenFailure::kExpired,
        absl::StrCat("expired ",
                     static_cast<int64_t>(std::floor(now - exp->number_value())),
                     " s ago"));
  }
  if (exp == nullptr && options.max_age_without_exp > absl::ZeroDuration()) {
    // A token without "exp" (accepted only when asked) still ages out.
    const JsonValue* iat = claims->Find("iat");
    if (iat == nullptr) {
      return TokenError(TokenFailure::kMissingExpiry,
                        "the token has neither \"exp\" nor \"iat\": its age "
                        "cannot be checked against the maximum age");
    }
    const double max_age = absl::ToDoubleSeconds(options.max_age_without_exp);
    if (iat->number_value() + max_age <= now - leeway) {
      return TokenError(
          TokenFailure::kExpired,
          absl::StrCat("the token has no \"exp\" and was issued ",
                       static_cast<int64_t>(std::floor(now - iat->number_value())),
                       " s ago, over the maximum age of ",
                       static_cast<int64_t>(max_age), " s"));
    }
  }
  for (absl::string_view name : {"nbf", "iat"}) {
    const JsonValue* v = claims->Find(name);
    if (v != nullptr && v->number_value() > now + leeway) {
      return TokenError(
          TokenFailure::kNotYetValid,
          absl::StrCat("\"", name, "\" is ",
                       static_cast<int64_t>(std::ceil(v->number_value() - now)),
                       " s in the future"));
    }
  }
  if (!options.issuer.empty()) {
    const JsonValue* iss = claims->Find("iss");
    if (iss == nullptr || !iss->is_string() ||
        iss->string_value() != options.issuer) {
      return TokenError(TokenFailure::kIssuerMismatch,
                        "\"iss\" is not the required issuer");
    }
  }
  const JsonValue* aud = claims->Find("aud");
  if (options.audience.empty()) {
    if (aud != nullptr) {
      return TokenError(TokenFailure::kAudienceMismatch,
                        "the token has \"aud\" but no audience was required");
    }
  } else {
    bool found = aud != nullptr && aud->is_string() &&
                 aud->string_value() == options.audience;
    if (aud != nullptr && aud->is_array()) {
      for (const JsonValue& a : aud->elements()) {
        found |= a.is_string() && a.string_value() == options.audience;
      }
    }
    if (!found) {
      return TokenError(TokenFailure::kAudienceMismatch,
                        "the required audience is not in \"aud\"");
    }
  }
  if (!options.typ.empty()) {
    const JsonValue* typ = header.Find("typ");
    if (typ == nullptr || !typ->is_string() ||
        !TypMatches(typ->string_value(), options.typ)) {
      return TokenError(TokenFailure::kTypeMismatch,
                        absl::StrCat("header \"typ\" is not \"", options.typ, "\""));
    }
  }
  return claims;
}

namespace {

absl::StatusOr<VerifiedJwt> Finish(absl::StatusOr<VerifiedJws> jws,
                                   const JwtVerifyOptions& options) {
  if (!jws.ok()) return jws.status();
  absl::StatusOr<JsonValue> claims =
      CheckJwtClaims(jws->header, jws->payload, options);
  if (!claims.ok()) return claims.status();
  VerifiedJwt out;
  out.header = std::move(jws->header);
  out.header_json = std::move(jws->header_json);
  out.claims = *std::move(claims);
  out.claims_json = std::move(jws->payload);
  out.kid = std::move(jws->kid);
  out.key_index = jws->key_index;
  return out;
}

}  // namespace

absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token,
                                      const JwsKeyResolver& resolve,
                                      const JwtVerifyOptions& options) {
  return Finish(VerifyCompact(token, resolve, options.jws), options);
}

absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token,
                                      const JwsVerificationKey& key,
                                      const JwtVerifyOptions& options) {
  return Finish(VerifyCompact(token, key, options.jws), options);
}

}  // namespace keyward::jose
