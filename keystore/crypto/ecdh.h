// Elliptic-curve Diffie-Hellman on P-256 and the Concat KDF, for JWE
// "ECDH-ES" and "ECDH-ES+A*KW" (RFC 7518 4.6). Keys are kEcdhP256 (keys.h):
// PKCS#8 DER for the private key, SPKI DER for the public one.
//
// Every peer public key is parsed and checked before use: it must be a
// P-256 point on the curve and not the point at infinity (libcrypto's point
// decoding and EC_KEY_check_key), so an invalid-curve point, which would
// leak the private key bit by bit, is refused before any multiplication.

#ifndef KEYSTORE_CRYPTO_ECDH_H_
#define KEYSTORE_CRYPTO_ECDH_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// EcdhPrivateKey agrees shared secrets with peers. Implementations are
// immutable and thread-safe.
class EcdhPrivateKey {
 public:
  virtual ~EcdhPrivateKey() = default;

  // ComputeSharedSecret returns Z, the x-coordinate of d * Q (32 bytes), for
  // the peer public key |peer_spki_der|. INVALID_ARGUMENT "the peer public
  // key is not a valid P-256 point" if it is not SPKI DER of a P-256 point on
  // the curve.
  virtual absl::StatusOr<SecretData> ComputeSharedSecret(
      absl::string_view peer_spki_der) const = 0;
};

// NewEcdhP256PrivateKey returns an EcdhPrivateKey for the P-256 PKCS#8 DER
// |pkcs8_der|. INVALID_ARGUMENT if it is not one.
absl::StatusOr<std::unique_ptr<EcdhPrivateKey>> NewEcdhP256PrivateKey(
    const SecretData& pkcs8_der);

// EcdhEphemeralResult is the sender's side of one agreement.
struct EcdhEphemeralResult {
  SecretData shared_secret;        // Z, 32 bytes.
  std::string ephemeral_spki_der;  // The fresh public key to send.
};

// EcdhP256Ephemeral makes a fresh P-256 key pair, agrees Z with the
// recipient public key |recipient_spki_der| (checked as above) and forgets
// the ephemeral private key. INVALID_ARGUMENT for a bad recipient key.
absl::StatusOr<EcdhEphemeralResult> EcdhP256Ephemeral(
    absl::string_view recipient_spki_der);

// ConcatKdfSha256 is the single-step KDF of NIST SP 800-56A rev. 2, 5.8.1,
// with SHA-256, as RFC 7518 4.6.2 uses it: the first |out_len| bytes of
// SHA-256(counter || Z || OtherInfo) for counter = 1, 2, ... (32-bit
// big-endian). |out_len| must be 1..1024 and |z| non-empty, else
// INVALID_ARGUMENT.
absl::StatusOr<SecretData> ConcatKdfSha256(const SecretData& z,
                                           absl::string_view other_info,
                                           size_t out_len);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_ECDH_H_
