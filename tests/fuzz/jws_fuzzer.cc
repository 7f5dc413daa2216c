// Fuzzes compact JWS and JWT verification (keystore/jose/jws.h, jwt.h and
// the shared internal/compact.h checks) with an HS256 key and an ES256 key.
// Asserts, beyond "no crash":
// - every refusal carries a TokenFailure (FailureOf != kNone) and the code
//   failure.h gives it (INVALID_ARGUMENT, UNAUTHENTICATED, NOT_FOUND),
//   never INTERNAL or UNKNOWN;
// - a token that parses has a header that is a JSON object with a string
//   "alg" naming an offered algorithm, a signing input equal to the
//   token's first two parts, and its kid equal to the header's "kid";
// - VerifyCompact never accepts a token ParseCompactJws refuses, and a
//   verified token's payload is the parsed one;
// - CheckJwtClaims on a parsed token's payload (signature not needed)
//   refuses only with a TokenFailure.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "keystore/jose/jwt.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::crypto::SecretData;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
using namespace keyward::jose;  // NOLINT: a test of this namespace

void RequireVerdict(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  RequireCode(s,
              {absl::StatusCode::kInvalidArgument,
               absl::StatusCode::kUnauthenticated, absl::StatusCode::kNotFound},
              what);
  Require(FailureOf(s) != TokenFailure::kNone, what);
}

struct Keys {
  std::vector<JwsVerificationKey> all;
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    auto* k = new Keys;
    // A fixed HMAC key, so a seed signed with it verifies.
    const SecretData hmac(std::string(32, 'k'));
    auto mac = NewJwsMac(JwsAlgorithm::kHs256, hmac);
    Require(mac.ok(), "HS256 key");
    k->all.push_back(*JwsVerificationKey::ForMac(
        JwsAlgorithm::kHs256, std::shared_ptr<const keyward::crypto::Mac>(
                                  std::move(*mac))));
    auto ec = keyward::crypto::GenerateKeyMaterial(
        keyward::crypto::KeyType::kEcdsaP256);
    Require(ec.ok(), "P-256 key");
    auto spki = keyward::crypto::PublicKeyFromPrivate(
        keyward::crypto::KeyType::kEcdsaP256, *ec);
    Require(spki.ok(), "P-256 public key");
    auto verifier = NewJwsVerifier(JwsAlgorithm::kEs256, *spki);
    Require(verifier.ok(), "ES256 verifier");
    k->all.push_back(*JwsVerificationKey::ForVerifier(
        JwsAlgorithm::kEs256,
        std::shared_ptr<const keyward::crypto::Verifier>(std::move(*verifier))));
    return k;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Keys& keys = TheKeys();
  const absl::string_view token(reinterpret_cast<const char*>(data), size);

  JwsVerifyOptions options;
  options.understood_crit = {"exp"};  // a registered name: still refused
  auto parsed = ParseCompactJws(token, options);
  RequireVerdict(parsed.status(), "ParseCompactJws");

  auto verified = VerifyCompact(
      token,
      [&](const ParsedJws&) -> absl::StatusOr<std::vector<JwsVerificationKey>> {
        return keys.all;
      },
      options);
  RequireVerdict(verified.status(), "VerifyCompact");
  Require(parsed.ok() || !verified.ok(),
          "VerifyCompact accepted a token ParseCompactJws refuses");

  JwtVerifyOptions jwt;
  jwt.now = absl::FromUnixSeconds(1700000000);
  jwt.jws = options;
  for (const JwsVerificationKey& key : keys.all) {
    auto v = VerifyJwt(token, key, jwt);
    RequireVerdict(v.status(), "VerifyJwt");
  }

  if (!parsed.ok()) return 0;
  Require(parsed->header.is_object(), "the header is not an object");
  const JsonValue* alg = parsed->header.Find("alg");
  Require(alg != nullptr && alg->is_string() &&
              JwsAlgorithmFromName(alg->string_value()) == parsed->alg,
          "the parsed alg is not the header's");
  const size_t second_dot = token.find('.', token.find('.') + 1);
  Require(parsed->signing_input == token.substr(0, second_dot),
          "the signing input is not the token's first two parts");
  const JsonValue* kid = parsed->header.Find("kid");
  Require(kid == nullptr ? !parsed->kid.has_value()
                         : parsed->kid == kid->string_value(),
          "the parsed kid is not the header's");
  if (verified.ok()) {
    Require(verified->payload == parsed->payload,
            "the verified payload differs from the parsed one");
  }

  auto claims = CheckJwtClaims(parsed->header, parsed->payload, jwt);
  RequireVerdict(claims.status(), "CheckJwtClaims");
  if (claims.ok()) Require(claims->is_object(), "claims are not an object");
  return 0;
}
