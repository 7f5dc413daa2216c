// Checks shared by compact JWS and JWE parsing (RFC 7515 7.1, 7516 7.1):
// size limit, splitting into parts, the protected header, and the header
// parameters Keyward refuses. Private to keystore/jose. Thread-safe.

#ifndef KEYSTORE_JOSE_INTERNAL_COMPACT_H_
#define KEYSTORE_JOSE_INTERNAL_COMPACT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/jose/json.h"

namespace keyward::jose::internal {

// SplitCompact returns the |parts| dot-separated parts of |token|.
// kMalformed if |token| is longer than |max_bytes| or has another number of
// parts.
absl::StatusOr<std::vector<absl::string_view>> SplitCompact(
    absl::string_view token, size_t parts, size_t max_bytes,
    absl::string_view what);

// DecodeHeader base64url-decodes and parses a protected header: a JSON
// object with no duplicate members. kMalformed otherwise. If |json| is not
// null, the decoded header text is left in it (whatever the result).
absl::StatusOr<JsonValue> DecodeHeader(absl::string_view encoded,
                                       std::string* json = nullptr);

// DecodePart base64url-decodes a token part; kMalformed with |name| in the
// message if it is not canonical.
absl::StatusOr<std::string> DecodePart(absl::string_view encoded,
                                       absl::string_view name);

// CheckHeader applies the rules common to JWS and JWE headers:
//   "alg" present and a string, not "none" in any case (kUnsupportedHeader);
//   "jwk", "jku", "x5u", "x5c" refused: Keyward never takes a key from a
//     token (kUnsupportedHeader);
//   "zip" and "b64" refused (kUnsupportedHeader);
//   "crit" refused unless a non-empty array of distinct strings, each in
//     |understood_crit|, present in the header and not a name RFC 7515/7516
//     registers (kUnsupportedHeader);
//   "kid", "typ", "cty" strings if present (kMalformed).
absl::Status CheckHeader(const JsonValue& header,
                         const std::vector<std::string>& understood_crit);

// StringMember returns the string member |name| of |object|, or "".
std::string StringMember(const JsonValue& object, absl::string_view name);

}  // namespace keyward::jose::internal

#endif  // KEYSTORE_JOSE_INTERNAL_COMPACT_H_
