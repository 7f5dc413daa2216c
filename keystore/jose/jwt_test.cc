#include "keystore/jose/jwt.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "keystore/crypto/keys.h"
#include "keystore/crypto/mac.h"
#include "keystore/jose/base64url.h"
#include "keystore/jose/failure.h"

namespace keyward::jose {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

class JwtTest : public testing::Test {
 protected:
  JwtTest() {
    std::shared_ptr<const crypto::Mac> mac = *NewJwsMac(
        JwsAlgorithm::kHs256,
        *crypto::GenerateKeyMaterial(crypto::KeyType::kHmacSha256));
    signer_ = std::make_unique<JwsSigningKey>(
        *JwsSigningKey::ForMac(JwsAlgorithm::kHs256, mac, "k:v1"));
    verifier_ = std::make_unique<JwsVerificationKey>(
        *JwsVerificationKey::ForMac(JwsAlgorithm::kHs256, mac));
    sign_.now = kNow;
    sign_.ttl = absl::Seconds(90);
    verify_.now = kNow;
  }

  // Sign signs |claims_json| as is, with the registered claims allowed.
  std::string SignRaw(absl::string_view claims_json,
                      absl::string_view typ = "JWT") {
    JsonValue header = JsonValue::Object();
    if (!typ.empty()) header.Set("typ", JsonValue::String(std::string(typ)));
    return *SignCompact(header, claims_json, *signer_);
  }

  void ExpectRefused(absl::string_view token, TokenFailure failure,
                     absl::string_view message_part = "") {
    absl::StatusOr<VerifiedJwt> r = VerifyJwt(token, *verifier_, verify_);
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(FailureOf(r.status()), failure) << r.status();
    EXPECT_NE(r.status().message().find(message_part), absl::string_view::npos)
        << r.status();
  }

  std::unique_ptr<JwsSigningKey> signer_;
  std::unique_ptr<JwsVerificationKey> verifier_;
  JwtSignOptions sign_;
  JwtVerifyOptions verify_;
};

TEST_F(JwtTest, SignFillsRegisteredClaims) {
  JsonValue claims = *ParseJsonObject("{\"sub\":\"u123\",\"aud\":\"api\"}");
  sign_.issuer = "https://issuer.example";
  absl::StatusOr<SignedJwt> jwt = SignJwt(claims, *signer_, sign_);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->jti.size(), 22u);  // 16 bytes in base64url.
  EXPECT_EQ(Base64UrlDecode(jwt->jti)->size(), 16u);
  EXPECT_EQ(jwt->claims_json,
            absl::StrCat("{\"sub\":\"u123\",\"aud\":\"api\",\"iss\":"
                         "\"https://issuer.example\",\"iat\":1700000000,"
                         "\"nbf\":1700000000,\"exp\":1700000090,\"jti\":\"",
                         jwt->jti, "\"}"));
  EXPECT_EQ(jwt->issued_at, kNow);
  EXPECT_EQ(jwt->expires_at, kNow + absl::Seconds(90));
  verify_.audience = "api";
  verify_.issuer = "https://issuer.example";
  verify_.typ = "jwt";
  absl::StatusOr<VerifiedJwt> v = VerifyJwt(jwt->token, *verifier_, verify_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->claims_json, jwt->claims_json);
  EXPECT_EQ(v->header_json, "{\"alg\":\"HS256\",\"kid\":\"k:v1\",\"typ\":\"JWT\"}");
  EXPECT_NE(SignJwt(claims, *signer_, sign_)->jti, jwt->jti);
}

