// AES-GCM with 128-, 192- or 256-bit keys, for JWE content encryption
// ("A128GCM", "A192GCM", "A256GCM", RFC 7518 5.3) and key wrapping
// ("A128GCMKW".., 4.7). Keyward's own encryption keeps to AES-256 (aead.h);
// the smaller keys are here only because other JOSE libraries send them.
//
// The objects implement aead.h's Aead with AesGcm's exact contract and
// format: 12-byte random nonce || ciphertext || 16-byte tag.

#ifndef KEYSTORE_CRYPTO_AES_GCM_ANY_H_
#define KEYSTORE_CRYPTO_AES_GCM_ANY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "keystore/crypto/aead.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// AesGcmAnyKeySize makes AES-GCM Aead objects for any AES key size.
class AesGcmAnyKeySize {
 public:
  // Create returns an Aead that holds its own copy of |key|. INVALID_ARGUMENT
  // unless |key| is 16, 24 or 32 bytes. Thread-safe.
  static absl::StatusOr<std::unique_ptr<Aead>> Create(const SecretData& key);

  AesGcmAnyKeySize() = delete;
};

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_AES_GCM_ANY_H_
