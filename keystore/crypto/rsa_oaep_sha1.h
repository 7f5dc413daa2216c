// RSA-OAEP with SHA-1 and MGF1-SHA-1 (RFC 8017, 7.1), for interoperability
// only: JWE's "RSA-OAEP" (RFC 7518, 4.3) is this scheme, and python-jose and
// other libraries default to it. Keyward's own RSA encryption is
// RSA-OAEP-256 (asymmetric.h). SHA-1's collision weakness does not touch
// OAEP, whose security rests on the hash as a random oracle/mask generator.
//
// The objects implement the AsymmetricEncrypter / AsymmetricDecrypter
// interfaces of asymmetric.h, with the same contracts (same errors, one
// message for every decryption failure), except that MaxPlaintextSize() is
// modulus bytes - 42. RSA keys must be 2048, 3072 or 4096 bits.

#ifndef KEYSTORE_CRYPTO_RSA_OAEP_SHA1_H_
#define KEYSTORE_CRYPTO_RSA_OAEP_SHA1_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// NewRsaOaepSha1Encrypter returns an RSA-OAEP-SHA-1 encrypter for the RSA
// SubjectPublicKeyInfo DER |spki_der|. INVALID_ARGUMENT if it is not an RSA
// key of 2048, 3072 or 4096 bits. Thread-safe.
absl::StatusOr<std::unique_ptr<AsymmetricEncrypter>> NewRsaOaepSha1Encrypter(
    absl::string_view spki_der);

// NewRsaOaepSha1Decrypter returns the matching decrypter for the RSA PKCS#8
// DER private key |pkcs8_der|. INVALID_ARGUMENT as above. Thread-safe.
absl::StatusOr<std::unique_ptr<AsymmetricDecrypter>> NewRsaOaepSha1Decrypter(
    const SecretData& pkcs8_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_RSA_OAEP_SHA1_H_
