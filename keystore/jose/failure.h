// TokenFailure: why a token was refused, carried inside the absl::Status
// that keystore/jose returns, so a caller can turn a refusal into a verdict
// (the daemon's JwtFailure has the same values, in the same order) without
// parsing messages.
//
// Usage:
//   absl::StatusOr<VerifiedJwt> jwt = VerifyJwt(token, resolver, options);
//   if (!jwt.ok()) {
//     TokenFailure why = FailureOf(jwt.status());  // kNone: not a token issue
//     ...
//   }
//   // A key resolver reports its own failures the same way:
//   return TokenError(TokenFailure::kKeyNotFound, "no key with kid 'k:v9'");
// Thread-safe.

#ifndef KEYSTORE_JOSE_FAILURE_H_
#define KEYSTORE_JOSE_FAILURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace keyward::jose {

// TokenFailure mirrors keyward.v1.JwtFailure (jwt_service.proto).
enum class TokenFailure {
  kNone = 0,                // Not a verdict on the token (or no failure).
  kMalformed = 1,           // Structure, base64url, JSON, size, claim types.
  kUnsupportedHeader = 2,   // alg missing/none/unknown; crit, zip, b64, jwk...
  kKeyNotFound = 3,         // Reported by key resolvers.
  kKeyUnusable = 4,         // Reported by key resolvers.
  kAlgorithmMismatch = 5,   // Header alg is not the key's.
  kBadSignature = 6,        // Signature, MAC or JWE decryption failed.
  kMissingExpiry = 7,
  kExpired = 8,
  kNotYetValid = 9,
  kIssuerMismatch = 10,
  kAudienceMismatch = 11,
  kTypeMismatch = 12,
};

// TokenFailureName returns a stable name such as "EXPIRED".
absl::string_view TokenFailureName(TokenFailure failure);

// TokenError returns a Status with |message| and |failure| attached. The
// code follows from the failure: INVALID_ARGUMENT for kMalformed,
// kUnsupportedHeader, kAlgorithmMismatch; NOT_FOUND for kKeyNotFound;
// FAILED_PRECONDITION for kKeyUnusable; UNAUTHENTICATED for the rest
// (the token is well formed but does not prove what it claims).
absl::Status TokenError(TokenFailure failure, absl::string_view message);

// FailureOf returns the failure attached to |status|, kNone if there is
// none (including for OK).
TokenFailure FailureOf(const absl::Status& status);

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_FAILURE_H_
