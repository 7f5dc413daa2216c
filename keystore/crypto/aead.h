// Authenticated encryption with associated data (AEAD).
//
// Aead is the interface; AesGcm::Create makes the one implementation Keyward
// offers, AES-256-GCM. The ciphertext format is in ciphertext_format.md:
//   12-byte random nonce || ciphertext || 16-byte tag.
// The nonce is drawn inside Encrypt; callers never choose it.

#ifndef KEYSTORE_CRYPTO_AEAD_H_
#define KEYSTORE_CRYPTO_AEAD_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// Aead encrypts and authenticates. Implementations are immutable once made and
// thread-safe: one object may serve any number of threads at once.
class Aead {
 public:
  virtual ~Aead() = default;

  // Encrypt returns the ciphertext of |plaintext|, bound to |associated_data|
  // (authenticated, not encrypted, not included in the output). Each call uses
  // a fresh random nonce. INVALID_ARGUMENT if an input exceeds 2^31 - 1 bytes.
  virtual absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext, absl::string_view associated_data) const = 0;

  // Decrypt returns the plaintext of |ciphertext| if it is authentic under this
  // key and |associated_data|. Otherwise (modified, truncated, other key or
  // other associated data) INVALID_ARGUMENT "ciphertext is not authentic or is
  // truncated", the same for every cause; callers may remap the code.
  virtual absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext, absl::string_view associated_data) const = 0;
};

// AesGcm makes AES-256-GCM Aead objects.
class AesGcm {
 public:
  // kKeySize is the only key size accepted: 32 bytes (AES-256).
  static constexpr size_t kKeySize = 32;
  // kNonceSize and kTagSize are the sizes of the ciphertext's prefix and suffix.
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  // Create returns an Aead that holds its own copy of |key|. INVALID_ARGUMENT
  // unless |key| is 32 bytes. Thread-safe.
  static absl::StatusOr<std::unique_ptr<Aead>> Create(const SecretData& key);

  AesGcm() = delete;
};

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_AEAD_H_
