#include "keystore/jwt.h"

#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "keystore/jose/failure.h"

namespace keyward::keystore {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

// A keystore on a fresh SQLite file whose clock the test moves.
class JwtRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    const char* dir = getenv("TEST_TMPDIR");
    KeystoreOptions options;
    options.now = [this] { return now_; };
    auto ks = Keystore::Init(
        absl::StrCat(dir ? dir : "/tmp", "/jwt-", getpid(), "-", counter++, ".db"),
        crypto::SecretData("jwt rules test"), options);
    ASSERT_TRUE(ks.ok()) << ks.status();
    ks_ = std::move(*ks);
  }

  void Create(const std::string& id, KeyType type) {
    CreateKeyParams params;
    params.id = id;
    params.type = type;
    params.purpose = KeyPurpose::kJwt;
    ASSERT_TRUE(ks_->CreateKey(params).ok());
  }

  absl::StatusOr<SignedToken> Sign(const std::string& id,
                                   const std::string& claims,
                                   absl::Duration ttl = absl::ZeroDuration()) {
    JwtSignParams params;
    params.key_id = id;
    params.claims = *jose::ParseJsonObject(claims);
    params.ttl = ttl;
    return SignJwt(*ks_, params);
  }

  JwtVerdict Verify(const std::string& token, JwtVerifyParams params = {}) {
    params.token = token;
    auto verdict = VerifyJwt(*ks_, params);
    EXPECT_TRUE(verdict.ok()) << verdict.status();
    return verdict.ok() ? *verdict : JwtVerdict{};
  }

  absl::Time now_ = kStart;
  std::unique_ptr<Keystore> ks_;
};

TEST_F(JwtRulesTest, SignsOnTheGivenClockAndVerifiesByKid) {
  Create("login", KeyType::kEcdsaP256);
  auto token = Sign("login", R"({"sub":"alice"})");
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->issued_at, kStart);
  EXPECT_EQ(token->expires_at, kStart + kDefaultJwtTtl);
  EXPECT_EQ(token->version, 1);
  JwtVerdict v = Verify(token->token);
  EXPECT_TRUE(v.valid) << v.detail;
  EXPECT_EQ(v.key_id, "login");
  EXPECT_EQ(v.version, 1);
  EXPECT_THAT(v.header_json, HasSubstr(R"("kid":"login:v1")"));
  // The clock moves past exp + leeway: expired.
  now_ = kStart + kDefaultJwtTtl + absl::Seconds(61);
  v = Verify(token->token);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(v.failure, static_cast<int>(jose::TokenFailure::kExpired));
  EXPECT_TRUE(v.header_json.empty());
}

TEST_F(JwtRulesTest, LifetimesAreRefusedNeverShortened) {
  Create("life", KeyType::kEd25519);
  EXPECT_EQ(Sign("life", "{}", absl::Hours(25)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sign("life", "{}", -absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Sign("life",
                 absl::StrCat(R"({"exp":)",
                              absl::ToUnixSeconds(kStart + absl::Hours(48)), "}"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto day = Sign("life", "{}", absl::Hours(24));
  ASSERT_TRUE(day.ok());
  EXPECT_EQ(day->expires_at - day->issued_at, absl::Hours(24));
}

TEST_F(JwtRulesTest, PinnedKeysAndKidsOfOtherKeys) {
  Create("a", KeyType::kHmacSha256);
  Create("b", KeyType::kHmacSha256);
  auto token = Sign("a", "{}");
  ASSERT_TRUE(token.ok());
  JwtVerifyParams pinned;
  pinned.pinned_key_id = "b";
  JwtVerdict v = Verify(token->token, pinned);
  EXPECT_EQ(v.failure, static_cast<int>(jose::TokenFailure::kKeyNotFound));
  EXPECT_THAT(v.detail, HasSubstr("names key 'a', not 'b'"));
  // A pinned key that does not exist is an error, not a verdict (for a
  // token whose kid names no key here: {"alg":"HS256","kid":"x"}).
  pinned.pinned_key_id = "nope";
  pinned.token = "eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ.e30.AAAA";
  EXPECT_EQ(VerifyJwt(*ks_, pinned).status().code(),
            absl::StatusCode::kNotFound);
  // The authorize hook: a refusal is a verdict for a key found by kid.
  JwtVerifyParams guarded;
  guarded.authorize = [](const std::string&) {
    return absl::PermissionDeniedError("no");
  };
  v = Verify(token->token, guarded);
  EXPECT_EQ(v.failure, static_cast<int>(jose::TokenFailure::kKeyNotFound));
}

TEST_F(JwtRulesTest, RevokedRecordsAreReported) {
  Create("otp", KeyType::kEd25519);
  JwtSignParams params;
  params.key_id = "otp";
  params.record = TokenRecordSpec{"txn-1", {}, false, absl::Hours(1)};
  params.issued_by = "unix:uid:0";
  auto token = SignJwt(*ks_, params);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(token->recorded);
  EXPECT_TRUE(Verify(token->token).valid);
  ASSERT_TRUE(ks_->RevokeToken(token->jti, "lost phone", "unix:uid:0").ok());
  JwtVerdict v = Verify(token->token);
  EXPECT_EQ(v.failure, kRevokedFailure);
  EXPECT_THAT(v.detail, HasSubstr("lost phone"));
}

TEST_F(JwtRulesTest, OtherPurposesHaveNoJwsAlgorithm) {
  CreateKeyParams params;
  params.id = "raw";
  params.type = KeyType::kEd25519;
  params.purpose = KeyPurpose::kSignVerify;
  auto key = ks_->CreateKey(params);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(JwsAlgorithmOf(*key).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Sign("raw", "{}").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace keyward::keystore
