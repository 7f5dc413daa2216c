// Digital signatures.
//
// Signer and Verifier are the interfaces; NewSigner and NewVerifier make them
// for one SignatureAlgorithm from a PKCS#8 private key or an X.509
// SubjectPublicKeyInfo, both DER. The key is parsed and checked once, in the
// factory, and kept parsed in the object, so Sign and Verify cost about what
// the bare libcrypto call does.

#ifndef KEYSTORE_CRYPTO_SIGNATURE_H_
#define KEYSTORE_CRYPTO_SIGNATURE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// SignatureAlgorithm fixes the key type, hash, padding and encoding:
//   kEd25519              Ed25519 (RFC 8032), 64-byte signatures.
//   kEcdsaP256Sha256Der   ECDSA P-256 + SHA-256, DER Ecdsa-Sig-Value.
//   kEcdsaP256Sha256P1363 same, fixed-width r || s (64 bytes).
//   kEcdsaP384Sha384Der   ECDSA P-384 + SHA-384, DER.
//   kEcdsaP384Sha384P1363 same, fixed-width r || s (96 bytes).
//   kEcdsaP521Sha512Der   ECDSA P-521 + SHA-512, DER.
//   kEcdsaP521Sha512P1363 same, fixed-width r || s (132 bytes: 66 each), the
//                         JWS "ES512" encoding (RFC 7518 3.4).
//   kRsaPssSha256/384/512 RSASSA-PSS with that hash, MGF1 with the same hash,
//                         salt as long as the hash (32, 48, 64 bytes): the
//                         JWS PS256/384/512 parameters (RFC 7518 3.5).
//   kRsaPkcs1Sha256/384/512  RSASSA-PKCS1-v1_5 with that hash.
// RSA keys must be 2048, 3072 or 4096 bits. The values are not stored
// anywhere (envelopes do not name the algorithm), so new ones may be added
// anywhere; they are appended.
enum class SignatureAlgorithm {
  kEd25519,
  kEcdsaP256Sha256Der,
  kEcdsaP256Sha256P1363,
  kEcdsaP384Sha384Der,
  kEcdsaP384Sha384P1363,
  kRsaPssSha256,
  kRsaPkcs1Sha256,
  kRsaPkcs1Sha384,
  kRsaPkcs1Sha512,
  kEcdsaP521Sha512Der,
  kEcdsaP521Sha512P1363,
  kRsaPssSha384,
  kRsaPssSha512,
};

// kAllSignatureAlgorithms lists every value, for tests and tables that must
// cover them all.
inline constexpr SignatureAlgorithm kAllSignatureAlgorithms[] = {
    SignatureAlgorithm::kEd25519,
    SignatureAlgorithm::kEcdsaP256Sha256Der,
    SignatureAlgorithm::kEcdsaP256Sha256P1363,
    SignatureAlgorithm::kEcdsaP384Sha384Der,
    SignatureAlgorithm::kEcdsaP384Sha384P1363,
    SignatureAlgorithm::kRsaPssSha256,
    SignatureAlgorithm::kRsaPkcs1Sha256,
    SignatureAlgorithm::kRsaPkcs1Sha384,
    SignatureAlgorithm::kRsaPkcs1Sha512,
    SignatureAlgorithm::kEcdsaP521Sha512Der,
    SignatureAlgorithm::kEcdsaP521Sha512P1363,
    SignatureAlgorithm::kRsaPssSha384,
    SignatureAlgorithm::kRsaPssSha512,
};

// SignatureAlgorithmName returns a stable name such as "ECDSA-P256-SHA256-DER".
absl::string_view SignatureAlgorithmName(SignatureAlgorithm algorithm);

// Signer signs. Implementations are immutable once made and thread-safe.
class Signer {
 public:
  virtual ~Signer() = default;
  // Sign returns the signature of |data| (the message itself, not a digest).
  // INTERNAL only if libcrypto fails, which is not expected.
  virtual absl::StatusOr<std::string> Sign(absl::string_view data) const = 0;
  // SignDigest signs a digest the caller made with the algorithm's hash
  // (ECDSA and RSA only). INVALID_ARGUMENT for a digest of another length
  // or an Ed25519 signer, which signs whole messages.
  virtual absl::StatusOr<std::string> SignDigest(
      absl::string_view /*digest*/) const {
    return absl::InvalidArgumentError("this algorithm does not sign digests");
  }
};

// Verifier checks signatures. Implementations are immutable once made and
// thread-safe.
class Verifier {
 public:
  virtual ~Verifier() = default;
  // Verify returns OK if |signature| is a valid signature of |data| in this
  // algorithm's exact encoding, else INVALID_ARGUMENT "signature is not valid".
  // DER signatures must be strict DER: BER variants, trailing bytes and
  // non-minimal integers are refused.
  virtual absl::Status Verify(absl::string_view signature,
                              absl::string_view data) const = 0;
  // VerifyDigest is Verify over a digest made with the algorithm's hash
  // (ECDSA and RSA only; INVALID_ARGUMENT otherwise, as for a bad
  // signature, but with a message saying why).
  virtual absl::Status VerifyDigest(absl::string_view /*signature*/,
                                    absl::string_view /*digest*/) const {
    return absl::InvalidArgumentError("this algorithm does not verify digests");
  }
};

// DisableEcdsaNoncesAhead makes every ECDSA Signer in the process make its
// nonce on the signing path from its return on, instead of taking one made
// ahead by a background thread (internal/ecdsa_nonces.h). For processes
// whose memory may be copied and resumed twice (VM snapshots, CRIU).
// Thread-safe; cannot be undone.
void DisableEcdsaNoncesAhead();

// NewSigner returns a Signer for |algorithm| over the PKCS#8 DER private key
// |pkcs8_der|. INVALID_ARGUMENT if the DER is not a private key, or if the key
// does not fit |algorithm| (the message names both). Thread-safe.
absl::StatusOr<std::unique_ptr<Signer>> NewSigner(
    SignatureAlgorithm algorithm, const SecretData& pkcs8_der);

// NewVerifier returns a Verifier for |algorithm| over the SubjectPublicKeyInfo
// DER |spki_der|. INVALID_ARGUMENT as for NewSigner. Thread-safe.
absl::StatusOr<std::unique_ptr<Verifier>> NewVerifier(
    SignatureAlgorithm algorithm, absl::string_view spki_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_SIGNATURE_H_
