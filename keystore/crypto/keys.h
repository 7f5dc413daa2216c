// Key generation and key format conversion.
//
// Keyward stores key material in two forms: symmetric keys as raw bytes, and
// asymmetric private keys as PKCS#8 DER, both in SecretData. Public keys
// travel as X.509 SubjectPublicKeyInfo (SPKI) DER and are shown as PEM or JWK.
// The signature, asymmetric, aead and mac factories take exactly these forms.
// All functions are thread-safe.

#ifndef KEYSTORE_CRYPTO_KEYS_H_
#define KEYSTORE_CRYPTO_KEYS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/pbe_limits.h"
#include "keystore/crypto/secret_data.h"

namespace keyward::crypto {

// KeyType is the kind of key a key-store entry holds.
enum class KeyType {
  kAes256Gcm,    // 32 raw bytes.
  kHmacSha256,   // 32 raw bytes.
  kHmacSha384,   // 48 raw bytes.
  kHmacSha512,   // 64 raw bytes.
  kEd25519,      // PKCS#8.
  kEcdsaP256,    // PKCS#8, curve P-256.
  kEcdsaP384,    // PKCS#8, curve P-384.
  kRsa2048,      // PKCS#8, e = 65537.
  kRsa3072,
  kRsa4096,
  kEcdhP256,     // PKCS#8, curve P-256 (the same bytes as kEcdsaP256).
  kEcdsaP521,    // PKCS#8, curve P-521.
  kX25519,       // PKCS#8 (RFC 8410); NaCl box, sealed box, JWE ECDH-ES.
  kXSalsa20Poly1305,   // 32 raw bytes; NaCl secretbox (nacl.h).
  kXChaCha20Poly1305,  // 32 raw bytes; XChaCha20-Poly1305 (nacl.h).
};

// KeyTypeName returns a stable name such as "ECDSA_P256".
absl::string_view KeyTypeName(KeyType type);

// GenerateKeyMaterial returns fresh key material of |type|: raw random bytes
// for symmetric types, PKCS#8 DER for asymmetric ones. INTERNAL only if
// libcrypto fails. RSA-4096 can take seconds.
absl::StatusOr<SecretData> GenerateKeyMaterial(KeyType type);

// PublicKeyFromPrivate returns the SPKI DER of the PKCS#8 DER private key
// |pkcs8_der|. INVALID_ARGUMENT if |type| is symmetric, or the DER is not a
// private key, or the key is not of |type|.
absl::StatusOr<std::string> PublicKeyFromPrivate(KeyType type,
                                                 const SecretData& pkcs8_der);

// ParsedPrivateKey is an imported private key in Keyward's stored form.
struct ParsedPrivateKey {
  KeyType type;
  SecretData pkcs8_der;
};

// ParsePrivateKeyPem imports the first private key in |pem|: "PRIVATE KEY",
// "ENCRYPTED PRIVATE KEY" (PKCS#8, PBES2), or legacy "RSA PRIVATE KEY" /
// "EC PRIVATE KEY" (plain or with Proc-Type encryption). |passphrase| may be
// null; it is used only if the key is encrypted. An EC P-256 key comes back
// as kEcdsaP256 (PEM cannot tell ECDSA from ECDH use; the caller may retype
// it as kEcdhP256). Before any key derivation, the KDF cost an encrypted
// key names is held to |limits| (pbe_limits.h): over a limit is
// INVALID_ARGUMENT naming it, with nothing derived. Errors, all
// INVALID_ARGUMENT:
//   encrypted and |passphrase| null: "the private key is encrypted: a
//     passphrase is needed";
//   the decryption fails: "could not decrypt the private key: wrong
//     passphrase or damaged file";
//   no private key found, or a key of a type Keyward does not offer
//   (e.g. RSA-1024, secp256k1): a message naming the problem.
absl::StatusOr<ParsedPrivateKey> ParsePrivateKeyPem(
    absl::string_view pem, const SecretData* passphrase,
    const KdfLimits& limits = KdfLimits());

// ParsedPublicKey is an imported public key in Keyward's stored form.
struct ParsedPublicKey {
  KeyType type;
  std::string spki_der;  // Re-encoded: canonical DER.
};

// ParsePublicKey imports an SPKI public key given as PEM ("PUBLIC KEY") or
// DER. EC P-256 keys come back as kEcdsaP256, as above. INVALID_ARGUMENT if
// it is neither, or is of a type Keyward does not offer.
absl::StatusOr<ParsedPublicKey> ParsePublicKey(absl::string_view pem_or_der);

// SpkiToPem returns |spki_der| as a "PUBLIC KEY" PEM block (64-column
// base64, final newline). INVALID_ARGUMENT if |spki_der| is not SPKI DER.
absl::StatusOr<std::string> SpkiToPem(absl::string_view spki_der);

// SpkiToJwk returns the public JWK (RFC 7517/7518/8037) of |spki_der|, one
// line of JSON: {"kty":"OKP","crv":"Ed25519","x":..},
// {"kty":"EC","crv":"P-256"|"P-384"|"P-521","x":..,"y":..} (fixed-width
// coordinates: 32, 48 or 66 bytes)
// {"kty":"OKP","crv":"X25519","x":..} (RFC 8037),
// or {"kty":"RSA","n":..,"e":..} (minimal big-endian), base64url without
// padding, then "kid" and "alg" if non-empty. |alg| must suit the key:
// EdDSA; ES256; ES384; ES512; RS256, RS384, RS512, PS256, RSA-OAEP-256 for RSA;
// ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A256KW for kEcdhP256 and kX25519.
// INVALID_ARGUMENT if
// |type| is symmetric, the key is not of |type|, or |alg| does not suit it.
absl::StatusOr<std::string> SpkiToJwk(KeyType type, absl::string_view spki_der,
                                      absl::string_view kid,
                                      absl::string_view alg);

}  // namespace keyward::crypto

#endif  // KEYSTORE_CRYPTO_KEYS_H_
