#include "keystore/jose/failure.h"

#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace keyward::jose {
namespace {

constexpr absl::string_view kPayloadUrl = "type.keyward.dev/keyward.jose.TokenFailure";

absl::StatusCode CodeFor(TokenFailure failure) {
  switch (failure) {
    case TokenFailure::kMalformed:
    case TokenFailure::kUnsupportedHeader:
    case TokenFailure::kAlgorithmMismatch:
    case TokenFailure::kNone:
      return absl::StatusCode::kInvalidArgument;
    case TokenFailure::kKeyNotFound:
      return absl::StatusCode::kNotFound;
    case TokenFailure::kKeyUnusable:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kUnauthenticated;
  }
}

}  // namespace

absl::string_view TokenFailureName(TokenFailure failure) {
  switch (failure) {
    case TokenFailure::kNone: return "NONE";
    case TokenFailure::kMalformed: return "MALFORMED";
    case TokenFailure::kUnsupportedHeader: return "UNSUPPORTED_HEADER";
    case TokenFailure::kKeyNotFound: return "KEY_NOT_FOUND";
    case TokenFailure::kKeyUnusable: return "KEY_UNUSABLE";
    case TokenFailure::kAlgorithmMismatch: return "ALGORITHM_MISMATCH";
    case TokenFailure::kBadSignature: return "BAD_SIGNATURE";
    case TokenFailure::kMissingExpiry: return "MISSING_EXPIRY";
    case TokenFailure::kExpired: return "EXPIRED";
    case TokenFailure::kNotYetValid: return "NOT_YET_VALID";
    case TokenFailure::kIssuerMismatch: return "ISSUER_MISMATCH";
    case TokenFailure::kAudienceMismatch: return "AUDIENCE_MISMATCH";
    case TokenFailure::kTypeMismatch: return "TYPE_MISMATCH";
  }
  return "UNKNOWN";
}

absl::Status TokenError(TokenFailure failure, absl::string_view message) {
  absl::Status status(CodeFor(failure), message);
  status.SetPayload(kPayloadUrl,
                    absl::Cord(absl::StrCat(static_cast<int>(failure))));
  return status;
}

TokenFailure FailureOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kPayloadUrl);  // absl::optional
  int value = 0;
  if (!payload.has_value() ||
      !absl::SimpleAtoi(std::string(*payload), &value) || value < 0 ||
      value > static_cast<int>(TokenFailure::kTypeMismatch)) {
    return TokenFailure::kNone;
  }
  return static_cast<TokenFailure>(value);
}

}  // namespace keyward::jose
