#include "keystore/jose/jwe.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"

namespace keyward::jose {
namespace {

using crypto::KeyType;
using crypto::SecretData;

constexpr JweAlgorithm kAlgs[] = {
    JweAlgorithm::kRsaOaep,      JweAlgorithm::kRsaOaep256,
    JweAlgorithm::kDir,          JweAlgorithm::kA128Kw,
    JweAlgorithm::kA192Kw,       JweAlgorithm::kA256Kw,
    JweAlgorithm::kA128GcmKw,    JweAlgorithm::kA192GcmKw,
    JweAlgorithm::kA256GcmKw,    JweAlgorithm::kEcdhEs,
    JweAlgorithm::kEcdhEsA128Kw, JweAlgorithm::kEcdhEsA192Kw,
    JweAlgorithm::kEcdhEsA256Kw};
constexpr JweEncryption kEncs[] = {
    JweEncryption::kA128CbcHs256, JweEncryption::kA192CbcHs384,
    JweEncryption::kA256CbcHs512, JweEncryption::kA128Gcm,
    JweEncryption::kA192Gcm,      JweEncryption::kA256Gcm};

const SecretData& Rsa() {
  static const auto* k = new SecretData(*crypto::GenerateKeyMaterial(KeyType::kRsa2048));
  return *k;
}
const SecretData& Ec() {
  static const auto* k = new SecretData(*crypto::GenerateKeyMaterial(KeyType::kEcdhP256));
  return *k;
}

struct Keys {
  JweEncryptionKey to;
  JweDecryptionKey with;
};

Keys MakeKeys(JweAlgorithm alg, JweEncryption enc) {
  const std::string name(JweAlgorithmName(alg));
  if (name.rfind("RSA", 0) == 0) {
    return {*JweEncryptionKey::ForRsa(
                alg, *crypto::PublicKeyFromPrivate(KeyType::kRsa2048, Rsa()), "r"),
            *JweDecryptionKey::ForRsa(alg, Rsa())};
  }
  if (name.rfind("ECDH", 0) == 0) {
    return {*JweEncryptionKey::ForEcdhP256(
                alg, *crypto::PublicKeyFromPrivate(KeyType::kEcdhP256, Ec()), "e"),
            *JweDecryptionKey::ForEcdhP256(alg, Ec())};
  }
  size_t size = JweEncryptionKeySize(enc);  // dir
  if (name.rfind("A128", 0) == 0) size = 16;
  if (name.rfind("A192", 0) == 0) size = 24;
  if (name.rfind("A256", 0) == 0) size = 32;
  const SecretData key = SecretData::Random(size);
  return {*JweEncryptionKey::ForSymmetric(alg, key, "s"),
          *JweDecryptionKey::ForSymmetric(alg, key)};
}

void ExpectRefused(const absl::StatusOr<DecryptedJwe>& r, TokenFailure failure,
                   absl::string_view message_part = "") {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(FailureOf(r.status()), failure) << r.status();
  EXPECT_NE(r.status().message().find(message_part), absl::string_view::npos)
      << r.status();
}

// Rebuild replaces part |index| (decoded) of a compact JWE.
std::string Rebuild(absl::string_view token, size_t index, absl::string_view bytes) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  parts[index] = Base64UrlEncode(bytes);
  return absl::StrJoin(parts, ".");
}

std::string Part(absl::string_view token, size_t index) {
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  return *Base64UrlDecode(parts[index]);
}

TEST(JweTest, EveryAlgorithmWithEveryEncryptionRoundTrips) {
  for (JweAlgorithm alg : kAlgs) {
    for (JweEncryption enc : kEncs) {
      SCOPED_TRACE(absl::StrCat(JweAlgorithmName(alg), " ", JweEncryptionName(enc)));
      Keys keys = MakeKeys(alg, enc);
      JweEncryptOptions options;
      options.typ = "secret+jwt";
      absl::StatusOr<std::string> token =
          EncryptCompact("the plaintext", keys.to, enc, options);
      ASSERT_TRUE(token.ok()) << token.status();
      absl::StatusOr<DecryptedJwe> out = DecryptCompact(*token, keys.with);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(out->plaintext, "the plaintext");
      EXPECT_EQ(out->header.Find("alg")->string_value(), JweAlgorithmName(alg));
      EXPECT_EQ(out->header.Find("enc")->string_value(), JweEncryptionName(enc));
      EXPECT_EQ(out->header.Find("typ")->string_value(), "secret+jwt");
      ParsedJweHeader header = *ParseCompactJweHeader(*token);
      EXPECT_EQ(header.alg, alg);
      EXPECT_EQ(header.kid, keys.to.kid());
    }
  }
}

// Every bit flip of the encrypted key, IV, ciphertext and tag, and a
// changed header, fail with the one message.
TEST(JweTest, TamperingFailsWithOneMessage) {
  for (JweAlgorithm alg : kAlgs) {
    const JweEncryption enc = alg == JweAlgorithm::kDir ? JweEncryption::kA256Gcm
                                                        : JweEncryption::kA128CbcHs256;
    SCOPED_TRACE(JweAlgorithmName(alg));
    Keys keys = MakeKeys(alg, enc);
    const std::string token = *EncryptCompact("attack at dawn", keys.to, enc);
    for (size_t index = 1; index <= 4; ++index) {
      const std::string bytes = Part(token, index);
      const size_t step = bytes.size() > 64 ? 13 : 1;
      for (size_t bit = 0; bit < bytes.size() * 8; bit += step) {
        std::string bad = bytes;
        bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
        ExpectRefused(DecryptCompact(Rebuild(token, index, bad), keys.with),
                      TokenFailure::kBadSignature, "JWE decryption failed");
      }
      if (!bytes.empty()) {  // Truncated and extended parts.
        ExpectRefused(DecryptCompact(Rebuild(token, index, bytes.substr(1)), keys.with),
                      TokenFailure::kBadSignature, "JWE decryption failed");
      }
    }
    JsonValue header = *ParseJsonObject(Part(token, 0));
    header.Set("kid", JsonValue::String("other"));
    ExpectRefused(DecryptCompact(Rebuild(token, 0, header.Serialize()), keys.with),
                  TokenFailure::kBadSignature, "JWE decryption failed");
  }
}

TEST(JweTest, AlgorithmComesFromTheKey) {
  // The same RSA key as RSA-OAEP-256 refuses an RSA-OAEP token.
  Keys oaep = MakeKeys(JweAlgorithm::kRsaOaep, JweEncryption::kA256Gcm);
  Keys oaep256 = MakeKeys(JweAlgorithm::kRsaOaep256, JweEncryption::kA256Gcm);
  const std::string token = *EncryptCompact("x", oaep.to, JweEncryption::kA256Gcm);
  ExpectRefused(DecryptCompact(token, oaep256.with), TokenFailure::kAlgorithmMismatch);
  Keys kw = MakeKeys(JweAlgorithm::kA256Kw, JweEncryption::kA256Gcm);
  Keys gcmkw = MakeKeys(JweAlgorithm::kA256GcmKw, JweEncryption::kA256Gcm);
  ExpectRefused(DecryptCompact(*EncryptCompact("x", kw.to, JweEncryption::kA256Gcm),
                               gcmkw.with),
                TokenFailure::kAlgorithmMismatch);
  // Keys refuse algorithms of another family.
  EXPECT_FALSE(JweDecryptionKey::ForRsa(JweAlgorithm::kA256Kw, Rsa()).ok());
  EXPECT_FALSE(JweDecryptionKey::ForSymmetric(JweAlgorithm::kA256Kw,
                                              SecretData::Random(16)).ok());
  EXPECT_FALSE(JweDecryptionKey::ForEcdhP256(JweAlgorithm::kEcdhEs, Rsa()).ok());
}

TEST(JweTest, DirKeysServeOneCipher) {
  const SecretData key = SecretData::Random(32);
  JweEncryptionKey to = *JweEncryptionKey::ForSymmetric(JweAlgorithm::kDir, key);
  JweDecryptionKey with = *JweDecryptionKey::ForSymmetric(JweAlgorithm::kDir, key);
  EXPECT_EQ(EncryptCompact("x", to, JweEncryption::kA128Gcm).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string cbc = *EncryptCompact("x", to, JweEncryption::kA128CbcHs256);
  JweDecryptOptions gcm_only;
  gcm_only.allowed_encryptions = {JweEncryption::kA256Gcm};
  ExpectRefused(DecryptCompact(cbc, with, gcm_only), TokenFailure::kAlgorithmMismatch);
  const std::string gcm = *EncryptCompact("x", to, JweEncryption::kA256Gcm);
  EXPECT_TRUE(DecryptCompact(gcm, with, gcm_only).ok());
  // A dir token never carries an encrypted key.
  ExpectRefused(DecryptCompact(Rebuild(gcm, 1, "key"), with), TokenFailure::kMalformed);
}

TEST(JweTest, EphemeralKeyMustBeAP256PublicPoint) {
  Keys keys = MakeKeys(JweAlgorithm::kEcdhEsA256Kw, JweEncryption::kA256Gcm);
  const std::string token = *EncryptCompact("x", keys.to, JweEncryption::kA256Gcm);
  const JsonValue header = *ParseJsonObject(Part(token, 0));
  const JsonValue& epk = *header.Find("epk");
  std::string y = *Base64UrlDecode(epk.Find("y")->string_value());
  y[31] ^= 1;  // Off the curve: the invalid-curve attack's first step.
  JsonValue off = header, bad_epk = epk;
  bad_epk.Set("y", JsonValue::String(Base64UrlEncode(y)));
  off.Set("epk", bad_epk);
  ExpectRefused(DecryptCompact(Rebuild(token, 0, off.Serialize()), keys.with),
                TokenFailure::kMalformed, "not a point on P-256");
  JsonValue with_d = header, epk_d = epk;
  epk_d.Set("d", JsonValue::String("AAAA"));
  with_d.Set("epk", epk_d);
  ExpectRefused(DecryptCompact(Rebuild(token, 0, with_d.Serialize()), keys.with),
                TokenFailure::kMalformed, "epk");
  JsonValue p384 = header, epk_c = epk;
  epk_c.Set("crv", JsonValue::String("P-384"));
  p384.Set("epk", epk_c);
  ExpectRefused(DecryptCompact(Rebuild(token, 0, p384.Serialize()), keys.with),
                TokenFailure::kMalformed, "epk");
  JsonValue none = header;
  none.Remove("epk");
  ExpectRefused(DecryptCompact(Rebuild(token, 0, none.Serialize()), keys.with),
                TokenFailure::kMalformed, "epk");
}

// ECDH-ES over X25519 (RFC 8037): every ECDH algorithm and encryption
// round-trips, the "epk" is an OKP key, and an X25519 epk of small order,
// an epk with "d", or a P-256 epk for an X25519 key is refused.
TEST(JweTest, X25519EcdhEsRoundTripsAndChecksTheEphemeralKey) {
  const SecretData pkcs8 = *crypto::GenerateKeyMaterial(KeyType::kX25519);
  const std::string spki = *crypto::PublicKeyFromPrivate(KeyType::kX25519, pkcs8);
  for (JweAlgorithm alg : {JweAlgorithm::kEcdhEs, JweAlgorithm::kEcdhEsA128Kw,
                           JweAlgorithm::kEcdhEsA256Kw}) {
    for (JweEncryption enc : kEncs) {
      SCOPED_TRACE(absl::StrCat(JweAlgorithmName(alg), " ", JweEncryptionName(enc)));
      auto to = JweEncryptionKey::ForX25519(alg, spki, "x");
      auto with = JweDecryptionKey::ForX25519(alg, pkcs8);
      ASSERT_TRUE(to.ok() && with.ok());
      auto token = EncryptCompact("over x25519", *to, enc);
      ASSERT_TRUE(token.ok()) << token.status();
      const JsonValue header = *ParseJsonObject(Part(*token, 0));
      const JsonValue& epk = *header.Find("epk");
      EXPECT_EQ(epk.Find("kty")->string_value(), "OKP");
      EXPECT_EQ(epk.Find("crv")->string_value(), "X25519");
      EXPECT_EQ(epk.Find("y"), nullptr);
      auto out = DecryptCompact(*token, *with);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(out->plaintext, "over x25519");
    }
  }
  auto to = JweEncryptionKey::ForX25519(JweAlgorithm::kEcdhEsA256Kw, spki);
  auto with = JweDecryptionKey::ForX25519(JweAlgorithm::kEcdhEsA256Kw, pkcs8);
  const std::string token = *EncryptCompact("x", *to, JweEncryption::kA256Gcm);
  const JsonValue header = *ParseJsonObject(Part(token, 0));
  JsonValue low = header, epk_low = *header.Find("epk");
  epk_low.Set("x", JsonValue::String(Base64UrlEncode(std::string(32, '\0'))));
  low.Set("epk", epk_low);
  ExpectRefused(DecryptCompact(Rebuild(token, 0, low.Serialize()), *with),
                TokenFailure::kMalformed, "epk");
  JsonValue with_d = header, epk_d = *header.Find("epk");
  epk_d.Set("d", JsonValue::String("AAAA"));
  with_d.Set("epk", epk_d);
  ExpectRefused(DecryptCompact(Rebuild(token, 0, with_d.Serialize()), *with),
                TokenFailure::kMalformed, "epk");
  // A P-256 token does not open with an X25519 key.
  Keys p256 = MakeKeys(JweAlgorithm::kEcdhEsA256Kw, JweEncryption::kA256Gcm);
  const std::string other =
      *EncryptCompact("x", p256.to, JweEncryption::kA256Gcm);
  EXPECT_FALSE(DecryptCompact(other, *with).ok());
  // Keys of the wrong kind are refused by the factories.
  EXPECT_FALSE(JweEncryptionKey::ForX25519(
                   JweAlgorithm::kEcdhEs,
                   *crypto::PublicKeyFromPrivate(KeyType::kEcdhP256, Ec()))
                   .ok());
  EXPECT_FALSE(JweDecryptionKey::ForX25519(JweAlgorithm::kEcdhEs, Ec()).ok());
  EXPECT_FALSE(JweEncryptionKey::ForX25519(JweAlgorithm::kRsaOaep256, spki).ok());
}

TEST(JweTest, UnsupportedHeaders) {
  Keys keys = MakeKeys(JweAlgorithm::kA256Kw, JweEncryption::kA256Gcm);
  const std::string token = *EncryptCompact("x", keys.to, JweEncryption::kA256Gcm);
  const JsonValue header = *ParseJsonObject(Part(token, 0));
  const std::vector<std::pair<const char*, JsonValue>> changes = {
      {"alg", JsonValue::String("RSA1_5")},   {"alg", JsonValue::String("none")},
      {"alg", JsonValue::String("PBES2-HS256+A128KW")},
      {"enc", JsonValue::String("A128CCM")},  {"zip", JsonValue::String("DEF")},
      {"jku", JsonValue::String("https://x")}, {"crit", JsonValue::Array()},
  };
  for (const auto& [name, value] : changes) {
    JsonValue h = header;
    h.Set(name, value);
    ExpectRefused(DecryptCompact(Rebuild(token, 0, h.Serialize()), keys.with),
                  TokenFailure::kUnsupportedHeader);
  }
  JsonValue no_enc = header;
  no_enc.Remove("enc");
  ExpectRefused(DecryptCompact(Rebuild(token, 0, no_enc.Serialize()), keys.with),
                TokenFailure::kUnsupportedHeader);
  ExpectRefused(DecryptCompact(absl::StrCat(
                    Base64UrlEncode("{\"alg\":\"A256KW\",\"alg\":\"dir\"}"),
                    token.substr(token.find('.'))),
                    keys.with),
                TokenFailure::kMalformed, "duplicate");
  ExpectRefused(DecryptCompact(token + ".", keys.with), TokenFailure::kMalformed);
  ExpectRefused(DecryptCompact(token.substr(0, token.rfind('.')), keys.with),
                TokenFailure::kMalformed);
  JweDecryptOptions small;
  small.max_token_bytes = 100;
  ExpectRefused(DecryptCompact(token, keys.with, small), TokenFailure::kMalformed,
                "longer than 100");
}

TEST(JweTest, NestedSignedThenEncrypted) {
  const SecretData ec = *crypto::GenerateKeyMaterial(KeyType::kEcdsaP256);
  JwsSigningKey signer = *JwsSigningKey::ForSigner(
      JwsAlgorithm::kEs256, *NewJwsSigner(JwsAlgorithm::kEs256, ec), "sig:v1");
  JwsVerificationKey verifier = *JwsVerificationKey::ForVerifier(
      JwsAlgorithm::kEs256,
      *NewJwsVerifier(JwsAlgorithm::kEs256,
                      *crypto::PublicKeyFromPrivate(KeyType::kEcdsaP256, ec)));
  JwtSignOptions sign;
  sign.now = absl::FromUnixSeconds(1700000000);
  const SignedJwt jwt =
      *SignJwt(*ParseJsonObject("{\"sub\":\"card\"}"), signer, sign);
  Keys keys = MakeKeys(JweAlgorithm::kRsaOaep256, JweEncryption::kA256Gcm);
  const std::string jwe =
      *EncryptNestedJwt(jwt.token, keys.to, JweEncryption::kA256Gcm);
  EXPECT_EQ(ParseCompactJweHeader(jwe)->header.Find("cty")->string_value(), "JWT");
  JwsKeyResolver resolve = [&](const ParsedJws& jws)
      -> absl::StatusOr<std::vector<JwsVerificationKey>> {
    if (jws.kid != "sig:v1") return TokenError(TokenFailure::kKeyNotFound, "kid");
    return std::vector<JwsVerificationKey>{verifier};
  };
  JwtVerifyOptions verify;
  verify.now = sign.now;
  absl::StatusOr<VerifiedJwt> v =
      DecryptNestedJwt(jwe, keys.with, resolve, {}, verify);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->claims.Find("sub")->string_value(), "card");
  // Expired inside: the verdict of the nested check.
  verify.now += absl::Hours(1);
  EXPECT_EQ(FailureOf(DecryptNestedJwt(jwe, keys.with, resolve, {}, verify).status()),
            TokenFailure::kExpired);
  // A plain payload is not a nested JWT.
  const std::string plain = *EncryptCompact(jwt.token, keys.to, JweEncryption::kA256Gcm);
  EXPECT_EQ(FailureOf(DecryptNestedJwt(plain, keys.with, resolve, {}, verify).status()),
            TokenFailure::kMalformed);
  EXPECT_FALSE(EncryptNestedJwt("not.a.jws!", keys.to, JweEncryption::kA256Gcm).ok());
}

}  // namespace
}  // namespace keyward::jose
