// End-to-end: JWT issuing and verification through the real daemon: the
// algorithm comes from the key, never from the token.
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "keyward/v1/crypto_service.grpc.pb.h"
#include "keyward/v1/jwt_service.grpc.pb.h"
#include "keyward/v1/key_service.grpc.pb.h"
#include "tests/daemon_process.h"

namespace keyward::testing {
namespace {

namespace pb = keyward::v1;
using ::testing::HasSubstr;

std::string B64(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = NewTempDir();
    std::string pass = dir + "/passphrase";
    std::ofstream(pass) << "jwt test\n";
    chmod(pass.c_str(), 0600);
    ASSERT_EQ(RunProcess({Runfile("daemon/keywardd"), "init", "--data-dir", dir,
                          "--passphrase-file", pass})
                  .exit_code,
              0);
    auto daemon = DaemonProcess::Start(dir, {"--data-dir", dir,
                                             "--passphrase-file", pass});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    jwt_ = pb::JwtService::NewStub(daemon_->NewChannel());
    keys_ = pb::KeyService::NewStub(daemon_->NewChannel());
    crypto_ = pb::CryptoService::NewStub(daemon_->NewChannel());
  }

  void CreateJwtKey(const std::string& id, pb::KeyType type) {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id(id);
    req.mutable_key()->set_key_type(type);
    req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWT);
    pb::CreateKeyResponse resp;
    grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  pb::SignJwtResponse Sign(const std::string& key, const std::string& claims,
                           int ttl_seconds = 90, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    pb::SignJwtRequest req;
    req.set_name("keys/" + key);
    req.set_claims_json(claims);
    req.mutable_ttl()->set_seconds(ttl_seconds);
    pb::SignJwtResponse resp;
    grpc::Status s = jwt_->SignJwt(&ctx, req, &resp);
    if (status) *status = s;
    else EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  pb::VerifyJwtResponse Verify(const std::string& token,
                               const std::string& audience = "",
                               int leeway = -1) {
    grpc::ClientContext ctx;
    pb::VerifyJwtRequest req;
    req.set_token(token);
    req.set_audience(audience);
    if (leeway >= 0) req.mutable_leeway()->set_seconds(leeway);
    pb::VerifyJwtResponse resp;
    grpc::Status s = jwt_->VerifyJwt(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<pb::JwtService::Stub> jwt_;
  std::unique_ptr<pb::KeyService::Stub> keys_;
  std::unique_ptr<pb::CryptoService::Stub> crypto_;
};

TEST_F(JwtTest, SignAndVerifyWithEveryKeyKind) {
  struct Case {
    std::string id;
    pb::KeyType type;
    std::string alg;
  } cases[] = {{"es256", pb::KEY_TYPE_ECDSA_P256, "ES256"},
               {"es384", pb::KEY_TYPE_ECDSA_P384, "ES384"},
               {"eddsa", pb::KEY_TYPE_ED25519, "EdDSA"},
               {"rs256", pb::KEY_TYPE_RSA_2048, "RS256"},
               {"hs256", pb::KEY_TYPE_HMAC_SHA256, "HS256"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    CreateJwtKey(c.id, c.type);
    pb::SignJwtResponse t = Sign(c.id, R"({"sub":"alice","aud":"api"})");
    ASSERT_FALSE(t.token().empty());
    EXPECT_EQ(t.key_version(), "keys/" + c.id + "/versions/1");
    EXPECT_EQ(t.expire_time().seconds() - t.issue_time().seconds(), 90);
    std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
    ASSERT_EQ(parts.size(), 3u);
    std::string header;
    ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header));
    EXPECT_THAT(header, HasSubstr("\"alg\":\"" + c.alg + "\""));
    EXPECT_THAT(header, HasSubstr("\"kid\":\"" + c.id + ":v1\""));

    pb::VerifyJwtResponse v = Verify(t.token(), "api");
    EXPECT_TRUE(v.valid()) << v.failure_detail();
    EXPECT_THAT(v.claims_json(), HasSubstr("\"sub\":\"alice\""));
    EXPECT_EQ(v.key_version(), "keys/" + c.id + "/versions/1");

    // Wrong audience; tampered payload.
    EXPECT_EQ(Verify(t.token(), "other").failure(), pb::JWT_FAILURE_AUDIENCE_MISMATCH);
    std::string forged = absl::StrCat(parts[0], ".",
                                      B64(R"({"sub":"mallory","aud":"api"})"), ".",
                                      parts[2]);
    pb::VerifyJwtResponse bad = Verify(forged, "api");
    EXPECT_FALSE(bad.valid());
    EXPECT_EQ(bad.failure(), pb::JWT_FAILURE_BAD_SIGNATURE);
  }
}

TEST_F(JwtTest, AttacksAreRefused) {
  CreateJwtKey("rs", pb::KEY_TYPE_RSA_2048);
  pb::SignJwtResponse t = Sign("rs", R"({"sub":"alice"})");
  std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
  const std::string payload = parts[1];

  // alg none, with the key's kid.
  std::string none = absl::StrCat(B64(R"({"alg":"none","kid":"rs:v1"})"), ".",
                                  payload, ".");
  pb::VerifyJwtResponse v = Verify(none);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_UNSUPPORTED_HEADER);

  // HS256 under the RSA key's kid (the classic confusion): refused because
  // the algorithm comes from the key.
  std::string hs = absl::StrCat(B64(R"({"alg":"HS256","kid":"rs:v1"})"), ".",
                                payload, ".", B64("any-mac-at-all-32-bytes-long...."));
  v = Verify(hs);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_ALGORITHM_MISMATCH);