TEST_F(JwtTest, SignRefusesWhatTheIssuerSets) {
  for (const char* claims : {"{\"iat\":1}", "{\"exp\":1}", "{\"nbf\":1}",
                             "{\"jti\":\"x\"}"}) {
    EXPECT_EQ(SignJwt(*ParseJsonObject(claims), *signer_, sign_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << claims;
  }
  sign_.keep_given_registered_claims = true;
  absl::StatusOr<SignedJwt> kept =
      SignJwt(*ParseJsonObject("{\"exp\":1700000500,\"jti\":\"mine\"}"), *signer_, sign_);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->jti, "mine");
  EXPECT_EQ(kept->expires_at, absl::FromUnixSeconds(1700000500));
  sign_.issuer = "me";
  EXPECT_FALSE(SignJwt(*ParseJsonObject("{\"iss\":\"you\"}"), *signer_, sign_).ok());
  EXPECT_TRUE(SignJwt(*ParseJsonObject("{\"iss\":\"me\"}"), *signer_, sign_).ok());
  EXPECT_FALSE(SignJwt(JsonValue::Array(), *signer_, sign_).ok());
  sign_.ttl = absl::ZeroDuration();
  EXPECT_FALSE(SignJwt(JsonValue::Object(), *signer_, sign_).ok());
}

TEST_F(JwtTest, TimeClaimsWithLeeway) {
  verify_.leeway = absl::Seconds(60);
  EXPECT_TRUE(VerifyJwt(SignRaw("{\"exp\":1699999941}"), *verifier_, verify_).ok());
  ExpectRefused(SignRaw("{\"exp\":1699999940}"), TokenFailure::kExpired,
                "expired 60 s ago");
  ExpectRefused(SignRaw("{\"sub\":\"x\"}"), TokenFailure::kMissingExpiry);
  EXPECT_TRUE(VerifyJwt(SignRaw("{\"exp\":1800000000,\"nbf\":1700000060}"),
                        *verifier_, verify_).ok());
  ExpectRefused(SignRaw("{\"exp\":1800000000,\"nbf\":1700000061}"),
                TokenFailure::kNotYetValid, "\"nbf\" is 61 s in the future");
  ExpectRefused(SignRaw("{\"exp\":1800000000,\"iat\":1700000100}"),
                TokenFailure::kNotYetValid, "iat");
  ExpectRefused(SignRaw("{\"exp\":\"1800000000\"}"), TokenFailure::kMalformed,
                "not a number");
  ExpectRefused(SignRaw("{\"exp\":1800000000,\"nbf\":null}"),
                TokenFailure::kMalformed);
  // Expiry is checked before nbf (the proto's order).
  ExpectRefused(SignRaw("{\"exp\":1,\"nbf\":1800000000}"), TokenFailure::kExpired);
  verify_.require_exp = false;
  EXPECT_TRUE(VerifyJwt(SignRaw("{}"), *verifier_, verify_).ok());
}

TEST_F(JwtTest, IssuerAudienceAndTyp) {
  const std::string exp = "\"exp\":1800000000";
  verify_.issuer = "iss-a";
  ExpectRefused(SignRaw(absl::StrCat("{", exp, "}")), TokenFailure::kIssuerMismatch);
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"iss\":\"iss-b\"}")),
                TokenFailure::kIssuerMismatch);
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"iss\":[\"iss-a\"]}")),
                TokenFailure::kIssuerMismatch);
  verify_.issuer.clear();
  // A token with aud and no audience required is refused (RFC 7519 4.1.3).
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"aud\":\"api\"}")),
                TokenFailure::kAudienceMismatch);
  verify_.audience = "api";
  EXPECT_TRUE(VerifyJwt(SignRaw(absl::StrCat("{", exp, ",\"aud\":\"api\"}")),
                        *verifier_, verify_).ok());
  EXPECT_TRUE(VerifyJwt(SignRaw(absl::StrCat("{", exp, ",\"aud\":[\"x\",\"api\"]}")),
                        *verifier_, verify_).ok());
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"aud\":[\"x\",\"apix\"]}")),
                TokenFailure::kAudienceMismatch);
  ExpectRefused(SignRaw(absl::StrCat("{", exp, "}")), TokenFailure::kAudienceMismatch);
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"aud\":[[\"api\"]]}")),
                TokenFailure::kAudienceMismatch);
  verify_.typ = "at+jwt";
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"aud\":\"api\"}")),
                TokenFailure::kTypeMismatch);
  ExpectRefused(SignRaw(absl::StrCat("{", exp, ",\"aud\":\"api\"}"), ""),
                TokenFailure::kTypeMismatch);
  EXPECT_TRUE(VerifyJwt(SignRaw(absl::StrCat("{", exp, ",\"aud\":\"api\"}"),
                                "application/AT+JWT"),
                        *verifier_, verify_).ok());
  EXPECT_TRUE(TypMatches("JWT", "application/jwt"));
  EXPECT_FALSE(TypMatches("JWT", "JWS"));
}

TEST_F(JwtTest, ClaimsMustBeAStrictObject) {
  ExpectRefused(SignRaw("[1]"), TokenFailure::kMalformed, "not an object");
  ExpectRefused(SignRaw("{\"exp\":1800000000,\"exp\":1}"), TokenFailure::kMalformed,
                "duplicate JSON member 'exp'");
  ExpectRefused(SignRaw("{\"exp\":1800000000} x"), TokenFailure::kMalformed);
  ExpectRefused(SignRaw("not json"), TokenFailure::kMalformed);
}

TEST_F(JwtTest, SignatureIsCheckedBeforeClaims) {
  const std::string token = SignRaw("{\"exp\":1}");
  std::string bad = token;
  bad[bad.size() - 2] = bad[bad.size() - 2] == 'A' ? 'B' : 'A';
  ExpectRefused(bad, TokenFailure::kBadSignature);
}

}  // namespace
}  // namespace keyward::jose
