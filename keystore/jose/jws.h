// Compact JWS (RFC 7515) signing and verification over keystore/crypto.
//
// The algorithm always comes from the key: a JwsSigningKey or
// JwsVerificationKey binds one JwsAlgorithm to one crypto object, HMAC
// algorithms only to a crypto::Mac and signature algorithms only to a
// crypto::Signer/Verifier, so an RSA or EC public key can never be used as
// an HMAC secret (the HS256/RS256 confusion). The token's "alg" is only
// compared with the key's. Refused (see failure.h for the codes): tokens
// over the size limit (default 16 KiB), anything but three canonical
// base64url parts, a header that is not a strict JSON object (duplicate
// members included), "alg" missing, "none" or unknown, "alg" other than the
// key's, "jwk"/"jku"/"x5u"/"x5c" (keys are never taken from a token),
// "zip", "b64", "crit" naming a parameter not understood, and bad
// signatures, including ECDSA r or s equal to zero or not below the order.
//
// Usage (the daemon, with key objects from its cache):
//   auto key = JwsSigningKey::ForSigner(JwsAlgorithm::kEs256, signer, "k:v1");
//   JsonValue header = JsonValue::Object();
//   header.Set("typ", JsonValue::String("JWT"));
//   absl::StatusOr<std::string> token = SignCompact(header, payload, *key);
//   // Or through the keystore: JwsSigningKey::ForFunction(alg, [&](auto d) {
//   //   auto r = keystore.Sign(id, d, algorithm); ... return r->signature; });
//
//   // Verification: the resolver maps the token's kid to candidate keys.
//   JwsKeyResolver resolve = [&](const ParsedJws& jws)
//       -> absl::StatusOr<std::vector<JwsVerificationKey>> {
//     return LookUp(jws.kid);  // TokenError(kKeyNotFound, ...) if unknown
//   };
//   absl::StatusOr<VerifiedJws> v = VerifyCompact(token, resolve);
// All functions and key objects are thread-safe.

#ifndef KEYSTORE_JOSE_JWS_H_
#define KEYSTORE_JOSE_JWS_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/crypto/signature.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"

namespace keyward::jose {

// kDefaultMaxTokenBytes is the default limit on a compact token, in and out.
inline constexpr size_t kDefaultMaxTokenBytes = 16 * 1024;

// JwsAlgorithm lists the "alg" values offered (RFC 7518 3.1, RFC 8037).
enum class JwsAlgorithm {
  kHs256, kHs384, kHs512,  // HMAC with SHA-2.
  kRs256, kRs384, kRs512,  // RSASSA-PKCS1-v1_5.
  kPs256, kPs384, kPs512,  // RSASSA-PSS, MGF1 same hash, salt = hash size.
  kEs256, kEs384, kEs512,  // ECDSA P-256/SHA-256, P-384/SHA-384,
                           // P-521/SHA-512; r || s (RFC 7518 3.4).
  kEdDsa,                  // Ed25519.
};

// JwsAlgorithmName returns the registered name, e.g. "ES256".
absl::string_view JwsAlgorithmName(JwsAlgorithm alg);
// JwsAlgorithmFromName is the inverse, case-sensitive; nullopt for "none"
// and every name not offered.
std::optional<JwsAlgorithm> JwsAlgorithmFromName(absl::string_view name);
// IsHmac says whether |alg| is HS256/384/512.
bool IsHmac(JwsAlgorithm alg);

// JwsAlgorithmForSignature maps the crypto layer's algorithm to its JWS
// name: only the P1363 ECDSA forms have one (ES256/ES384/ES512); nullopt
// for the DER forms. JwsAlgorithmForHmac maps an HMAC hash to HS256/384/512.
std::optional<JwsAlgorithm> JwsAlgorithmForSignature(
    crypto::SignatureAlgorithm algorithm);
JwsAlgorithm JwsAlgorithmForHmac(crypto::HashType hash);

// NewJwsSigner / NewJwsVerifier make the crypto object |alg| needs from a
// PKCS#8 private key / SPKI public key. INVALID_ARGUMENT for an HMAC |alg| or a key that does
// not fit |alg|.
absl::StatusOr<std::unique_ptr<crypto::Signer>> NewJwsSigner(
    JwsAlgorithm alg, const crypto::SecretData& pkcs8_der);
absl::StatusOr<std::unique_ptr<crypto::Verifier>> NewJwsVerifier(
    JwsAlgorithm alg, absl::string_view spki_der);
// NewJwsMac makes the HMAC of an HS* |alg|, refusing keys shorter than the
// hash output (RFC 7518 3.2: 32, 48 or 64 bytes). INVALID_ARGUMENT
// otherwise.
absl::StatusOr<std::unique_ptr<crypto::Mac>> NewJwsMac(
    JwsAlgorithm alg, const crypto::SecretData& key);

// JwsSigningKey is one algorithm bound to one signing object, and the kid
// to write in headers (empty: none). Copyable, immutable.
class JwsSigningKey {
 public:
  // ForSigner: |alg| must be a signature algorithm and |signer| must make
  // its signatures in JWS form (ES256: kEcdsaP256Sha256P1363, ...).
  // INVALID_ARGUMENT for an HMAC |alg| or a null |signer|.
  static absl::StatusOr<JwsSigningKey> ForSigner(
      JwsAlgorithm alg, std::shared_ptr<const crypto::Signer> signer,
      std::string kid = "");
  // ForMac: |alg| must be HS256/384/512 with the matching hash.
  static absl::StatusOr<JwsSigningKey> ForMac(
      JwsAlgorithm alg, std::shared_ptr<const crypto::Mac> mac,
      std::string kid = "");

