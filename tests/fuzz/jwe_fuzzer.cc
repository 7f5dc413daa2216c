// Fuzzes compact JWE parsing and decryption (keystore/jose/jwe.h and the
// shared internal/compact.h checks). The token's header picks the key of
// its "alg" from a fixed set (dir and A*KW / A*GCMKW with fixed secrets,
// ECDH-ES(+A256KW) with a P-256 key, RSA-OAEP(-256) with an RSA-2048 key).
// Asserts, beyond "no crash":
// - every refusal carries a TokenFailure and the code failure.h gives it
//   (INVALID_ARGUMENT or UNAUTHENTICATED), never INTERNAL or UNKNOWN;
// - DecryptCompact never accepts a token ParseCompactJweHeader refuses, and
//   returns the same header and kid;
// - a plaintext that decrypts encrypts again to the same key and enc and
//   decrypts back to itself.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/secret_data.h"
#include "keystore/jose/failure.h"
#include "keystore/jose/jwe.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using keyward::crypto::KeyType;
using keyward::crypto::SecretData;
using keyward::fuzz::Require;
using keyward::fuzz::RequireCode;
using namespace keyward::jose;  // NOLINT: a test of this namespace

void RequireVerdict(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  RequireCode(s,
              {absl::StatusCode::kInvalidArgument,
               absl::StatusCode::kUnauthenticated},
              what);
  Require(FailureOf(s) != TokenFailure::kNone, what);
}

struct KeyPair {
  JweEncryptionKey to;
  JweDecryptionKey with;
};

const std::map<JweAlgorithm, KeyPair>& TheKeys() {
  static const auto* keys = [] {
    auto* k = new std::map<JweAlgorithm, KeyPair>;
    auto symmetric = [&](JweAlgorithm alg, size_t size) {
      const SecretData key(std::string(size, 's'));
      k->emplace(alg, KeyPair{*JweEncryptionKey::ForSymmetric(alg, key),
                              *JweDecryptionKey::ForSymmetric(alg, key)});
    };
    symmetric(JweAlgorithm::kDir, 32);
    symmetric(JweAlgorithm::kA128Kw, 16);
    symmetric(JweAlgorithm::kA256Kw, 32);
    symmetric(JweAlgorithm::kA128GcmKw, 16);
    symmetric(JweAlgorithm::kA256GcmKw, 32);
    auto ec = keyward::crypto::GenerateKeyMaterial(KeyType::kEcdhP256);
    Require(ec.ok(), "P-256 key");
    auto ec_spki = keyward::crypto::PublicKeyFromPrivate(KeyType::kEcdhP256, *ec);
    Require(ec_spki.ok(), "P-256 public key");
    for (JweAlgorithm alg : {JweAlgorithm::kEcdhEs, JweAlgorithm::kEcdhEsA256Kw}) {
      k->emplace(alg, KeyPair{*JweEncryptionKey::ForEcdhP256(alg, *ec_spki),
                              *JweDecryptionKey::ForEcdhP256(alg, *ec)});
    }
    auto rsa = keyward::crypto::GenerateKeyMaterial(KeyType::kRsa2048);
    Require(rsa.ok(), "RSA key");
    auto rsa_spki = keyward::crypto::PublicKeyFromPrivate(KeyType::kRsa2048, *rsa);
    Require(rsa_spki.ok(), "RSA public key");
    for (JweAlgorithm alg : {JweAlgorithm::kRsaOaep, JweAlgorithm::kRsaOaep256}) {
      k->emplace(alg, KeyPair{*JweEncryptionKey::ForRsa(alg, *rsa_spki),
                              *JweDecryptionKey::ForRsa(alg, *rsa)});
    }
    return k;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& keys = TheKeys();
  const absl::string_view token(reinterpret_cast<const char*>(data), size);

  auto header = ParseCompactJweHeader(token);
  RequireVerdict(header.status(), "ParseCompactJweHeader");
  // With no header, decrypt with the dir key: it must refuse as well.
  const KeyPair& pair =
      header.ok() && keys.count(header->alg) ? keys.at(header->alg)
                                             : keys.at(JweAlgorithm::kDir);
  auto decrypted = DecryptCompact(token, pair.with);
  RequireVerdict(decrypted.status(), "DecryptCompact");
  if (!decrypted.ok()) return 0;
  Require(header.ok(), "DecryptCompact accepted a token whose header is refused");
  Require(decrypted->header_json == header->header_json &&
              decrypted->kid == header->kid,
          "DecryptCompact and ParseCompactJweHeader disagree on the header");

  auto again = EncryptCompact(decrypted->plaintext, pair.to, header->enc);
  if (!again.ok()) {
    // Only the size limit may refuse a plaintext that arrived in a token.
    RequireCode(again.status(), {absl::StatusCode::kInvalidArgument},
                "EncryptCompact");
    return 0;
  }
  auto round = DecryptCompact(*again, pair.with);
  Require(round.ok() && round->plaintext == decrypted->plaintext,
          "a re-encrypted plaintext does not decrypt back");
  return 0;
}
