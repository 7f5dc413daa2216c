// Strict base64url (RFC 4648 5) without padding, as JOSE uses it (RFC 7515
// 2): the only encoding of a byte string that Base64UrlDecode accepts is
// the one Base64UrlEncode produces, so a token has exactly one spelling and
// its signature covers exactly what is read.
//
// Usage:
//   std::string text = Base64UrlEncode(bytes);
//   absl::StatusOr<std::string> bytes = Base64UrlDecode(text);
//   if (!bytes.ok()) ...  // INVALID_ARGUMENT "non-canonical base64url"
// Thread-safe.

#ifndef KEYSTORE_JOSE_BASE64URL_H_
#define KEYSTORE_JOSE_BASE64URL_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::jose {

// Base64UrlEncode returns |data| in base64url without padding.
std::string Base64UrlEncode(absl::string_view data);

// Base64UrlAppend appends Base64UrlEncode(data) to |out|.
void Base64UrlAppend(absl::string_view data, std::string* out);

// Base64UrlEncodedSize is the length of Base64UrlEncode of |bytes| bytes.
constexpr size_t Base64UrlEncodedSize(size_t bytes) {
  return bytes / 3 * 4 + (bytes % 3 == 0 ? 0 : bytes % 3 + 1);
}

// Base64UrlDecode returns the bytes of |text|. INVALID_ARGUMENT
// "non-canonical base64url" for any character outside [A-Za-z0-9_-]
// (padding '=', whitespace, '+', '/' included), a length of 1 modulo 4, or
// non-zero bits left over in the last character.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);

// Base64UrlDecodeSecret is Base64UrlDecode into SecretData, for key
// material (JWK "k", "d", ...); no copy of the bytes is left behind.
absl::StatusOr<crypto::SecretData> Base64UrlDecodeSecret(
    absl::string_view text);

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_BASE64URL_H_