  // SignFunction signs |data| (e.g. through Keystore::Sign or Mac with the
  // key's algorithm) and returns the raw signature in JWS form.
  using SignFunction =
      std::function<absl::StatusOr<std::string>(absl::string_view data)>;
  // ForFunction binds |alg| to |sign|. The caller guarantees |alg| is the
  // key's; Sign still checks each signature's size. INVALID_ARGUMENT for a
  // null |sign|.
  static absl::StatusOr<JwsSigningKey> ForFunction(JwsAlgorithm alg,
                                                   SignFunction sign,
                                                   std::string kid = "");

  JwsAlgorithm alg() const { return alg_; }
  const std::string& kid() const { return kid_; }

  // Sign returns the signature of |signing_input|. INTERNAL if the crypto
  // object returns a signature of the wrong size for |alg| (for example a
  // DER ECDSA signer bound to ES256).
  absl::StatusOr<std::string> Sign(absl::string_view signing_input) const;

 private:
  JwsSigningKey(JwsAlgorithm alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {}
  JwsAlgorithm alg_;
  std::string kid_;
  std::shared_ptr<const crypto::Signer> signer_;
  std::shared_ptr<const crypto::Mac> mac_;
  SignFunction function_;
};

// JwsVerificationKey is one algorithm bound to one verifying object.
class JwsVerificationKey {
 public:
  static absl::StatusOr<JwsVerificationKey> ForVerifier(
      JwsAlgorithm alg, std::shared_ptr<const crypto::Verifier> verifier);
  static absl::StatusOr<JwsVerificationKey> ForMac(
      JwsAlgorithm alg, std::shared_ptr<const crypto::Mac> mac);
  // VerifyFunction checks |signature| over |data| (e.g. through
  // Keystore::Verify or VerifyMac, raw signature, the key's algorithm):
  // OK if valid, INVALID_ARGUMENT if not, another code for other failures.
  using VerifyFunction = std::function<absl::Status(
      absl::string_view signature, absl::string_view data)>;
  // ForFunction binds |alg| to |verify|; the caller guarantees |alg| is the
  // key's (HMAC algorithms only for HMAC keys).
  static absl::StatusOr<JwsVerificationKey> ForFunction(JwsAlgorithm alg,
                                                        VerifyFunction verify);

