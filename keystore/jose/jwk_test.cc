#include "keystore/jose/jwk.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/jose/base64url.h"

namespace keyward::jose {
namespace {

using crypto::KeyType;

TEST(JwkTest, PublicJwkRoundTripsThroughParseJwk) {
  const struct {
    KeyType type;
    const char* alg;
    const char* use;
  } cases[] = {
      {KeyType::kEd25519, "EdDSA", "sig"},  {KeyType::kEcdsaP256, "ES256", "sig"},
      {KeyType::kEcdsaP384, "ES384", "sig"}, {KeyType::kRsa2048, "PS512", "sig"},
      {KeyType::kRsa2048, "RSA-OAEP", "enc"}, {KeyType::kEcdhP256, "ECDH-ES+A256KW", "enc"},
      {KeyType::kX25519, "ECDH-ES", "enc"},
  };
  std::vector<JsonValue> keys;
  int n = 0;
  for (const auto& c : cases) {
    const crypto::SecretData pkcs8 = *crypto::GenerateKeyMaterial(c.type);
    const std::string spki = *crypto::PublicKeyFromPrivate(c.type, pkcs8);
    const std::string kid = "key:v" + std::to_string(++n);
    absl::StatusOr<JsonValue> jwk = PublicJwk(c.type, spki, kid, c.alg, c.use);
    ASSERT_TRUE(jwk.ok()) << c.alg << ": " << jwk.status();
    EXPECT_EQ(jwk->Find("kid")->string_value(), kid);
    absl::StatusOr<ParsedJwk> parsed = ParseJwk(*jwk);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->kind, ParsedJwk::Kind::kPublic);
    EXPECT_EQ(parsed->spki_der, spki);
    EXPECT_EQ(parsed->alg, c.alg);
    if (std::string(c.use) == "sig") {
      EXPECT_TRUE(JwsVerificationKeyFromJwk(*parsed).ok());
    }
    keys.push_back(*jwk);
  }
  absl::StatusOr<std::string> set = JwkSetJson(keys);
  ASSERT_TRUE(set.ok());
  absl::StatusOr<std::vector<ParsedJwk>> back = ParseJwkSet(*ParseJsonObject(*set));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->size(), keys.size());
  keys.push_back(keys.front());
  EXPECT_FALSE(JwkSetJson(keys).ok());  // Duplicate kid.
}

TEST(JwkTest, PublicJwkRefusesAlgorithmsThatDoNotFit) {
  const crypto::SecretData p256 = *crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  const std::string spki = *crypto::PublicKeyFromPrivate(KeyType::kEcdsaP256, p256);
  for (const char* alg : {"ES384", "RS256", "HS256", "ECDH-ES", "A256GCM", "none"}) {
    EXPECT_FALSE(PublicJwk(KeyType::kEcdsaP256, spki, "k", alg, "").ok()) << alg;
  }
  EXPECT_FALSE(PublicJwk(KeyType::kEcdhP256, spki, "k", "ES256", "").ok());
  EXPECT_FALSE(PublicJwk(KeyType::kEcdsaP256, spki, "k", "ES256", "enc").ok());
  EXPECT_FALSE(PublicJwk(KeyType::kEcdsaP384, spki, "k", "", "").ok());
}

// RFC 8037 X25519 JWKs: ECDH-ES only (not EdDSA), and a private "d" must
// match "x".
TEST(JwkTest, X25519Jwks) {
  const crypto::SecretData pkcs8 = *crypto::GenerateKeyMaterial(KeyType::kX25519);
  const std::string spki = *crypto::PublicKeyFromPrivate(KeyType::kX25519, pkcs8);
  EXPECT_FALSE(PublicJwk(KeyType::kX25519, spki, "k", "EdDSA", "").ok());
  EXPECT_FALSE(PublicJwk(KeyType::kX25519, spki, "k", "ECDH-ES", "sig").ok());
  JsonValue jwk = *PublicJwk(KeyType::kX25519, spki, "k", "ECDH-ES+A256KW", "enc");
  EXPECT_EQ(jwk.Find("crv")->string_value(), "X25519");
  jwk.Set("d", JsonValue::String(Base64UrlEncode(std::string(32, '\x05'))));
  absl::StatusOr<ParsedJwk> mismatched = ParseJwk(jwk);
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  JsonValue ed = jwk;
  ed.Set("crv", JsonValue::String("X448"));
  EXPECT_EQ(ParseJwk(ed).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JwkTest, ParseJwkRefusals) {
  for (const char* text : {
           R"({"kty":"oct","k":""})",
           R"({"kty":"oct","k":"AAAA","alg":"HS256"})",            // 3 bytes.
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"A256KW"})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA==","alg":"A128KW"})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"A128KW","use":"sig"})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","key_ops":["sign","sign"]})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","key_ops":["fly"]})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","use":"enc","key_ops":["sign"]})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","alg":"none"})",
           R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","x":"AA"})",
           R"({"kty":"EC","crv":"P-521","x":"AA","y":"AA"})",
           R"({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})",
           R"({"kty":"OKP","crv":"X25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
           R"({"kty":"RSA","n":"AQAB","e":"AQAB"})",
           R"({"kty":"DSA"})",
           R"({"kid":7,"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA"})",
           R"([])",
       }) {
    absl::StatusOr<JsonValue> json = ParseJson(text);
    ASSERT_TRUE(json.ok()) << text;
    absl::StatusOr<ParsedJwk> jwk = ParseJwk(*json);
    EXPECT_FALSE(jwk.ok()) << text;
    if (!jwk.ok()) {
      EXPECT_EQ(jwk.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // A key without "alg" parses but cannot verify: no algorithm is guessed.
  absl::StatusOr<ParsedJwk> no_alg = ParseJwk(*ParseJson(
      R"({"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})"));
  ASSERT_TRUE(no_alg.ok());
  EXPECT_FALSE(JwsVerificationKeyFromJwk(*no_alg).ok());
}

TEST(JwkTest, SetsRefuseDuplicateKidsAndMixedKeys) {
  const char* secret = R"({"kty":"oct","kid":"a","alg":"HS256","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})";
  const char* secret2 = R"({"kty":"oct","kid":"b","alg":"HS256","k":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})";
  const crypto::SecretData ec = *crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  const std::string pub =
      PublicJwk(KeyType::kEcdsaP256, *crypto::PublicKeyFromPrivate(KeyType::kEcdsaP256, ec),
                "c", "ES256", "sig")->Serialize();
  auto set = [](std::vector<std::string> keys) {
    std::string text = "{\"keys\":[";
    for (size_t i = 0; i < keys.size(); ++i) text += (i ? "," : "") + keys[i];
    return *ParseJson(text + "]}");
  };
  EXPECT_TRUE(ParseJwkSet(set({secret, secret2})).ok());
  EXPECT_FALSE(ParseJwkSet(set({secret, secret})).ok());
  EXPECT_FALSE(ParseJwkSet(set({secret, pub})).ok());
  EXPECT_FALSE(ParseJwkSet(*ParseJson("{\"keys\":{}}")).ok());
}

}  // namespace
}  // namespace keyward::jose
