// AES Key Wrap (RFC 3394, default IV A6A6A6A6A6A6A6A6), for JWE
// "A128KW"/"A192KW"/"A256KW" and "ECDH-ES+A*KW" (RFC 7518 4.4, 4.6).
// Functions are thread-safe.

#ifndef KEYSTORE_CRYPTO_AES_KEY_WRAP_H_
#define KEYSTORE_CRYPTO_AES_KEY_WRAP_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// AesKeyWrap returns |key| wrapped under the key-encryption key |kek|:
// 8 bytes longer than |key|. INVALID_ARGUMENT unless |kek| is 16, 24 or 32
// bytes and |key| is 16 to 4096 bytes, a multiple of 8.
absl::StatusOr<std::string> AesKeyWrap(const SecretData& kek,
                                       const SecretData& key);

// AesKeyUnwrap returns the key inside |wrapped| if its integrity check
// passes under |kek|. INVALID_ARGUMENT "wrapped key is not authentic" for a
// wrong key, a modified or truncated input, or a length that is not 24 to
// 4104 bytes in multiples of 8; INVALID_ARGUMENT for a bad |kek| size.
absl::StatusOr<SecretData> AesKeyUnwrap(const SecretData& kek,
                                        absl::string_view wrapped);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_AES_KEY_WRAP_H_
