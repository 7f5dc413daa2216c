// Compact JWE (RFC 7516) encryption and decryption over keystore/crypto.
//
// Key management ("alg", RFC 7518 4): RSA-OAEP (SHA-1, for interoperability),
// RSA-OAEP-256, dir, A128KW/A192KW/A256KW, A128GCMKW/A192GCMKW/A256GCMKW,
// ECDH-ES and ECDH-ES+A128KW/A192KW/A256KW on P-256. Content encryption
// ("enc", 5): A128CBC-HS256, A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM,
// A256GCM. (The daemon's contract exposes a subset; the rest is here for
// interoperability and to run every Wycheproof vector.) RSA1_5, PBES2 and
// "zip" are refused.
//
// As for JWS, "alg" comes from the key: a JweDecryptionKey is bound to one
// JweAlgorithm and a token with another is refused (kAlgorithmMismatch).
// "enc" comes from the header but may be restricted with
// JweDecryptOptions::allowed_encryptions (the daemon allows only A256GCM for
// dir keys, so one key never serves two ciphers). The sender's ECDH "epk"
// must be a P-256 point on the curve (checked before any use).
// Once the header is accepted, every failure (key unwrap, wrong CEK size,
// IV or tag size, tag, padding) is the one TokenError(kBadSignature,
// "JWE decryption failed") (UNAUTHENTICATED; the daemon reports it as
// INVALID_ARGUMENT), and a failed RSA or AES-KW unwrap continues with a
// random CEK (RFC 7516 11.5), so no padding or unwrap oracle shows.
//
// Usage:
//   auto to = JweEncryptionKey::ForEcdhP256(JweAlgorithm::kEcdhEsA256Kw,
//                                           recipient_spki, "k:v2");
//   absl::StatusOr<std::string> jwe =
//       EncryptCompact(plaintext, *to, JweEncryption::kA256Gcm, {});
//   auto mine = JweDecryptionKey::ForEcdhP256(JweAlgorithm::kEcdhEsA256Kw,
//                                             pkcs8);
//   absl::StatusOr<DecryptedJwe> out = DecryptCompact(*jwe, *mine, {});
// Nested JWTs: EncryptNestedJwt / DecryptNestedJwt (cty "JWT").
// All functions and key objects are thread-safe.

#ifndef KEYSTORE_JOSE_JWE_H_
#define KEYSTORE_JOSE_JWE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/asymmetric.h"
#include "keystore/crypto/ecdh.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"

namespace keyward::jose {

enum class JweAlgorithm {
  kRsaOaep, kRsaOaep256,
  kDir,
  kA128Kw, kA192Kw, kA256Kw,
  kA128GcmKw, kA192GcmKw, kA256GcmKw,
  kEcdhEs, kEcdhEsA128Kw, kEcdhEsA192Kw, kEcdhEsA256Kw,
};

enum class JweEncryption {
  kA128CbcHs256, kA192CbcHs384, kA256CbcHs512,
  kA128Gcm, kA192Gcm, kA256Gcm,
};

// Names as registered (RFC 7518 7.1), e.g. "ECDH-ES+A256KW", "A256GCM".
// The FromName functions are case-sensitive; nullopt if not offered.
absl::string_view JweAlgorithmName(JweAlgorithm alg);
std::optional<JweAlgorithm> JweAlgorithmFromName(absl::string_view name);
absl::string_view JweEncryptionName(JweEncryption enc);
std::optional<JweEncryption> JweEncryptionFromName(absl::string_view name);
// JweEncryptionKeySize returns the CEK size of |enc| in bytes (16..64).
size_t JweEncryptionKeySize(JweEncryption enc);

// JweEncryptionKey is what a sender encrypts to. Copyable, immutable.
class JweEncryptionKey {
 public:
  // ForRsa: RSA-OAEP or RSA-OAEP-256 to the RSA SPKI DER |spki_der|.
  static absl::StatusOr<JweEncryptionKey> ForRsa(JweAlgorithm alg,
                                                 absl::string_view spki_der,
                                                 std::string kid = "");
  // ForEcdhP256: ECDH-ES(+A*KW) to the P-256 SPKI DER |spki_der|.
  static absl::StatusOr<JweEncryptionKey> ForEcdhP256(
      JweAlgorithm alg, absl::string_view spki_der, std::string kid = "");
  // ForX25519: ECDH-ES(+A*KW) over X25519 (RFC 8037) to the X25519 SPKI DER
  // |spki_der|; the "epk" is {"kty":"OKP","crv":"X25519","x":..}.
  static absl::StatusOr<JweEncryptionKey> ForX25519(
      JweAlgorithm alg, absl::string_view spki_der, std::string kid = "");
  // ForSymmetric: dir (|key| is the CEK), A*KW or A*GCMKW (|key| is the
  // key-encryption key, of the size the name says).
  static absl::StatusOr<JweEncryptionKey> ForSymmetric(
      JweAlgorithm alg, const crypto::SecretData& key, std::string kid = "");

  JweAlgorithm alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

