// End-to-end: the JWT rules of the contract that a service moving onto
// Keyward relies on, through the real daemon: tokens without "exp" only
// when asked (with a maximum age from "iat"), "nbf" defaulting to a
// backdated "iat", and SignJwt refusing tokens dead on arrival.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "keystore/crypto/mac.h"
#include "keystore/jose/json.h"
#include "keystore/jose/jws.h"
#include "tests/jwt_fixture.h"

namespace keyward::testing {
namespace {

using ::testing::HasSubstr;

class JwtContractTest : public JwtTest {
 protected:
  // ImportHs256 imports `secret` as the HS256 JWT key `id`.
  void ImportHs256(const std::string& id, const std::string& secret) {
    grpc::ClientContext ctx;
    pb::ImportKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(pb::KEY_TYPE_HMAC_SHA256);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    req.set_format(pb::KEY_MATERIAL_FORMAT_RAW_SECRET);
    req.set_material(secret);
    pb::ImportKeyResponse resp;
    grpc::Status s = keys_->ImportKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // ExternalHs256 signs `claims` with `secret` outside Keyward, as the
  // service did before it moved (no kid).
  static std::string ExternalHs256(const std::string& secret,
                                   const std::string& claims) {
    auto mac = crypto::Hmac::Create(crypto::HashType::kSha256,
                                    crypto::SecretData(secret));
    EXPECT_TRUE(mac.ok()) << mac.status();
    auto key = jose::JwsSigningKey::ForMac(jose::JwsAlgorithm::kHs256,
                                           std::move(*mac));
    EXPECT_TRUE(key.ok()) << key.status();
    auto token = jose::SignCompact(*jose::ParseJsonObject(R"({"typ":"JWT"})"),
                                   claims, *key);
    EXPECT_TRUE(token.ok()) << token.status();
    return *token;
  }

  grpc::Status VerifyPinned(const std::string& token, const std::string& key,
                            bool allow_missing_exp, int max_age_seconds,
                            pb::VerifyJwtResponse* resp, int leeway = -1) {
    grpc::ClientContext ctx;
    pb::VerifyJwtRequest req;
    req.set_token(token);
    req.set_name("keys/" + key);
    req.set_allow_missing_exp(allow_missing_exp);
    if (max_age_seconds >= 0) {
      req.mutable_max_age_without_exp()->set_seconds(max_age_seconds);
    }
    if (leeway >= 0) req.mutable_leeway()->set_seconds(leeway);
    return jwt_->VerifyJwt(&ctx, req, resp);
  }
};

TEST_F(JwtContractTest, AFastApiTokenWithoutExpVerifiesOnlyWhenAllowed) {
  const std::string secret = "a FastAPI login service's HS256 secret, 32+ B";
  ImportHs256("fastapi", secret);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // python-jose's jwt.encode({"sub": ..., "iat": ...}) without "exp",
  // issued an hour ago.
  const std::string token = ExternalHs256(
      secret, absl::StrCat(R"({"sub":"alice","iat":)", now - 3600, "}"));
  pb::VerifyJwtResponse resp;
  // Strict by default.
  ASSERT_TRUE(VerifyPinned(token, "fastapi", false, -1, &resp).ok());
  EXPECT_FALSE(resp.valid());
  EXPECT_EQ(resp.failure(), pb::JWT_FAILURE_MISSING_EXPIRY);
  // Allowed by the call.
  ASSERT_TRUE(VerifyPinned(token, "fastapi", true, -1, &resp).ok());
  EXPECT_TRUE(resp.valid()) << resp.failure_detail();
  ASSERT_TRUE(VerifyPinned(token, "fastapi", true, 2 * 3600, &resp).ok());
  EXPECT_TRUE(resp.valid()) << resp.failure_detail();
  // Older than the maximum age: expired.
  ASSERT_TRUE(VerifyPinned(token, "fastapi", true, 1800, &resp).ok());
  EXPECT_FALSE(resp.valid());
  EXPECT_EQ(resp.failure(), pb::JWT_FAILURE_EXPIRED);
  EXPECT_THAT(resp.failure_detail(), HasSubstr("maximum age"));
  // Without iat its age is unknown: refused when a maximum age is set.
  const std::string no_iat = ExternalHs256(secret, R"({"sub":"bob"})");
  ASSERT_TRUE(VerifyPinned(no_iat, "fastapi", true, 1800, &resp).ok());
  EXPECT_EQ(resp.failure(), pb::JWT_FAILURE_MISSING_EXPIRY);
  // A maximum age without allow_missing_exp, or out of range, is a request
  // error.
  EXPECT_EQ(VerifyPinned(token, "fastapi", false, 1800, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(VerifyPinned(token, "fastapi", true, 367 * 86400, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A token with exp is still held to it.
  const std::string expired = ExternalHs256(
      secret, absl::StrCat(R"({"sub":"carol","exp":)", now - 600, "}"));
  ASSERT_TRUE(VerifyPinned(expired, "fastapi", true, -1, &resp).ok());
  EXPECT_EQ(resp.failure(), pb::JWT_FAILURE_EXPIRED);
}

TEST_F(JwtContractTest, NbfDefaultsToABackdatedIat) {
  CreateJwtKey("backdate", pb::KEY_TYPE_ED25519);
  const int64_t iat = absl::ToUnixSeconds(absl::Now()) - 10;
  pb::SignJwtResponse signed_jwt =
      Sign("backdate", absl::StrCat(R"({"sub":"u1","iat":)", iat, "}"), 300);
  EXPECT_EQ(signed_jwt.issue_time().seconds(), iat);
  pb::VerifyJwtResponse v = Verify(signed_jwt.token(), "", 0);
  ASSERT_TRUE(v.valid()) << v.failure_detail();
  EXPECT_THAT(v.claims_json(), HasSubstr(absl::StrCat(R"("nbf":)", iat)));
}

TEST_F(JwtContractTest, SignJwtRefusesTokensDeadOnArrival) {
  CreateJwtKey("doa", pb::KEY_TYPE_ED25519);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  grpc::Status s;
  Sign("doa", absl::StrCat(R"({"exp":)", now - 5, "}"), 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("dead on arrival"));
  Sign("doa",
       absl::StrCat(R"({"exp":)", now + 100, R"(,"nbf":)", now + 200, "}"), 60,
       &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("never be valid"));
  Sign("doa", R"({"exp":"tomorrow"})", 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("integer"));
}

}  // namespace
}  // namespace keyward::testing