  JwsAlgorithm alg() const { return alg_; }

  // Check returns OK if |signature| is valid for |signing_input|,
  // TokenError(kBadSignature) if the check says INVALID_ARGUMENT, and any
  // other error unchanged.
  absl::Status Check(absl::string_view signature,
                     absl::string_view signing_input) const;

 private:
  explicit JwsVerificationKey(JwsAlgorithm alg) : alg_(alg) {}
  JwsAlgorithm alg_;
  std::shared_ptr<const crypto::Verifier> verifier_;
  std::shared_ptr<const crypto::Mac> mac_;
  VerifyFunction function_;
};

struct JwsSignOptions {
  size_t max_token_bytes = kDefaultMaxTokenBytes;
};

// SignCompact returns "header.payload.signature". The header is "alg" (and
// "kid" if the key has one) followed by the members of |header| (e.g. typ,
// cty), which must be an object without "alg", "kid", "crit", "jwk", "jku",
// "x5u", "x5c", "zip" or "b64". INVALID_ARGUMENT for such a header or a
// token over the limit.
absl::StatusOr<std::string> SignCompact(const JsonValue& header,
                                        absl::string_view payload,
                                        const JwsSigningKey& key,
                                        const JwsSignOptions& options = {});

struct JwsVerifyOptions {
  size_t max_token_bytes = kDefaultMaxTokenBytes;
  // Extension header names the caller processes, which "crit" may name.
  std::vector<std::string> understood_crit;
};

// ParsedJws is a token that passed every check but the key and signature:
// NOT verified. Use it only to find the key (kid).
struct ParsedJws {
  JsonValue header;
  std::string header_json;     // The decoded protected header.
  JwsAlgorithm alg;            // The header's alg (offered, not yet matched).
  std::optional<std::string> kid;
  std::string payload;         // Decoded.
  std::string signing_input;   // ASCII(header part) '.' ASCII(payload part).
  std::string signature;       // Decoded.
};

// ParseCompactJws runs the structure and header checks.
absl::StatusOr<ParsedJws> ParseCompactJws(absl::string_view token,
                                          const JwsVerifyOptions& options = {});

// VerifiedJws is a token whose signature checked.
struct VerifiedJws {
  JsonValue header;
  std::string header_json;
  std::string payload;       // Byte for byte as signed.
  std::optional<std::string> kid;
  size_t key_index = 0;      // Which resolver candidate verified it.
};

// VerifyParsedJws checks |jws|'s alg against |key| (kAlgorithmMismatch)
// and its signature (kBadSignature).
absl::Status VerifyParsedJws(const ParsedJws& jws,
                             const JwsVerificationKey& key);

// VerifyCompact parses |token| and verifies it with |key|.
absl::StatusOr<VerifiedJws> VerifyCompact(absl::string_view token,
                                          const JwsVerificationKey& key,
                                          const JwsVerifyOptions& options = {});

// JwsKeyResolver returns the candidate keys for a parsed token (e.g. the
// version its kid names, or each usable version newest first), or an error
// that VerifyCompact passes through unchanged (use TokenError with
// kKeyNotFound / kKeyUnusable for verdicts). An empty list is kKeyNotFound.
using JwsKeyResolver =
    std::function<absl::StatusOr<std::vector<JwsVerificationKey>>(
        const ParsedJws& unverified)>;

// VerifyCompact tries each candidate in order; the first that verifies
// wins. If none does: kAlgorithmMismatch if no candidate has the token's
// alg, else kBadSignature.
absl::StatusOr<VerifiedJws> VerifyCompact(absl::string_view token,
                                          const JwsKeyResolver& resolve,
                                          const JwsVerifyOptions& options = {});

}  // namespace keyward::jose

#endif  // KEYSTORE_JOSE_JWS_H_
