// Helpers shared by the keystore/crypto primitives: turning libcrypto failures
// into absl::Status, and strict DER parsing and encoding of keys.
// Everything here is thread-safe.

#ifndef KEYSTORE_CRYPTO_INTERNAL_EVP_UTIL_H_
#define KEYSTORE_CRYPTO_INTERNAL_EVP_UTIL_H_

#include <openssl/evp.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/internal/ossl_ptr.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto::internal {

// Error returns Status(|code|, |message|) after clearing this thread's
// libcrypto error queue, so a failure here leaves no stale entry for the next
// libcrypto user on the thread (TLS reads that queue). Every failure path
// that follows a libcrypto call returns through Error.
absl::Status Error(absl::StatusCode code, absl::string_view message);

// kNotAuthentic: every AEAD's INVALID_ARGUMENT message for a ciphertext that
// fails authentication or is cut short (it says nothing of which).
inline constexpr absl::string_view kNotAuthentic =
    "ciphertext is not authentic or is truncated";

// Bytes views |s| as the uint8_t pointer libcrypto takes.
inline const uint8_t* Bytes(absl::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// ParsePkcs8Der parses a PKCS#8 PrivateKeyInfo in DER that fills |der|
// exactly. INVALID_ARGUMENT if it is not one.
absl::StatusOr<EvpPkeyPtr> ParsePkcs8Der(absl::string_view der);

// ParseFixedFormPkcs8Der parses the PKCS#8 forms that both libraries write
// for Ed25519 (48 bytes, RFC 8410) and P-256 (138 bytes: ECPrivateKey with
// the public key and without parameters) from their parts, skipping OpenSSL
// 3's decoder chain. A P-256 key is taken only if its public key is its
// scalar times G. Returns null for anything else, which ParsePkcs8Der then
// leaves to the library's generic decoder. (Exposed for tests.)
EvpPkeyPtr ParseFixedFormPkcs8Der(absl::string_view der);

// ParseSpkiDer parses an X.509 SubjectPublicKeyInfo in DER that fills |der|
// exactly. INVALID_ARGUMENT if it is not one.
absl::StatusOr<EvpPkeyPtr> ParseSpkiDer(absl::string_view der);

// MarshalPkcs8Der / MarshalSpkiDer encode |pkey| as PKCS#8 / SPKI DER.
// INTERNAL on failure (|pkey| came from libcrypto, so that is not expected).
absl::StatusOr<SecretData> MarshalPkcs8Der(EVP_PKEY* pkey);
absl::StatusOr<std::string> MarshalSpkiDer(const EVP_PKEY* pkey);

// DescribeKey names |pkey|'s type for error messages: "Ed25519",
// "EC P-256", "EC secp256k1", "RSA-1024", ... It never shows key material.
std::string DescribeKey(const EVP_PKEY* pkey);

// IsOfferedRsaSize says whether an RSA modulus of |bits| is one Keyward
// offers: 2048, 3072 or 4096.
inline bool IsOfferedRsaSize(int bits) {
  return bits == 2048 || bits == 3072 || bits == 4096;
}

}  // namespace keyward::crypto::internal

#endif  // KEYSTORE_CRYPTO_INTERNAL_EVP_UTIL_H_