  // An embedded jwk header.
  std::string jwk = absl::StrCat(
      B64(R"({"alg":"RS256","kid":"rs:v1","jwk":{"kty":"oct","k":"AAAA"}})"),
      ".", payload, ".", parts[2]);
  EXPECT_EQ(Verify(jwk).failure(), pb::JWT_FAILURE_UNSUPPORTED_HEADER);

  // Unknown kid.
  std::string unknown = absl::StrCat(B64(R"({"alg":"RS256","kid":"nope:v1"})"),
                                     ".", payload, ".", parts[2]);
  EXPECT_EQ(Verify(unknown).failure(), pb::JWT_FAILURE_KEY_NOT_FOUND);

  // Duplicate member names.
  std::string dup = absl::StrCat(
      B64(R"({"alg":"RS256","kid":"rs:v1","kid":"rs:v1"})"), ".", payload, ".",
      parts[2]);
  EXPECT_EQ(Verify(dup).failure(), pb::JWT_FAILURE_MALFORMED);

  // Garbage.
  EXPECT_EQ(Verify("not.a.token!").failure(), pb::JWT_FAILURE_MALFORMED);
}

TEST_F(JwtTest, EcdsaSignatureOfZerosIsRefused) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  pb::SignJwtResponse t = Sign("es", R"({"sub":"alice"})");
  std::vector<std::string> parts = absl::StrSplit(t.token(), '.');
  std::string zeros = absl::StrCat(parts[0], ".", parts[1], ".",
                                   B64(std::string(64, '\0')));
  pb::VerifyJwtResponse v = Verify(zeros);
  EXPECT_FALSE(v.valid());
  EXPECT_EQ(v.failure(), pb::JWT_FAILURE_BAD_SIGNATURE);
}

