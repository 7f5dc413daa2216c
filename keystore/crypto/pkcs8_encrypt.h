// Passphrase-encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, RFC 8018
// PBES2) for key export: PBKDF2-HMAC-SHA256 with a 16-byte random salt and
// AES-256-CBC with a random IV. OpenSSL (`openssl pkcs8`), BoringSSL, Python
// `cryptography` and Java read it. Built by hand in DER so that both build
// flavors write the same structure (BoringSSL's PKCS8_encrypt picks its own
// PRF).
#ifndef KEYSTORE_CRYPTO_PKCS8_ENCRYPT_H_
#define KEYSTORE_CRYPTO_PKCS8_ENCRYPT_H_

#include <string>

#include "absl/status/statusor.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// kExportPbkdf2Iterations is the PBKDF2 cost of exports (OWASP's 2023
// figure for PBKDF2-HMAC-SHA256).
inline constexpr int kExportPbkdf2Iterations = 600000;

// EncryptPkcs8 returns the DER EncryptedPrivateKeyInfo of the PKCS#8 DER
// |pkcs8_der| under |passphrase|. INVALID_ARGUMENT for an empty key or
// passphrase or iterations < 1000.
absl::StatusOr<std::string> EncryptPkcs8(
    const SecretData& pkcs8_der, const SecretData& passphrase,
    int iterations = kExportPbkdf2Iterations);

// EncryptedPkcs8Pem wraps EncryptPkcs8's DER as an "ENCRYPTED PRIVATE KEY"
// PEM block.
std::string EncryptedPkcs8Pem(const std::string& der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_PKCS8_ENCRYPT_H_
