// The JWT rules of Keyward's JWT keys (purpose kJwt), over a Keystore: which
// JWS algorithm a key signs with, the token lifetime a key allows, which key
// version a token's kid names, and the checks a token must pass, revocation
// included. The daemon's JwtService only converts protos to these calls and
// back (issue 13: the rules live in keystore/, not in daemon/).
//
// Times: every call reads the keystore's clock (Keystore::Now, from
// KeystoreOptions::now), so that tests can move it.
//
// Usage:
//   JwtSignParams p;  p.key_id = "login";  p.claims = *jose::ParseJsonObject(c);
//   absl::StatusOr<SignedToken> t = SignJwt(keystore, p);
//   JwtVerifyParams v;  v.token = t->token;  v.audience = "api";
//   absl::StatusOr<JwtVerdict> verdict = VerifyJwt(keystore, v);
// Thread-safe (as the Keystore is).

#ifndef KEYWARD_KEYSTORE_JWT_H_
#define KEYWARD_KEYSTORE_JWT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/keystore.h"
#include "keystore/records.h"

namespace keyward::keystore {

// JwsAlgorithmOf returns the one JWS "alg" of a JWT key: HS256/384/512 by an
// HMAC key's hash, else its signature_algorithms[0]'s. FAILED_PRECONDITION
// for a key of another purpose or a type that makes no JWTs.
absl::StatusOr<jose::JwsAlgorithm> JwsAlgorithmOf(const KeyRecord& key);

// DefaultKid is a version's JOSE kid: its own (imported keys), else
// "{key_id}:v{n}".
std::string DefaultKid(const VersionRecord& version);

// ResolveKid finds the key version `kid` names: Keyward's own form
// "{key_id}:v{n}" (not checked to exist), or a version's own kid (found in
// the keystore's memory). False if it names none.
bool ResolveKid(Keystore& keystore, absl::string_view kid, std::string* id,
                int32_t* version);

// TokenRecordSpec asks SignJwt to keep a record of the token (already
// checked by the caller: sizes and character sets of the proto's
// TokenRecordOptions).
struct TokenRecordSpec {
  std::string external_id;
  std::map<std::string, std::string> metadata;
  bool store_token = false;      // keep the token itself, sealed
  absl::Duration retention;      // how long after "exp" the record stays
};

struct JwtSignParams {
  std::string key_id;
  jose::JsonValue claims = jose::JsonValue::Object();  // a JSON object
  // exp - now; zero: the key's jwt_default_ttl, else 15 minutes (or the
  // key's maximum if shorter). Above the key's maximum: refused, never
  // shortened.
  absl::Duration ttl = absl::ZeroDuration();
  std::string typ = "JWT";
  std::optional<TokenRecordSpec> record;
  std::string issued_by;  // the principal, kept in the record
  size_t max_token_bytes = jose::kDefaultMaxTokenBytes;
};

struct SignedToken {
  std::string token;
  std::string jti;
  int32_t version = 0;  // the signing version (the primary)
  absl::Time issued_at;
  absl::Time expires_at;
  bool recorded = false;
};

// SignJwt signs `params.claims` with the primary version of JWT key
// `params.key_id` in the key's algorithm, filling iat/nbf/exp/jti as
// jose::SignJwt does, and "iss" with the key's jwt_issuer if it has one.
// Errors: INVALID_ARGUMENT (ttl negative or over the key's maximum
// lifetime, a given "exp" past that maximum, claims whose "iss" is not the
// key's issuer, the token
// rules of jose::SignJwt, a recorded token's jti not 1 to 128 of
// [A-Za-z0-9_-]); NOT_FOUND; ALREADY_EXISTS (a recorded token's jti has a
// record); FAILED_PRECONDITION (not a JWT key, public-only key, version
// not usable); the keystore's codes.
absl::StatusOr<SignedToken> SignJwt(Keystore& keystore,
                                    const JwtSignParams& params);

struct JwtVerifyParams {
  std::string token;
  // The pinned JWT key; empty: found by the token's kid.
  std::string pinned_key_id;
  std::string issuer;    // if set, "iss" must equal it
  std::string audience;  // if set, "aud" must hold it; if not, no "aud"
  std::string typ;       // if set, the header "typ" must match it
  absl::Duration leeway = absl::Seconds(60);
  // Tokens without "exp": accepted only if true, and then, if
  // max_age_without_exp is positive, only while "iat" is that recent.
  bool allow_missing_exp = false;
  absl::Duration max_age_without_exp = absl::ZeroDuration();
  size_t max_token_bytes = jose::kDefaultMaxTokenBytes;
  // If set, called with the id of the key about to be used: a non-OK
  // status is returned as the call's error for a pinned key, and is the
  // verdict KEY_NOT_FOUND for a key found by kid (the caller learns
  // nothing about keys it may not use).
  std::function<absl::Status(const std::string& key_id)> authorize;
};

// JwtVerdict: VerifyJwt's answer about the token. `failure` is a
// jose::TokenFailure value, or kRevokedFailure; 0 when valid.
inline constexpr int kRevokedFailure = 13;  // jwt_service.proto's REVOKED
struct JwtVerdict {
  bool valid = false;
  int failure = 0;
  std::string detail;       // why, when not valid; never secret
  std::string header_json;  // set only when valid
  std::string claims_json;  // set only when valid, byte for byte as signed
  std::string key_id;       // the key whose version was checked, if any
  int32_t version = 0;      // that version
};

// VerifyJwt checks `params.token` as jwt_service.proto's VerifyJwt says:
// anything wrong with the token is a verdict; errors are for the request
// (NOT_FOUND or FAILED_PRECONDITION for a pinned key, `authorize`'s
// status) and the keystore (UNAVAILABLE, DATA_LOSS).
absl::StatusOr<JwtVerdict> VerifyJwt(Keystore& keystore,
                                     const JwtVerifyParams& params);

}  // namespace keyward::keystore

#endif  // KEYWARD_KEYSTORE_JWT_H_
