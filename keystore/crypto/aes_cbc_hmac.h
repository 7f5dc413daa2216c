// AES-CBC with HMAC-SHA-2, the authenticated encryption of RFC 7518 5.2
// (JWE "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"), offered for JWE
// interoperability only; Keyward's own encryption is AES-256-GCM (aead.h).
//
// The key K (32, 48 or 64 bytes) splits into MAC_KEY (first half) and
// ENC_KEY (second half). Encrypt draws a 16-byte IV, encrypts with AES-CBC
// and PKCS#7 padding, and tags with T = the first half of
// HMAC(MAC_KEY, A || IV || E || AL), AL being A's length in bits as 64-bit
// big-endian. The ciphertext format is that of aead.h, with CBC's sizes:
//   16-byte IV || E || T (16, 24 or 32 bytes).
// Decrypt checks T in constant time before it decrypts, and a bad tag and a
// bad padding give the same error, so there is no padding oracle.

#ifndef KEYSTORE_CRYPTO_AES_CBC_HMAC_H_
#define KEYSTORE_CRYPTO_AES_CBC_HMAC_H_

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// AesCbcHmacSha2 makes the composite Aead objects.
class AesCbcHmacSha2 {
 public:
  static constexpr size_t kIvSize = 16;

  // TagSize returns the tag size for a key of |key_size| bytes: half of it.
  static constexpr size_t TagSize(size_t key_size) { return key_size / 2; }

  // Create returns an Aead with its own copy of |key|: 32 bytes for
  // A128CBC-HS256, 48 for A192CBC-HS384, 64 for A256CBC-HS512; else
  // INVALID_ARGUMENT. Decrypt fails with INVALID_ARGUMENT "ciphertext is not
  // authentic or is truncated" for every cause. Thread-safe.
  static absl::StatusOr<std::unique_ptr<Aead>> Create(const SecretData& key);

  AesCbcHmacSha2() = delete;
};

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_AES_CBC_HMAC_H_
