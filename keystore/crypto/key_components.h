// Keyward's key forms (SPKI DER for public keys, PKCS#8 DER in SecretData
// for private keys) built from the raw components that JWK (RFC 7517/7518/
// 8037) and other formats carry, and strength checks on RSA public keys.
//
// Every result is parsed back with the same parsers the factories use, so a
// key built here is one the rest of keystore/crypto accepts; a private key
// is also checked against the public half given with it. Components are
// big-endian unsigned integers; leading zero bytes are allowed in RSA
// components and refused in fixed-width EC and Ed25519 fields (which must
// have exactly the field's width). All functions are thread-safe; errors
// are INVALID_ARGUMENT with a message naming the problem.

#ifndef KEYSTORE_CRYPTO_KEY_COMPONENTS_H_
#define KEYSTORE_CRYPTO_KEY_COMPONENTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// EcFieldSize returns the coordinate width of an EC |type|: 32 for
// kEcdsaP256 and kEcdhP256, 48 for kEcdsaP384, 66 for kEcdsaP521, 0 for
// other types.
size_t EcFieldSize(KeyType type);

// EcPublicKeyFromCoordinates returns the SPKI DER of the point (|x|, |y|) on
// the curve of |type|. Refused unless both are exactly EcFieldSize(type)
// bytes and the point is on the curve (libcrypto's point decoding checks it;
// this is what stops invalid-curve attacks on ECDH).
absl::StatusOr<std::string> EcPublicKeyFromCoordinates(KeyType type,
                                                       absl::string_view x,
                                                       absl::string_view y);

// EcCoordinatesFromPublicKey sets |x| and |y| to the fixed-width affine
// coordinates of the EC SPKI DER |spki_der| of |type|.
absl::Status EcCoordinatesFromPublicKey(KeyType type,
                                        absl::string_view spki_der,
                                        std::string* x, std::string* y);

// EcPrivateKeyFromScalar returns the PKCS#8 DER of the private scalar |d|
// (exactly EcFieldSize(type) bytes, 0 < d < order) on the curve of |type|.
// If |spki_der| is not empty, the key's public point must be that key.
absl::StatusOr<SecretData> EcPrivateKeyFromScalar(KeyType type,
                                                  const SecretData& d,
                                                  absl::string_view spki_der);

// RsaPublicKeyFromComponents returns the SPKI DER of the RSA key (|n|, |e|).
// Refused unless CheckRsaPublicKey accepts it.
absl::StatusOr<std::string> RsaPublicKeyFromComponents(absl::string_view n,
                                                       absl::string_view e);

// RsaPrivateComponents are the parts of an RSA private key (RFC 8017 A.1.2,
// two primes). The secret parts are SecretData.
struct RsaPrivateComponents {
  std::string n;
  std::string e;
  SecretData d, p, q, dp, dq, qi;
};

// RsaPrivateKeyFromComponents returns the PKCS#8 DER of |c|, after
// CheckRsaPublicKey on (n, e) and libcrypto's RSA_check_key (n = p * q, d
// and the CRT values consistent).
absl::StatusOr<SecretData> RsaPrivateKeyFromComponents(
    const RsaPrivateComponents& c);

// CheckRsaPublicKey returns OK if the RSA SPKI DER |spki_der| is a key
// Keyward trusts: 2048, 3072 or 4096 bits; public exponent odd, at least 3
// and below 2^32 (so e = 1, which makes every "signature" its own message,
// is refused); modulus without the ROCA fingerprint (CVE-2017-15361, keys
// from Infineon chips whose primes can be recovered).
absl::Status CheckRsaPublicKey(absl::string_view spki_der);

// Ed25519PublicKeyFromRaw returns the SPKI DER of the 32-byte Ed25519
// public key |x| (RFC 8032).
absl::StatusOr<std::string> Ed25519PublicKeyFromRaw(absl::string_view x);

// Ed25519PrivateKeyFromSeed returns the PKCS#8 DER of the 32-byte Ed25519
// seed |d|. If |spki_der| is not empty, the derived public key must be it.
absl::StatusOr<SecretData> Ed25519PrivateKeyFromSeed(
    const SecretData& d, absl::string_view spki_der);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_KEY_COMPONENTS_H_
