// RSASSA-PSS with SHA-384 and SHA-512 (RFC 8017, 8.1), for JWS "PS384" and
// "PS512" (RFC 7518, 3.5): MGF1 with the same hash, salt as long as the hash
// (48 or 64 bytes). RSA-PSS with SHA-256 is SignatureAlgorithm::kRsaPssSha256
// in signature.h; these live apart so that signature.h's enum stays as it is.
//
// The objects implement signature.h's Signer and Verifier interfaces with the
// same contracts. RSA keys must be 2048, 3072 or 4096 bits.

#ifndef KEYSTORE_CRYPTO_RSA_PSS_H_
#define KEYSTORE_CRYPTO_RSA_PSS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"

namespace keyward::crypto {

// RsaPssHash is the hash of RSASSA-PSS, its MGF1 and the salt length.
enum class RsaPssHash { kSha384, kSha512 };

// NewRsaPssSigner returns a Signer for RSASSA-PSS with |hash| over the RSA
// PKCS#8 DER private key |pkcs8_der|. INVALID_ARGUMENT if the DER is not an
// RSA private key of an offered size. Thread-safe.
absl::StatusOr<std::unique_ptr<Signer>> NewRsaPssSigner(
    RsaPssHash hash, const SecretData& pkcs8_der);

// NewRsaPssVerifier returns the matching Verifier for the RSA
// SubjectPublicKeyInfo DER |spki_der|. INVALID_ARGUMENT as above.
// Thread-safe.
absl::StatusOr<std::unique_ptr<Verifier>> NewRsaPssVerifier(
    RsaPssHash hash, absl::string_view spki_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_RSA_PSS_H_