 private:
  friend class JweCodec;
  JweEncryptionKey(JweAlgorithm alg, std::string kid)
      : alg_(alg), kid_(std::move(kid)) {}
  JweAlgorithm alg_;
  std::string kid_;
  std::shared_ptr<const crypto::AsymmetricEncrypter> rsa_;
  std::string recipient_spki_;
  bool x25519_ = false;  // recipient_spki_ is X25519, not P-256
  std::shared_ptr<const crypto::SecretData> secret_;
};

// JweDecryptionKey is what a recipient decrypts with. Copyable, immutable.
class JweDecryptionKey {
 public:
  // ForRsa: RSA-OAEP or RSA-OAEP-256 with the RSA PKCS#8 DER |pkcs8_der|.
  static absl::StatusOr<JweDecryptionKey> ForRsa(
      JweAlgorithm alg, const crypto::SecretData& pkcs8_der);
  // ForRsaDecrypter: with a decrypter made elsewhere, which must be
  // NewAsymmetricDecrypter's for RSA-OAEP-256 and NewRsaOaepSha1Decrypter's
  // for RSA-OAEP.
  static absl::StatusOr<JweDecryptionKey> ForRsaDecrypter(
      JweAlgorithm alg,
      std::shared_ptr<const crypto::AsymmetricDecrypter> decrypter);
  // ForEcdhP256 / ForEcdh: ECDH-ES(+A*KW) with a P-256 private key.
  static absl::StatusOr<JweDecryptionKey> ForEcdhP256(
      JweAlgorithm alg, const crypto::SecretData& pkcs8_der);
  static absl::StatusOr<JweDecryptionKey> ForEcdh(
      JweAlgorithm alg, std::shared_ptr<const crypto::EcdhPrivateKey> key);
  // ForX25519: ECDH-ES(+A*KW) over X25519 (RFC 8037) with the X25519 PKCS#8
  // DER |pkcs8_der|; the header's "epk" must be an X25519 OKP key.
  static absl::StatusOr<JweDecryptionKey> ForX25519(
      JweAlgorithm alg, const crypto::SecretData& pkcs8_der);
  // ForSymmetric: dir, A*KW, A*GCMKW, as for JweEncryptionKey.
  static absl::StatusOr<JweDecryptionKey> ForSymmetric(
      JweAlgorithm alg, const crypto::SecretData& key);

  JweAlgorithm alg() const { return alg_; }

 private:
  friend class JweCodec;
  explicit JweDecryptionKey(JweAlgorithm alg) : alg_(alg) {}
  JweAlgorithm alg_;
  std::shared_ptr<const crypto::AsymmetricDecrypter> rsa_;
  std::shared_ptr<const crypto::EcdhPrivateKey> ecdh_;
  std::shared_ptr<const crypto::SecretData> secret_;
};

struct JweEncryptOptions {
  std::string typ;  // Header "typ"; empty: none.
  std::string cty;  // Header "cty"; empty: none.
  size_t max_token_bytes = kDefaultMaxTokenBytes;
};

// EncryptCompact returns the five-part compact JWE of |plaintext| to |key|
// with content encryption |enc|. The header is "alg", "enc", then "kid",
// "epk", "iv", "tag", "typ", "cty" as they apply. INVALID_ARGUMENT if a dir
// key's size is not |enc|'s or the token is over the limit.
absl::StatusOr<std::string> EncryptCompact(absl::string_view plaintext,
                                           const JweEncryptionKey& key,
                                           JweEncryption enc,
                                           const JweEncryptOptions& options = {});

struct JweDecryptOptions {
  size_t max_token_bytes = kDefaultMaxTokenBytes;
  std::vector<std::string> understood_crit;
  // If not empty, the only "enc" values accepted (else kAlgorithmMismatch).
  std::vector<JweEncryption> allowed_encryptions;
};

// ParsedJweHeader is the protected header of a token that passed the
// structure and header checks; nothing is decrypted or authenticated yet.
struct ParsedJweHeader {
  JsonValue header;
  std::string header_json;
  JweAlgorithm alg;
  JweEncryption enc;
  std::optional<std::string> kid;
};

// ParseCompactJweHeader runs the structure and header checks, so a caller
// can pick the key by kid before DecryptCompact.
absl::StatusOr<ParsedJweHeader> ParseCompactJweHeader(
    absl::string_view token, const JweDecryptOptions& options = {});

struct DecryptedJwe {
  JsonValue header;
  std::string header_json;
  std::optional<std::string> kid;
  std::string plaintext;
};

// DecryptCompact decrypts |token| with |key|. Errors as described at the
// top of this file.
absl::StatusOr<DecryptedJwe> DecryptCompact(
    absl::string_view token, const JweDecryptionKey& key,
    const JweDecryptOptions& options = {});

// EncryptNestedJwt encrypts the compact JWS |jws| with "cty": "JWT" (RFC
// 7519 5.2); options.cty must be empty.
absl::StatusOr<std::string> EncryptNestedJwt(absl::string_view jws,
                                             const JweEncryptionKey& key,
                                             JweEncryption enc,
                                             const JweEncryptOptions& options = {});

// DecryptNestedJwt decrypts |token|, requires "cty": "JWT" (kMalformed
// otherwise) and verifies the JWT inside with |resolve| and |verify|.
absl::StatusOr<VerifiedJwt> DecryptNestedJwt(
    absl::string_view token, const JweDecryptionKey& key,
    const JwsKeyResolver& resolve, const JweDecryptOptions& decrypt,
    const JwtVerifyOptions& verify);

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_JWE_H_
