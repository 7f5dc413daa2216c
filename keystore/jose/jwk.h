// JSON Web Keys (RFC 7517/7518/8037): publishing public keys as a JWK Set,
// and importing JWKs into Keyward's key forms with every check a verifier
// should make before trusting one.
//
// ParseJwk refuses (INVALID_ARGUMENT, naming the problem): unknown "kty",
// "alg" not offered or not fitting the key (ES256 on P-384, HS256 on an RSA
// key, A256GCM on a signing key...), "use"/"key_ops" unknown or
// contradicting "alg", HMAC keys shorter than their hash (and empty ones),
// AES keys of the wrong size, RSA keys under 2048 bits, with e = 1 or even,
// or with the ROCA fingerprint, EC points off the curve, private halves
// that do not match the public half, and multi-prime RSA ("oth").
// ParseJwkSet also refuses duplicate kids and sets that mix public keys
// with private or secret ones.
//
// Usage (the daemon's GetJwks):
//   std::vector<JsonValue> keys;
//   for (const auto& v : versions)  // kid "{key_id}:v{n}"
//     keys.push_back(*PublicJwk(v.type, v.spki_der, v.kid, "ES256", "sig"));
//   absl::StatusOr<std::string> jwks = JwkSetJson(keys);
// Usage (tests, imports):
//   absl::StatusOr<ParsedJwk> k = ParseJwk(*ParseJsonObject(text));
//   absl::StatusOr<JwsVerificationKey> v = JwsVerificationKeyFromJwk(*k);
// Thread-safe.

#ifndef KEYSTORE_JOSE_JWK_H_
#define KEYSTORE_JOSE_JWK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwe.h"
#include "keystore/jose/jws.h"

namespace keyward::jose {

// PublicJwk returns the public JWK of the SPKI DER |spki_der| of |type|
// (crypto::SpkiToJwk's members) followed by "kid", "alg" and "use" when not
// empty. |alg| must suit the key: EdDSA; ES256 (P-256); ES384 (P-384);
// ES512 (P-521);
// RS256/384/512, PS256/384/512, RSA-OAEP, RSA-OAEP-256 (RSA); ECDH-ES,
// ECDH-ES+A128KW/A192KW/A256KW (kEcdhP256 only); |use| "sig",
// "enc" or empty, and consistent with |alg|. INVALID_ARGUMENT otherwise.
absl::StatusOr<JsonValue> PublicJwk(crypto::KeyType type,
                                    absl::string_view spki_der,
                                    absl::string_view kid,
                                    absl::string_view alg,
                                    absl::string_view use);

// JwkSetJson returns {"keys":[...]} compact. INVALID_ARGUMENT if two keys
// share a kid or a key carries a private member ("d", "p", "k", ...).
absl::StatusOr<std::string> JwkSetJson(const std::vector<JsonValue>& keys);

// ParsedJwk is an imported JWK.
struct ParsedJwk {
  enum class Kind { kSecret, kPublic, kPrivate };
  Kind kind = Kind::kPublic;
  std::string kty;  // "oct", "RSA", "EC", "OKP".
  // The asymmetric key type (EC P-256 comes back as kEcdsaP256); unused
  // for "oct".
  crypto::KeyType type = crypto::KeyType::kEd25519;
  std::string kid, alg, use;
  std::vector<std::string> key_ops;
  crypto::SecretData secret;  // kSecret: the raw key; kPrivate: PKCS#8 DER.
  std::string spki_der;       // kPublic and kPrivate: the public key.
};

// ParseJwk imports one JWK object, with the checks listed above.
absl::StatusOr<ParsedJwk> ParseJwk(const JsonValue& jwk);

// ParseJwkSet imports {"keys":[...]}, with the set rules above.
absl::StatusOr<std::vector<ParsedJwk>> ParseJwkSet(const JsonValue& set);

// JwsVerificationKeyFromJwk / JwsSigningKeyFromJwk bind a JWK's "alg" (which
// must be present: Keyward never guesses an algorithm) to a verifying or
// signing object. Refused if "use" is not "sig" or "key_ops" lacks
// "verify" / "sign", or (for signing) the key has no private half.
absl::StatusOr<JwsVerificationKey> JwsVerificationKeyFromJwk(
    const ParsedJwk& jwk);
absl::StatusOr<JwsSigningKey> JwsSigningKeyFromJwk(const ParsedJwk& jwk);

// JweDecryptionKeyFromJwk makes a decryption key from a private or secret
// JWK whose "alg" is a JWE key-management algorithm, or a content
// encryption name for a "dir" key (as in RFC 7520 5.6); for those,
// |options|->allowed_encryptions is set to that one enc. Refused if "use"
// is not "enc".
absl::StatusOr<JweDecryptionKey> JweDecryptionKeyFromJwk(
    const ParsedJwk& jwk, JweDecryptOptions* options);

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_JWK_H_
