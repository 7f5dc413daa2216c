// JSON Web Tokens (RFC 7519) on top of jws.h: issuing with the registered
// time claims filled in, and verifying with claim checks.
//
// SignJwt adds "iat" (now), "nbf" (= iat, also a backdated iat the caller
// gave), "exp" (now + ttl) as integer seconds and "jti" (16 random bytes,
// base64url), and "iss" if an issuer is set; it refuses "exp" <= now and
// "nbf" > "exp". VerifyJwt checks, in this order, each failure a distinct
// TokenFailure: the JWS (structure, header, key, alg, signature), the
// claims being a strict JSON object whose time claims are numbers
// (kMalformed), "exp" present unless require_exp is false (kMissingExpiry)
// and after now - leeway (kExpired); without "exp", when a maximum age is
// set, "iat" present (kMissingExpiry) and no older than that age (kExpired);
// "nbf" and "iat" not after now + leeway (kNotYetValid), "iss"
// (kIssuerMismatch), "aud" string or array (kAudienceMismatch; a token with
// "aud" is refused when no audience is required, RFC 7519 4.1.3), and the
// header "typ" (kTypeMismatch; case-insensitive, "application/" optional).
//
// Usage:
//   JwtSignOptions sign;  sign.now = absl::Now();  sign.ttl = absl::Minutes(5);
//   absl::StatusOr<SignedJwt> jwt = SignJwt(claims_object, key, sign);
//   JwtVerifyOptions check;  check.now = absl::Now();  check.audience = "api";
//   absl::StatusOr<VerifiedJwt> v = VerifyJwt(jwt->token, resolver, check);
//   if (!v.ok()) Verdict(FailureOf(v.status()), v.status().message());
// Thread-safe.

#ifndef KEYSTORE_JOSE_JWT_H_
#define KEYSTORE_JOSE_JWT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"

namespace keyward::jose {

struct JwtSignOptions {
  absl::Time now = absl::UnixEpoch();  // Required: the issue time.
  absl::Duration ttl = absl::Minutes(5);  // exp - iat; must be positive.
  std::string typ = "JWT";  // Header "typ"; empty: none.
  std::string issuer;       // If set, "iss" is set to it (or must equal it).
  // If true, "iat", "nbf", "exp" and "jti" given in the claims are kept;
  // if false (the daemon's rule) their presence is INVALID_ARGUMENT.
  bool keep_given_registered_claims = false;
  size_t max_token_bytes = kDefaultMaxTokenBytes;
};

// SignedJwt is an issued token and what was put in it.
struct SignedJwt {
  std::string token;
  std::string claims_json;  // The payload as signed.
  std::string jti;
  absl::Time issued_at;
  absl::Time expires_at;
};

// SignJwt signs |claims| (a JSON object) with |key|. INVALID_ARGUMENT if
// |claims| is not an object or has "alg" or "kid" (header parameters that
// come from the key), ttl is not positive, a registered claim is
// set against the options, a given "iat"/"nbf"/"exp" is not an integer,
// "exp" is not after now, "nbf" is after "exp", "iss" differs from the
// issuer, or the token is over the limit.
absl::StatusOr<SignedJwt> SignJwt(const JsonValue& claims,
                                  const JwsSigningKey& key,
                                  const JwtSignOptions& options);

struct JwtVerifyOptions {
  absl::Time now = absl::UnixEpoch();   // Required.
  // Clock skew allowed on exp, nbf, iat and the maximum age. Zero is
  // allowed: exact comparisons.
  absl::Duration leeway = absl::Seconds(60);
  std::string issuer;     // If set, "iss" must equal it.
  std::string audience;   // If set, "aud" must be it or contain it; if
                          // empty, a token with "aud" is refused.
  std::string typ;        // If set, the header "typ" must match it.
  // If false, a token without "exp" is accepted (migration from issuers
  // that leave it out); one with "exp" is still held to it.
  bool require_exp = true;
  // With require_exp false: if positive, a token without "exp" must carry
  // "iat" and be at most this old (iat + max_age > now - leeway). Zero: no
  // age limit.
  absl::Duration max_age_without_exp = absl::ZeroDuration();
  JwsVerifyOptions jws;
};

// VerifiedJwt is a token that passed every check.
struct VerifiedJwt {
  JsonValue header;
  std::string header_json;
  JsonValue claims;
  std::string claims_json;  // Byte for byte as signed.
  std::optional<std::string> kid;
  size_t key_index = 0;
};

// VerifyJwt verifies |token| with the keys |resolve| returns, then checks
// its claims as described at the top of this file.
absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token,
                                      const JwsKeyResolver& resolve,
                                      const JwtVerifyOptions& options);
// VerifyJwt with one key.
absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token,
                                      const JwsVerificationKey& key,
                                      const JwtVerifyOptions& options);

// CheckJwtClaims runs the claim and typ checks alone, on a header and
// payload already verified (e.g. by VerifyCompact).
absl::StatusOr<JsonValue> CheckJwtClaims(const JsonValue& header,
                                         absl::string_view claims_json,
                                         const JwtVerifyOptions& options);

// TypMatches compares two "typ" values as RFC 7515 4.1.9 says: ignoring
// ASCII case and an "application/" prefix.
bool TypMatches(absl::string_view a, absl::string_view b);

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_JWT_H_
