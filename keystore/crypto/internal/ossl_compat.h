// The few operations that OpenSSL 3 and BoringSSL spell differently.
//
// This is the only file pair in Keyward that tests OPENSSL_IS_BORINGSSL. Each
// function here has one implementation per flavor and the same contract.
// All functions are thread-safe for concurrent use of a shared const key.

#ifndef KEYSTORE_CRYPTO_INTERNAL_OSSL_COMPAT_H_
#define KEYSTORE_CRYPTO_INTERNAL_OSSL_COMPAT_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "keystore/crypto/internal/ossl_ptr.h"

namespace keyward::crypto::internal {

// EcCurveNid returns the NID of the named curve of EC key |pkey|, or NID_undef
// if |pkey| is not an EC key or its curve has no name known to libcrypto.
int EcCurveNid(const EVP_PKEY* pkey);

// EcPublicCoordinates sets |x| and |y| to the affine coordinates of EC key
// |pkey|'s public point, big-endian, each left-padded to |width| bytes.
// Returns false if |pkey| is not an EC key or a coordinate needs > |width|.
bool EcPublicCoordinates(const EVP_PKEY* pkey, size_t width, std::string* x,
                         std::string* y);

// RsaPublicComponents sets |n| and |e| to the modulus and public exponent of
// RSA key |pkey|, big-endian without leading zeros. Returns false on failure.
bool RsaPublicComponents(const EVP_PKEY* pkey, std::string* n, std::string* e);

// EcP256FromScalar returns the P-256 key whose private scalar is |scalar|
// (32 bytes, big-endian), if it is in [1, n-1] and |public_point| (65 bytes,
// uncompressed) is scalar * G; else null. It builds the key from its parts,
// without OpenSSL 3's PKCS#8 decoder chain (about 1 ms per key here).
EvpPkeyPtr EcP256FromScalar(absl::string_view scalar,
                            absl::string_view public_point);

// ECDSA with the nonce made ahead of the message (ecdsa_nonces.h). Most of a
// signature's cost is the nonce: k, r = x(k*G) mod n and k^-1 mod n, none of
// which depends on the key or the message. OpenSSL 3 can make it apart
// (ECDSA_sign_setup) and sign with it later (ECDSA_do_sign_ex); BoringSSL
// cannot, and there EcdsaSignSetupSupported() is false, EcKeyForSignSetup
// returns null and the other two fail.
bool EcdsaSignSetupSupported();
//
// EcKeyForSignSetup returns the EC key of |pkey| (a private key) in the form
// the two others take, or null.
EcKeyPtr EcKeyForSignSetup(EVP_PKEY* pkey);
// EcdsaSignSetup makes a fresh random k for |key|'s curve and sets *kinv to
// k^-1 mod n and *r to x(k*G) mod n. |key| must hold a private key, which
// is not used. False on failure.
bool EcdsaSignSetup(EC_KEY* key, SecretBignumPtr* kinv, BignumPtr* r);
// EcdsaSignWithSetup returns the ECDSA signature by |key| of |digest| with
// the nonce (|kinv|, |r|) from EcdsaSignSetup on the same curve. A nonce
// must sign once only: two signatures with one k give away the key. Null on
// failure (also if s came out 0, which needs another nonce).
EcdsaSigPtr EcdsaSignWithSetup(absl::string_view digest, const BIGNUM* kinv,
                               const BIGNUM* r, EC_KEY* key);

// HkdfSha256 writes |out_len| bytes of HKDF-SHA-256(ikm, salt, info) (RFC
// 5869) to |out|. The caller checks the lengths (|ikm| non-empty, |out_len|
// <= 255 * 32, |info| <= 1024 bytes). Returns false on failure.
bool HkdfSha256(absl::string_view ikm, absl::string_view salt,
                absl::string_view info, uint8_t* out, size_t out_len);

}  // namespace keyward::crypto::internal

#endif  // KEYSTORE_CRYPTO_INTERNAL_OSSL_COMPAT_H_
