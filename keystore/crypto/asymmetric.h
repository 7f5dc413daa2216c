// Public-key encryption: RSA-OAEP with SHA-256 and MGF1-SHA-256 (RFC 8017).
//
// AsymmetricEncrypter and AsymmetricDecrypter are the interfaces;
// NewAsymmetricEncrypter / NewAsymmetricDecrypter make them from an RSA key of
// 2048, 3072 or 4096 bits. A label (OAEP's "L") binds context to a ciphertext
// the way associated data does for an Aead: decryption needs the same label.

#ifndef KEYSTORE_CRYPTO_ASYMMETRIC_H_
#define KEYSTORE_CRYPTO_ASYMMETRIC_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// AsymmetricEncrypter encrypts to a public key. Immutable and thread-safe.
class AsymmetricEncrypter {
 public:
  virtual ~AsymmetricEncrypter() = default;
  // Encrypt returns the RSA-OAEP ciphertext (modulus-sized) of |plaintext|
  // under |label|. INVALID_ARGUMENT if |plaintext| is longer than
  // MaxPlaintextSize() (modulus bytes - 66).
  virtual absl::StatusOr<std::string> Encrypt(
      absl::string_view plaintext, absl::string_view label) const = 0;
  // MaxPlaintextSize returns the longest plaintext Encrypt takes.
  virtual size_t MaxPlaintextSize() const = 0;
};

// AsymmetricDecrypter decrypts with a private key. Immutable and thread-safe.
class AsymmetricDecrypter {
 public:
  virtual ~AsymmetricDecrypter() = default;
  // Decrypt returns the plaintext of |ciphertext| made under |label|. Every
  // failure (wrong length, bad padding, other key, other label) is the same
  // INVALID_ARGUMENT "ciphertext is not valid", so that nothing about the
  // padding leaks to the caller.
  virtual absl::StatusOr<std::string> Decrypt(
      absl::string_view ciphertext, absl::string_view label) const = 0;
};

// NewAsymmetricEncrypter returns an encrypter for the RSA SubjectPublicKeyInfo
// DER |spki_der|. INVALID_ARGUMENT if it is not an RSA key of 2048, 3072 or
// 4096 bits. Thread-safe.
absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewAsymmetricEncrypter(
    absl::string_view spki_der);

// NewAsymmetricDecrypter returns a decrypter for the RSA PKCS#8 DER private key
// |pkcs8_der|. INVALID_ARGUMENT as for NewAsymmetricEncrypter. Thread-safe.
absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewAsymmetricDecrypter(
    const SecretData& pkcs8_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_ASYMMETRIC_H_
