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

TEST_F(JwtTest, SignRefusesHeaderParametersAsClaims) {
  // The JWS alg and kid come from the key: in the claims they are refused,
  // whatever the options, never signed beside a header that says otherwise.
  sign_.keep_given_registered_claims = true;
  for (const char* claims : {"{\"alg\":\"RS256\"}", "{\"alg\":\"HS256\"}",
                             "{\"alg\":\"none\"}", "{\"kid\":\"k:v1\"}"}) {
    absl::Status s = SignJwt(*ParseJsonObject(claims), *signer_, sign_).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << claims;
    EXPECT_NE(s.message().find("header parameter"), absl::string_view::npos) << s;
  }
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

TEST_F(JwtTest, BackdatedIatIsTheDefaultNbf) {
  // A token service backdates iat by 10 s for clock skew: nbf follows it,
  // exp is still now + ttl.
  sign_.keep_given_registered_claims = true;
  absl::StatusOr<SignedJwt> jwt =
      SignJwt(*ParseJsonObject("{\"iat\":1699999990}"), *signer_, sign_);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_NE(jwt->claims_json.find("\"iat\":1699999990,\"nbf\":1699999990,"
                                  "\"exp\":1700000090"),
            std::string::npos)
      << jwt->claims_json;
  EXPECT_EQ(jwt->issued_at, absl::FromUnixSeconds(1699999990));
  // A given nbf is kept.
  jwt = SignJwt(*ParseJsonObject("{\"iat\":1699999990,\"nbf\":1700000005}"),
                *signer_, sign_);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_NE(jwt->claims_json.find("\"nbf\":1700000005"), std::string::npos);
}

TEST_F(JwtTest, SignRefusesDeadTokensAndBadTimes) {
  sign_.keep_given_registered_claims = true;
  struct Case {
    const char* claims;
    const char* message_part;
  };
  for (const Case& c : {
           Case{"{\"exp\":1700000000}", "is not after now"},
           Case{"{\"exp\":1699999000}", "dead on arrival"},
           Case{"{\"exp\":1700000100,\"nbf\":1700000101}", "is after \"exp\""},
           Case{"{\"iat\":1700000200,\"exp\":1700000100}", "is after \"exp\""},
           Case{"{\"exp\":1700000100.5}", "must be an integer"},
           Case{"{\"iat\":\"now\"}", "must be an integer"},
           Case{"{\"nbf\":null}", "must be an integer"},
       }) {
    absl::Status s = SignJwt(*ParseJsonObject(c.claims), *signer_, sign_).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.claims;
    EXPECT_NE(s.message().find(c.message_part), absl::string_view::npos)
        << c.claims << ": " << s;
  }
  EXPECT_TRUE(SignJwt(*ParseJsonObject("{\"exp\":1700000001}"), *signer_, sign_)
                  .ok());
}

TEST_F(JwtTest, TokensWithoutExpOnlyWhenAllowedAndWithinMaxAge) {
  const std::string no_exp = SignRaw("{\"sub\":\"alice\",\"iat\":1699996400}");
  ExpectRefused(no_exp, TokenFailure::kMissingExpiry);  // strict by default
  verify_.require_exp = false;
  EXPECT_TRUE(VerifyJwt(no_exp, *verifier_, verify_).ok());
  verify_.max_age_without_exp = absl::Hours(2);
  EXPECT_TRUE(VerifyJwt(no_exp, *verifier_, verify_).ok());
  // One hour old: over a 59-minute maximum, also with the default leeway.
  verify_.max_age_without_exp = absl::Minutes(59);
  ExpectRefused(no_exp, TokenFailure::kExpired, "over the maximum age");
  // Exactly at the limit: within the leeway; not with a leeway of 0.
  verify_.max_age_without_exp = absl::Hours(1);
  EXPECT_TRUE(VerifyJwt(no_exp, *verifier_, verify_).ok());
  verify_.leeway = absl::ZeroDuration();
  ExpectRefused(no_exp, TokenFailure::kExpired, "issued 3600 s ago");
  // Without iat the age is unknown.
  ExpectRefused(SignRaw("{\"sub\":\"alice\"}"), TokenFailure::kMissingExpiry,
                "neither");
  // A token with exp is held to its exp, not to the maximum age.
  EXPECT_TRUE(VerifyJwt(SignRaw("{\"iat\":1600000000,\"exp\":1700000100}"),
                        *verifier_, verify_).ok());
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