TEST_F(JwtTest, ExpiryRotationAndSeparationFromRawSigning) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  pb::SignJwtResponse old = Sign("es", R"({"sub":"alice"})");
  pb::SignJwtResponse short_lived = Sign("es", R"({"sub":"bob"})", 1);
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/es");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Sign("es", "{}").key_version(), "keys/es/versions/2");
  EXPECT_TRUE(Verify(old.token()).valid()) << "tokens in flight keep verifying";

  absl::SleepFor(absl::Milliseconds(2100));
  pb::VerifyJwtResponse expired = Verify(short_lived.token(), "", 0);
  EXPECT_FALSE(expired.valid());
  EXPECT_EQ(expired.failure(), pb::JWT_FAILURE_EXPIRED);

  // A JWT key does not sign raw data, and a raw signing key does not sign
  // JWTs.
  grpc::ClientContext sctx;
  pb::SignRequest sreq;
  sreq.set_name("keys/es");
  sreq.set_data("header.payload");
  pb::SignResponse sresp;
  EXPECT_EQ(crypto_->Sign(&sctx, sreq, &sresp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  {
    grpc::ClientContext ctx;
    pb::CreateKeyRequest req;
    req.set_key_id("raw");
    req.mutable_key()->set_key_type(pb::KEY_TYPE_ED25519);
    pb::CreateKeyResponse resp;
    ASSERT_TRUE(keys_->CreateKey(&ctx, req, &resp).ok());
  }
  grpc::Status s;
  Sign("raw", "{}", 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Sign("es", "[1,2]", 60, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(JwtTest, JweRoundTripsForEveryKeyKind) {
  struct Case {
    std::string id;
    pb::KeyType type;
    pb::JweAlgorithm alg;
    pb::JweEncryption enc;
  } cases[] = {
      {"jwe-rsa", pb::KEY_TYPE_RSA_2048, pb::JWE_ALGORITHM_RSA_OAEP_256,
       pb::JWE_ENCRYPTION_A256GCM},
      {"jwe-rsa1", pb::KEY_TYPE_RSA_2048, pb::JWE_ALGORITHM_RSA_OAEP,
       pb::JWE_ENCRYPTION_A128CBC_HS256},
      {"jwe-ecdh", pb::KEY_TYPE_ECDH_P256, pb::JWE_ALGORITHM_ECDH_ES_A256KW,
       pb::JWE_ENCRYPTION_A256CBC_HS512},
      {"jwe-ecdh-direct", pb::KEY_TYPE_ECDH_P256, pb::JWE_ALGORITHM_ECDH_ES,
       pb::JWE_ENCRYPTION_A128GCM},
      {"jwe-aes", pb::KEY_TYPE_AES256_GCM, pb::JWE_ALGORITHM_A256GCMKW,
       pb::JWE_ENCRYPTION_A256GCM},
      {"jwe-dir", pb::KEY_TYPE_AES256_GCM, pb::JWE_ALGORITHM_DIR,
       pb::JWE_ENCRYPTION_A256GCM},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.id);
    {
      grpc::ClientContext ctx;
      pb::CreateKeyRequest req;
      req.set_key_id(c.id);
      req.mutable_key()->set_key_type(c.type);
      req.mutable_key()->set_purpose(pb::KEY_PURPOSE_JWE);
      pb::CreateKeyResponse resp;
      grpc::Status s = keys_->CreateKey(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    pb::EncryptJweResponse enc;
    {
      grpc::ClientContext ctx;
      pb::EncryptJweRequest req;
      req.set_name("keys/" + c.id);
      req.set_algorithm(c.alg);
      req.set_encryption(c.enc);
      req.set_payload("card 4111 1111 1111 1111");
      grpc::Status s = jwt_->EncryptJwe(&ctx, req, &enc);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    EXPECT_EQ(std::count(enc.token().begin(), enc.token().end(), '.'), 4);
    EXPECT_EQ(enc.token().find("4111"), std::string::npos);
    auto decrypt = [&](const std::string& token, pb::DecryptJweResponse* out) {
      grpc::ClientContext ctx;
      pb::DecryptJweRequest req;
      req.set_token(token);
      return jwt_->DecryptJwe(&ctx, req, out);
    };
    pb::DecryptJweResponse dec;
    grpc::Status s = decrypt(enc.token(), &dec);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(dec.payload(), "card 4111 1111 1111 1111");
    EXPECT_EQ(dec.key_version(), "keys/" + c.id + "/versions/1");
    // Alter the ciphertext part.
    std::vector<std::string> parts = absl::StrSplit(enc.token(), '.');
    parts[3][parts[3].size() / 2] = parts[3][parts[3].size() / 2] == 'A' ? 'B' : 'A';
    EXPECT_EQ(decrypt(absl::StrJoin(parts, "."), &dec).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // An algorithm the key does not offer.
  grpc::ClientContext ctx;
  pb::EncryptJweRequest req;
  req.set_name("keys/jwe-rsa");
  req.set_algorithm(pb::JWE_ALGORITHM_DIR);
  req.set_payload("x");
  pb::EncryptJweResponse resp;
  EXPECT_EQ(jwt_->EncryptJwe(&ctx, req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(JwtTest, JwksListsEveryEnabledVersion) {
  CreateJwtKey("es", pb::KEY_TYPE_ECDSA_P256);
  CreateJwtKey("ed", pb::KEY_TYPE_ED25519);
  {
    grpc::ClientContext ctx;
    pb::RotateKeyRequest req;
    req.set_name("keys/es");
    pb::RotateKeyResponse resp;
    ASSERT_TRUE(keys_->RotateKey(&ctx, req, &resp).ok());
  }
  grpc::ClientContext ctx;
  pb::GetJwksRequest req;
  req.add_names("keys/es");
  req.add_names("keys/ed");
  pb::GetJwksResponse resp;
  grpc::Status s = jwt_->GetJwks(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"es:v1\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"es:v2\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"kid\":\"ed:v1\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"alg\":\"ES256\""));
  EXPECT_THAT(resp.jwks_json(), HasSubstr("\"alg\":\"EdDSA\""));
  EXPECT_THAT(resp.jwks_json(), ::testing::Not(HasSubstr("\"d\"")));

  CreateJwtKey("hs", pb::KEY_TYPE_HMAC_SHA256);
  grpc::ClientContext hctx;
  pb::GetJwksRequest hreq;
  hreq.add_names("keys/hs");
  EXPECT_EQ(jwt_->GetJwks(&hctx, hreq, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace keyward::testing
