// Fuzzes JWK and JWK Set import (keystore/jose/jwk.h) from JSON text, and
// the conversions to JWS and JWE keys.
// Asserts, beyond "no crash":
// - ParseJwk, ParseJwkSet and the *FromJwk conversions refuse only with
//   INVALID_ARGUMENT, never INTERNAL or UNKNOWN;
// - an imported public key re-exports (PublicJwk) and imports again to
//   the same SPKI; an imported private key's SPKI is the one its PKCS#8
//   gives; a secret key is not empty.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jwk.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
using namespace keyward::jose;  // NOLINT: a test of this namespace

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

void CheckJwk(const ParsedJwk& jwk) {
  RequireCode(JwsVerificationKeyFromJwk(jwk).status(), {kInvalid},
              "JwsVerificationKeyFromJwk");
  RequireCode(JwsSigningKeyFromJwk(jwk).status(), {kInvalid},
              "JwsSigningKeyFromJwk");
  JweDecryptOptions options;
  RequireCode(JweDecryptionKeyFromJwk(jwk, &options).status(), {kInvalid},
              "JweDecryptionKeyFromJwk");
  switch (jwk.kind) {
    case ParsedJwk::Kind::kSecret:
      Require(!jwk.secret.empty(), "an empty secret key was imported");
      return;
    case ParsedJwk::Kind::kPrivate: {
      auto spki = keyward::crypto::PublicKeyFromPrivate(jwk.type, jwk.secret);
      Require(spki.ok() && *spki == jwk.spki_der,
              "a private JWK's public half is not its PKCS#8's");
      return;
    }
    case ParsedJwk::Kind::kPublic: {
      auto exported = PublicJwk(jwk.type, jwk.spki_der, "", "", "");
      Require(exported.ok(), "an imported public key does not export");
      auto again = ParseJwk(*exported);
      Require(again.ok() && again->spki_der == jwk.spki_der,
              "an exported public JWK does not import to the same key");
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto json = ParseJsonObject(text);
  if (!json.ok()) return 0;  // json_fuzzer covers the parser
  auto jwk = ParseJwk(*json);
  RequireCode(jwk.status(), {kInvalid}, "ParseJwk");
  if (jwk.ok()) CheckJwk(*jwk);
  auto set = ParseJwkSet(*json);
  RequireCode(set.status(), {kInvalid}, "ParseJwkSet");
  if (set.ok()) {
    for (const ParsedJwk& k : *set) CheckJwk(k);
  }
  return 0;
}
